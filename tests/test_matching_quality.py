"""Quality gate: precision and recall per topic on the labelled dev set, and the seed story."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from crawler.matching import Document, Matcher, load_matcher
from crawler.matching.evaluate import load_labelled, run_eval

REPO = Path(__file__).resolve().parents[1]
LABELLED = REPO / "tests" / "fixtures" / "labelled"
DEV = LABELLED / "dev.jsonl"
FLOORS = LABELLED / "floors.toml"
SEED = REPO.parent / "shared" / "seed" / "000_86de4751534dedde.txt"
MIN_PRECISION = 0.95
MIN_RECALL = 0.90


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_matcher()


@pytest.fixture(scope="module")
def floors() -> dict[str, dict[str, float]]:
    data: dict[str, dict[str, float]] = tomllib.loads(FLOORS.read_text(encoding="utf-8"))
    data.pop("incidents", None)  # incident linking's floors: tests/test_incidents_quality.py
    return data


def test_floors_cover_every_topic_and_never_drop_below_the_minimum(
    matcher: Matcher, floors: dict[str, dict[str, float]]
) -> None:
    assert set(floors) == set(matcher.topics)
    for topic, floor in floors.items():
        assert floor["precision"] >= MIN_PRECISION, topic
        assert floor["recall"] >= MIN_RECALL, topic


@pytest.mark.skipif(not DEV.exists(), reason=f"labelled dev set not found at {DEV}")
def test_dev_set_precision_and_recall(
    matcher: Matcher, floors: dict[str, dict[str, float]]
) -> None:
    report = run_eval(matcher, load_labelled(DEV))
    assert report.errors == {}
    problems = []
    for topic, score in report.topics.items():
        floor = floors[topic]
        if score.precision < floor["precision"] or score.recall < floor["recall"]:
            problems.append(
                f"{topic}: precision {score.precision:.3f} (floor {floor['precision']}), "
                f"recall {score.recall:.3f} (floor {floor['recall']}); "
                f"false positives {score.false_positives}, false negatives {score.false_negatives}"
            )
    assert problems == []


@pytest.mark.skipif(not SEED.exists(), reason=f"seed story not found at {SEED}")
def test_seed_story_matches_both_topics(matcher: Matcher) -> None:
    results = matcher.match(Document("", SEED.read_text(encoding="utf-8")))
    assert {r.topic for r in results} == {"courthouse_arrest", "sanctuary_dispute"}
    for r in results:
        assert r.rules and r.snippet and r.spans
        assert "ICE" in r.entities["agency"] and "NYPD" in r.entities["agency"]
