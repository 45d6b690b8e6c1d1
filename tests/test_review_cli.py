"""`newswatch matches …` and `newswatch web` through click's CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from test_review_factory import XSS_TITLE, Sample

from crawler.cli import main
from crawler.storage.db import Database
from crawler.storage.models import Match, Review


@pytest.fixture
def cli(database: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Run `newswatch …` against the test database; returns a function(args) -> Result."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", database.url)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("NEWSWATCH_REVIEWER", raising=False)

    def run(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        return result

    return run


def ids(result: Result) -> list[int]:
    return [json.loads(line)["id"] for line in result.stdout.splitlines() if line.strip()]


def test_list_table_shows_newest_first(cli: Any, sample: Sample) -> None:
    out = cli("matches").stdout
    assert "Agents arrest man at county courthouse" in out
    assert XSS_TITLE in out  # printed as text, not interpreted as markup
    assert "6 matches" in out
    assert out.index("Courthouse arrest draws protest") < out.index("Ice storm closes courthouse")


def test_list_jsonl_has_every_field(cli: Any, sample: Sample) -> None:
    rows = [json.loads(x) for x in cli("matches", "--format", "jsonl").stdout.splitlines()]
    assert [r["id"] for r in rows][-1] == sample.m6
    first = next(r for r in rows if r["id"] == sample.m1)
    assert first["topic"] == "courthouse_arrests"
    assert first["score"] == pytest.approx(0.91)
    assert first["source"] == "metro-times"
    assert first["outlet"] == "Metro Times"
    assert first["url"].startswith("https://news.example/")
    assert first["snippet_marks"] == [[0, 12], [28, 37]]
    assert first["created_at"].endswith("+00:00")


def test_list_csv_has_a_header_and_rows(cli: Any, sample: Sample) -> None:
    out = cli("matches", "--format", "csv", "--topic", "sanctuary_policy").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {int(r["id"]) for r in rows} == {sample.m2, sample.m4}
    assert rows[0]["title"] == "Agents arrest man at county courthouse"
    assert "snippet_marks" not in rows[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--topic", "courthouse_arrests"), {"m1", "m3", "m5", "m6"}),
        (("--since", "24h"), {"m1", "m2"}),
        (("--since", "2d"), {"m1", "m2", "m5"}),
        (("--since", "14d", "--until", "2d"), {"m3", "m4"}),
        # publication time by default (a3 was published 12 days ago, found 10 days ago) ...
        (("--since", "11d", "--until", "2d"), {"m3"}),
        (("--since", "150m"), set()),  # a1 published 3 h ago, found 2 h ago
        # ... and found time when asked
        (("--by", "found", "--since", "11d", "--until", "2d"), {"m3", "m4"}),
        (("--by", "found", "--since", "150m"), {"m1", "m2"}),
        (("--language", "es"), {"m4"}),
        (("--source", "County Wire"), {"m3"}),  # the outlet's name works too
        (("--source", "county-wire"), {"m3"}),
        (("--status", "relevant"), {"m4"}),
        (("--status", "unreviewed"), {"m1", "m2", "m3", "m5"}),
        (("--min-score", "0.7"), {"m1", "m3", "m4"}),
        (("--search", "HENNEPIN"), {"m1", "m2"}),  # article text, any case
        (("--search", "protesters"), {"m3"}),  # title/text/snippet
        (("--search", "ordinance"), {"m4"}),  # title
        (("--search", "%"), set()),  # LIKE wildcards are literal
        (("--search", "_"), set()),
        (
            ("--topic", "courthouse_arrests", "--min-score", "0.5", "--since", "7d"),
            {"m1", "m3", "m5"},
        ),
    ],
)
def test_list_filters(cli: Any, sample: Sample, args: tuple[str, ...], expected: set[str]) -> None:
    result = cli("matches", "--format", "jsonl", *args)
    assert set(ids(result)) == {getattr(sample, name) for name in expected}


def test_list_limit_and_iso_dates(cli: Any, sample: Sample) -> None:
    assert len(ids(cli("matches", "--format", "jsonl", "--limit", "2"))) == 2
    assert ids(cli("matches", "--format", "jsonl", "--until", "2000-01-01")) == []
    assert len(ids(cli("matches", "--format", "jsonl", "--since", "2000-01-01T00:00:00"))) == 6


def test_list_rejects_a_bad_date(cli: Any, sample: Sample) -> None:
    result = cli("matches", "--since", "last tuesday", code=2)
    assert "is not a date" in result.stderr


def test_show_prints_article_explanation_entities_cluster_alerts(cli: Any, sample: Sample) -> None:
    out = cli("matches", "show", str(sample.m1)).stdout
    for text in (
        "Agents arrest man at county courthouse",
        "Metro Times",
        "https://news.example/",
        "ICE officers waited outside courtroom 4B.",  # snippet
        "ice agency",  # the rule in words (the test pack has no description for it)...
        "ice_agency",  # ...and its id in the details
        "keywords",  # score parts
        "Hennepin County courthouse",  # entities
        "Mary Moriarty",
        "Courthouse arrest draws protest",  # the cluster sibling
        "#newswatch: sent",  # the alert
        "1700000000.000100",
    ):
        assert text in out, text


def test_show_json(cli: Any, sample: Sample) -> None:
    data = json.loads(cli("matches", "show", str(sample.m1), "--format", "json").stdout)
    assert data["row"]["id"] == sample.m1
    assert data["cluster"][0]["id"] == sample.a2
    assert [m["topic"] for m in data["other_matches"]] == ["sanctuary_policy"]
    assert data["alerts"][0]["status"] == "sent"


def test_show_unknown_match_fails_cleanly(cli: Any, sample: Sample) -> None:
    result = cli("matches", "show", "99999", code=1)
    assert "no match with id 99999" in result.stderr


def test_label_records_a_review(cli: Any, sample: Sample, database: Database) -> None:
    out = cli(
        "matches", "label", str(sample.m3), "duplicate", "--note", "wire copy", "--by", "carol"
    )
    assert "labelled duplicate by carol" in out.stdout
    with database.session() as s:
        match = s.get(Match, sample.m3)
        assert match is not None
        assert (match.review_status, match.reviewed_by, match.review_note) == (
            "duplicate",
            "carol",
            "wire copy",
        )
        assert match.reviewed_at is not None
        reviews = s.query(Review).filter_by(match_id=sample.m3).all()
        assert [(r.label, r.reviewer, r.note) for r in reviews] == [
            ("duplicate", "carol", "wire copy")
        ]


def test_label_reviewer_comes_from_env_then_login(
    cli: Any, sample: Sample, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_REVIEWER", "dana")
    cli("matches", "label", str(sample.m1), "relevant")
    monkeypatch.delenv("NEWSWATCH_REVIEWER")
    monkeypatch.setattr("getpass.getuser", lambda: "erin")
    cli("matches", "label", str(sample.m1), "irrelevant")
    with database.session() as s:
        reviews = s.query(Review).filter_by(match_id=sample.m1).order_by(Review.id).all()
        assert [(r.label, r.reviewer) for r in reviews] == [
            ("relevant", "dana"),
            ("irrelevant", "erin"),
        ]
        assert s.get(Match, sample.m1).review_status == "irrelevant"  # type: ignore[union-attr]


def test_label_rejects_bad_label_and_unknown_match(cli: Any, sample: Sample) -> None:
    assert "Invalid value" in cli("matches", "label", str(sample.m1), "maybe", code=2).stderr
    assert "no match with id 4242" in cli("matches", "label", "4242", "relevant", code=1).stderr


def test_export_labelled_round_trip(cli: Any, sample: Sample, tmp_path: Path) -> None:
    cli("matches", "label", str(sample.m1), "relevant", "--by", "t")
    cli("matches", "label", f"match-{sample.m2}", "duplicate", "--by", "t")
    cli("matches", "label", str(sample.m5), "irrelevant", "--by", "t")
    target = tmp_path / "out" / "labelled.jsonl"
    result = cli("matches", "export", "--labelled", "-o", str(target))
    assert "exported 4 articles: 2 relevant and 2 irrelevant" in result.stderr
    assert "1 duplicate labels kept apart" in result.stderr
    records = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    by_id = {r["id"]: r for r in records}
    assert set(by_id) == {f"match-{m}" for m in (sample.m1, sample.m4, sample.m5, sample.m6)}
    a1 = by_id[f"match-{sample.m1}"]
    assert a1["labels"] == a1["reviewed_topics"] == ["courthouse_arrests"]
    assert a1["duplicate_topics"] == ["sanctuary_policy"]  # neither positive nor negative
    assert by_id[f"match-{sample.m4}"]["labels"] == ["sanctuary_policy"]
    assert by_id[f"match-{sample.m5}"]["labels"] == []  # a reviewed negative
    assert "Hennepin County courthouse" in a1["text"]
    # every exported id is one `matches show` accepts
    for ref in by_id:
        assert "Why it matched" in cli("matches", "show", ref).stdout
    from crawler.matching.evaluate import load_labelled

    loaded = {item.id: item for item in load_labelled(target)}
    assert {k: list(v.labels) for k, v in loaded.items()} == {
        k: r["labels"] for k, r in by_id.items()
    }
    assert loaded[f"match-{sample.m1}"].lang == "en"
    assert loaded[f"match-{sample.m1}"].reviewed_topics == ("courthouse_arrests",)


def test_eval_scores_only_the_reviewed_topics(cli: Any, database: Database, tmp_path: Path) -> None:
    """An irrelevant label on one topic must not make the article's other topic a false positive."""
    from test_review_factory import add_article, add_match

    text = (
        "Federal immigration agents arrested a man inside the county courthouse on Tuesday "
        "before his hearing, his lawyer said. ICE officers detained him in the hallway."
    )
    with database.session() as s:
        article = add_article(s, None, "ICE agents arrest man at courthouse", text=text)
        other = add_match(s, article, "no_such_topic_reviewed")
        ids_ = {"other": other.id}
    cli("matches", "label", str(ids_["other"]), "irrelevant", "--by", "t")
    target = tmp_path / "l.jsonl"
    cli("matches", "export", "--labelled", "-o", str(target))
    predicted = tmp_path / "p.jsonl"
    report = json.loads(cli("eval", str(target), "--json", "--predictions", str(predicted)).stdout)
    [prediction] = [json.loads(line) for line in predicted.read_text().splitlines()]
    assert prediction["labels"]  # the matcher does find a topic on it...
    for name, score in report["topics"].items():  # ...which nobody reviewed: not scored
        assert score["fp"] == 0, name
        assert score["tp"] + score["fn"] + score["tn"] == 0, name


