"""Quality gate: precision and recall per labelled set, topic and language, and the seed story."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from crawler.matching import Document, Matcher, load_matcher
from crawler.matching.evaluate import TopicScore, breakdown, load_labelled, run_eval

REPO = Path(__file__).resolve().parents[1]
LABELLED = REPO / "tests" / "fixtures" / "labelled"
FLOORS = LABELLED / "floors.toml"
SEED = REPO.parent / "shared" / "seed" / "000_86de4751534dedde.txt"
LANGS = ("en", "es")
# The least any floor of a set may say (the issues' targets); floors themselves only go up.
MINIMUMS: dict[str, tuple[float, float]] = {"dev": (0.95, 0.90), "realistic": (0.95, 0.92)}

_FLOORS: dict[str, Any] = tomllib.loads(FLOORS.read_text(encoding="utf-8"))
_FLOORS.pop("incidents", None)  # incident linking's floors: tests/test_incidents_quality.py
SETS = sorted(_FLOORS)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_matcher()


def _floor_rows(name: str) -> list[tuple[str, str | None, float, float]]:
    """(topic, language or None for the whole set, precision floor, recall floor)."""
    rows = []
    for topic, table in _FLOORS[name].items():
        rows.append((topic, None, table["precision"], table["recall"]))
        rows.extend(
            (topic, lang, table[lang]["precision"], table[lang]["recall"])
            for lang in LANGS
            if lang in table
        )
    return rows


def test_every_labelled_set_has_floors_for_every_topic_and_language(matcher: Matcher) -> None:
    # incidents*.jsonl are scored by tests/test_incidents_quality.py (floors.toml [incidents])
    on_disk = {p.stem for p in LABELLED.glob("*.jsonl") if not p.stem.startswith("incidents")}
    assert on_disk <= set(SETS), f"labelled sets without floors: {sorted(on_disk - set(SETS))}"
    for name in SETS:
        assert set(_FLOORS[name]) == set(matcher.topics), name
        for topic, table in _FLOORS[name].items():
            assert set(table) == {"precision", "recall", *LANGS}, (name, topic)
        low_p, low_r = MINIMUMS.get(name, (0.0, 0.0))
        for topic, lang, precision, recall in _floor_rows(name):
            assert 0 <= precision <= 1 and 0 <= recall <= 1, (name, topic, lang)
            assert precision >= low_p and recall >= low_r, (name, topic, lang)


def _problem(where: str, score: TopicScore, precision: float, recall: float) -> str | None:
    if score.precision >= precision and score.recall >= recall:
        return None
    return (
        f"{where}: precision {score.precision:.3f} (floor {precision}), recall "
        f"{score.recall:.3f} (floor {recall}); false positives {score.false_positives}, "
        f"false negatives {score.false_negatives}"
    )


@pytest.mark.parametrize("name", SETS)
def test_labelled_set_meets_its_floors(matcher: Matcher, name: str) -> None:
    path = LABELLED / f"{name}.jsonl"
    if not path.exists():
        pytest.skip(f"labelled set not found at {path}")
    items = load_labelled(path)
    report = run_eval(matcher, items)
    assert report.errors == {}
    by_lang = breakdown(report, items, "lang")
    assert set(by_lang) <= set(LANGS), f"items with no or another language: {set(by_lang)}"
    problems = []
    for topic, lang, precision, recall in _floor_rows(name):
        score = report.topics[topic] if lang is None else by_lang.get(lang, {}).get(topic)
        if score is None:
            continue
        problem = _problem(f"{name} {topic} {lang or 'all'}", score, precision, recall)
        if problem:
            problems.append(problem)
    assert problems == []


@pytest.mark.skipif(not SEED.exists(), reason=f"seed story not found at {SEED}")
def test_seed_story_matches_both_topics(matcher: Matcher) -> None:
    results = matcher.match(Document("", SEED.read_text(encoding="utf-8")))
    assert {r.topic for r in results} == {"courthouse_arrest", "sanctuary_dispute"}
    for r in results:
        assert r.rules and r.snippet and r.spans
        assert "ICE" in r.entities["agency"] and "NYPD" in r.entities["agency"]