def test_export_to_stdout_and_requires_labelled(cli: Any, sample: Sample) -> None:
    out = cli("matches", "export", "--labelled").stdout
    assert [json.loads(x)["labels"] for x in out.splitlines()] == [["sanctuary_policy"], []]
    assert "--labelled" in cli("matches", "export", code=2).stderr


def test_list_csv_is_formula_safe(cli: Any, database: Database) -> None:
    from test_review_factory import add_article, add_match

    with database.session() as s:
        add_match(s, add_article(s, None, '=HYPERLINK("http://evil.example")'), "t")
    out = cli("matches", "--format", "csv").stdout
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["title"].startswith("'=HYPERLINK(")


def test_list_table_never_cuts_titles_or_outlets(
    cli: Any, sample: Sample, monkeypatch: Any
) -> None:
    for width in ("80", "200"):
        monkeypatch.setenv("COLUMNS", width)
        out = cli("matches").stdout
        assert max(len(line) for line in out.splitlines()) <= int(width)
        flat = " ".join(" ".join(out.split("│")).split())
        for title in ("Agents arrest man at county courthouse", "City council debates sanctuary"):
            assert title in flat, (width, out)
        assert "County Wire" in flat and "Metro Times" in flat
        assert "no publication time: first seen" in out  # a2 has none


def test_every_command_has_help(cli: Any) -> None:
    for args in (
        ("matches",),
        ("matches", "show"),
        ("matches", "label"),
        ("matches", "export"),
        ("web",),
    ):
        out = cli(*args, "--help").stdout
        assert "Usage:" in out
        assert len(out.split("\n\n")[1].strip()) > 20, args


def test_web_refuses_a_public_address_without_login(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[Any] = []
    monkeypatch.setattr(
        "crawler.review.web.server.bind", lambda *a: lambda: served.append(a)
    )  # bind() listens; what it returns serves
    monkeypatch.delenv("NEWSWATCH_WEB_TOKEN", raising=False)
    monkeypatch.delenv("NEWSWATCH_WEB_PASSWORD", raising=False)
    result = cli("web", "--host", "0.0.0.0", code=2)
    assert "NEWSWATCH_WEB_TOKEN" in result.stderr and "NEWSWATCH_WEB_PASSWORD" in result.stderr
    assert served == []


@pytest.mark.parametrize("env", ["NEWSWATCH_WEB_TOKEN", "NEWSWATCH_WEB_PASSWORD"])
def test_web_serves_a_public_address_with_login(
    cli: Any, monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    served: list[Any] = []
    monkeypatch.setattr(
        "crawler.review.web.server.bind", lambda *a: lambda: served.append(a)
    )  # bind() listens; what it returns serves
    monkeypatch.setenv(env, "s3cret-value")
    out = cli("web", "--host", "0.0.0.0", "--port", "8099").stdout
    assert "http://0.0.0.0:8099/" in out and "token/password login" in out
    app, host, port = served[0]
    assert (host, port) == ("0.0.0.0", 8099)
    assert app.test_client().get("/").status_code == 401


def test_web_defaults_to_loopback_from_settings(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Any] = []
    monkeypatch.setattr(
        "crawler.review.web.server.bind", lambda *a: lambda: served.append(a)
    )  # bind() listens; what it returns serves
    out = cli("web").stdout
    assert "http://127.0.0.1:8080/" in out and "no login" in out
    app, host, port = served[0]
    assert (host, port) == ("127.0.0.1", 8080)
    assert app.test_client().get("/").status_code == 200
