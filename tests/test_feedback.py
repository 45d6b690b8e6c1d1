"""The feedback loop end to end on real parts: the match and store stages keep near misses as
possible matches, promote sends an alert exactly once, a missed report is fetched through the
network guard and becomes a false negative in the export's eval and in `eval --reviewed`,
and `rematch --dry-run` lists changes without writing (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner, Result
from slack_standin import TOKEN, SlackStandin
from sqlalchemy import func, select

from alerts.dispatcher import Dispatcher
from alerts.slack import SlackBotSender
from crawler.cli import main
from crawler.config import Settings
from crawler.extract import Extracted, extract_html
from crawler.items import ArticleItem
from crawler.matching import Document, load_matcher, near_matches
from crawler.pipelines.match import MatchPipeline
from crawler.pipelines.store import StorePipeline
from crawler.runtime import CrawlContext
from crawler.sample_site.server import SampleSite
from crawler.sources import SourceConfig
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import Alert, Match, Review

NEAR_MISS = "manhattan-judge-confronts-agents"  # matches courthouse_arrest, nearly sanctuary
FLAT_STORY = {
    "slug": "sheriff-ends-detainer-holds",
    "title": "County jail changes how it answers federal requests",
    "section": "politics",
    "summary": "The jail will hold people for federal authorities only with a judge's order.",
    "age_hours": 2.0,
    "body": (
        "The county sheriff said on Monday that the jail will no longer keep people past their "
        "release date when federal authorities ask, unless a judge has signed an order.\n\n"
        "The change follows a review by county lawyers. The sheriff said the office would keep "
        "answering other requests as before, and that deputies had been told of the change.\n\n"
        "Several council members welcomed the decision at a meeting on Monday evening."
    ),
}


@pytest.fixture(scope="module")
def site() -> Iterator[SampleSite]:
    with SampleSite() as server:
        server.add_article(FLAT_STORY)
        yield server


def _page(site: SampleSite, slug: str) -> tuple[str, bytes]:
    url = next(a.url for a in site.articles() if a.slug == slug)
    with urllib.request.urlopen(url, timeout=10) as response:
        return url, response.read()


def _config(tmp_path: Path, db_url: str, extra: str = "", name: str = "newswatch") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n{extra}', encoding="utf-8")
    return path


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Run `newswatch --config CONFIG …`; returns a function(config, *args, code=0)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("NEWSWATCH_REVIEWER", raising=False)

    def run(config: Path, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        assert result.exit_code == code, result.output + str(result.exception)
        return result

    return run


def _crawl_one(db: Database, settings: Settings, url: str, body: bytes) -> ArticleItem:
    """The real match and store stages on one page, with a crawl context and no Scrapy engine."""
    source = SourceConfig(name="sample", kind="feed", urls=[url])
    with db.session() as s:
        row = repo.upsert_source(s, source)
        run = repo.create_run(s, row.id, trigger="test", pid=None)
        source_id, run_id = row.id, run.id
    ctx = CrawlContext(settings, source, db, source_id, run_id, first_crawl=False)
    crawler = SimpleNamespace(newswatch=ctx)
    extracted = extract_html(body, url)
    assert isinstance(extracted, Extracted)
    item = ArticleItem(url, url, body, "utf-8", "text/html", 200, "feed")
    item.canonical_url, item.status, item.extracted = url, "extracted", extracted
    item = MatchPipeline(crawler).process_item(item)  # type: ignore[arg-type]
    return StorePipeline(crawler).process_item(item)  # type: ignore[arg-type]


def test_near_misses_need_a_fired_rule_and_the_share() -> None:
    matcher = load_matcher()
    results = matcher.evaluate(Document("Weekend forecast", "Sunny and mild on Saturday."))
    assert near_matches(results, 0.01) == []  # nothing fired: never possible, whatever the share
    doc = Document(
        "Agents arrest man at courthouse",
        "ICE agents arrested a man at the county courthouse after his hearing on Tuesday.",
    )
    fired = [r for r in matcher.evaluate(doc) if r.rules]
    assert fired
    for r in fired:
        assert (r in near_matches(fired, 0.5)) == (not r.matched and r.score >= 0.5 * r.threshold)


def test_possible_match_is_stored_listed_promoted_and_alerted_once(
    site: SampleSite, sqlite_url: str, tmp_path: Path, cli: Any, slack_standin: SlackStandin
) -> None:
    url, body = _page(site, NEAR_MISS)
    db = Database(sqlite_url)
    try:
        settings = Settings.model_validate({"slack": {"api_url": slack_standin.api_url}})
        item = _crawl_one(db, settings, url, body)
        assert [r.topic for r in item.matches] == ["courthouse_arrest"]
        with db.session() as s:
            states = {m.topic: (m.state, m.id) for m in s.scalars(select(Match))}
            alert_topics = [a.topic for a in s.scalars(select(Alert))]
        assert states["courthouse_arrest"][0] == "matched"
        assert states["sanctuary_dispute"][0] == "possible"
        assert alert_topics == ["courthouse_arrest"]  # the possible one is never alerted
        possible_id = states["sanctuary_dispute"][1]

        config = _config(tmp_path, sqlite_url)
        listed = cli(config, "matches", "--possible", "--format", "jsonl").stdout
        assert [json.loads(x)["id"] for x in listed.splitlines()] == [possible_id]
        default = cli(config, "matches", "--format", "jsonl").stdout
        assert possible_id not in [json.loads(x)["id"] for x in default.splitlines()]

        sender = SlackBotSender(TOKEN, api_url=slack_standin.api_url, timeout=5)
        dispatcher = Dispatcher(db, settings, sender=sender, sleep=lambda _s: None)
        dispatcher.run_until_idle()
        assert len(slack_standin.posted) == 1  # the matched topic's alert
        out = cli(config, "matches", "promote", str(possible_id), "--alert", "--by", "rita").stdout
        assert f"match {possible_id} promoted" in out and "pending" in out
        cli(config, "matches", "promote", str(possible_id), "--alert", "--by", "rita")
        dispatcher.run_until_idle()
        dispatcher.run_until_idle()
        first, promoted = slack_standin.posted  # the promoted alert, exactly once
        assert first.ts != promoted.ts and first.everything != promoted.everything
        with db.session() as s:
            match = s.get(Match, possible_id)
            assert match is not None
            assert (match.state, match.review_status, match.reviewed_by) == (
                "matched", "relevant", "rita",
            )  # fmt: skip
            rows = s.scalars(select(Alert).where(Alert.match_id == possible_id)).all()
            assert [r.status for r in rows] == ["sent"]
    finally:
        db.dispose()


def test_dismiss_keeps_a_possible_match_as_a_hard_negative(
    site: SampleSite, sqlite_url: str, tmp_path: Path, cli: Any
) -> None:
    url, body = _page(site, NEAR_MISS)
    db = Database(sqlite_url)
    try:
        _crawl_one(db, Settings(), url, body)
        with db.session() as s:
            possible_id = s.scalars(select(Match.id).where(Match.state == "possible")).one()
    finally:
        db.dispose()
    config = _config(tmp_path, sqlite_url)
    cli(config, "matches", "dismiss", str(possible_id), "--by", "rita", "--note", "not a dispute")
    export = cli(config, "matches", "export", "--labelled").stdout
    [record] = [json.loads(x) for x in export.splitlines()]
    assert record["url"] == url and record["labels"] == []
    db = Database(sqlite_url)
    try:
        with db.session() as s:
            match = s.get(Match, possible_id)
            assert match is not None and (match.state, match.review_status) == (
                "possible", "irrelevant",
            )  # fmt: skip
            assert s.scalar(select(func.count(Alert.id)).where(Alert.match_id == possible_id)) == 0
    finally:
        db.dispose()


def test_missed_report_is_guarded_explained_exported_and_counted(
    site: SampleSite, sqlite_url: str, tmp_path: Path, cli: Any
) -> None:
    url = next(a.url for a in site.articles() if a.slug == FLAT_STORY["slug"])
    config = _config(tmp_path, sqlite_url)
    cli(config, "missed", url, "--topic", "sanctuary_dispute", code=3)  # no database yet
    cli(config, "db", "upgrade")
    blocked = cli(config, "missed", url, "--topic", "sanctuary_dispute", code=1)
    assert "non-public address" in blocked.output
    out = cli(
        config, "missed", url, "--topic", "sanctuary_dispute", "--note", "flat statement",
        "--by", "rita", "--allow-private-host", "127.0.0.1",
    ).stdout  # fmt: skip
    assert "reported miss" in out and "fetched and stored" in out
    assert "do not match it" in out and "absent groups" in out
    report = json.loads(
        cli(
            config, "missed", url, "--topic", "sanctuary_dispute", "--json",
            "--allow-private-host", "127.0.0.1",
        ).stdout
    )  # fmt: skip
    assert report["reused_article"] and report["previous_state"] == "missed"
    assert report["rules"] and any(r["missing_groups"] for r in report["rules"])

    db = Database(sqlite_url)
    try:
        with db.session() as s:
            [match] = s.scalars(select(Match)).all()
            assert (match.state, match.review_status, match.topic) == (
                "missed", "relevant", "sanctuary_dispute",
            )  # fmt: skip
            assert s.scalar(select(func.count(Review.id))) == 2
            assert s.scalar(select(func.count(Alert.id))) == 0
    finally:
        db.dispose()

    export = tmp_path / "labelled.jsonl"
    cli(config, "matches", "export", "--labelled", "-o", str(export))
    [record] = [json.loads(x) for x in export.read_text().splitlines()]
    assert record["labels"] == ["sanctuary_dispute"]
    scored = json.loads(cli(config, "eval", str(export), "--json").stdout)
    assert scored["topics"]["sanctuary_dispute"]["fn"] == 1
    assert scored["topics"]["sanctuary_dispute"]["tp"] == 0

    reviewed = json.loads(cli(config, "eval", "--reviewed", "--json").stdout)
    assert reviewed["topics"]["sanctuary_dispute"]["fn"] == 1
    [failing] = reviewed["failing"]
    assert reviewed["by_language"][failing["lang"]]["sanctuary_dispute"]["fn"] == 1
    assert (failing["kind"], failing["state"], failing["url"]) == ("false_negative", "missed", url)
    text = cli(config, "eval", "--reviewed").stdout
    assert "FAIL missed" in text and FLAT_STORY["title"] in text


def test_missed_refuses_unknown_topics(sqlite_url: str, tmp_path: Path, cli: Any) -> None:
    config = _config(tmp_path, sqlite_url)
    out = cli(config, "missed", "https://news.example/a", "--topic", "nope", code=2).output
    assert "unknown topic 'nope'" in out


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_rematch_dry_run_and_eval_reviewed_on_both_backends(
    backend: str, site: SampleSite, tmp_path: Path, cli: Any, request: pytest.FixtureRequest
) -> None:
    db_url = (
        f"sqlite:///{tmp_path / 'nw.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    url, body = _page(site, NEAR_MISS)
    db = Database(db_url)
    try:
        _crawl_one(db, Settings(), url, body)
        with db.session() as s:
            matched_id = s.scalars(select(Match.id).where(Match.state == "matched")).one()
        config = _config(tmp_path, db_url)
        cli(config, "matches", "label", str(matched_id), "relevant", "--by", "rita")
        # Raising the threshold past the stored score: the match would go, a review now fails.
        strict = _config(
            tmp_path, db_url, "[matching]\nthresholds = { courthouse_arrest = 4.5 }\n", "strict"
        )
        out = cli(strict, "rematch", "--dry-run").stdout
        assert "- courthouse_arrest" in out and "[relevant]" in out
        assert "would add 0 matches, 1 stored matches would no longer fire; nothing written" in out
        lenient = _config(
            tmp_path, db_url, "[matching]\nthresholds = { sanctuary_dispute = 0.5 }\n", "lenient"
        )
        assert "+ sanctuary_dispute" in cli(lenient, "rematch", "--dry-run").stdout
        with db.session() as s:
            states = sorted(s.scalars(select(Match.state)))
        assert states == ["matched", "possible"]  # the dry runs wrote nothing
        reviewed = json.loads(cli(strict, "eval", "--reviewed", "--json").stdout)
        assert reviewed["topics"]["courthouse_arrest"]["fn"] == 1
        assert reviewed["failing"][0]["match_id"] == matched_id
        ok = json.loads(cli(config, "eval", "--reviewed", "--json").stdout)
        assert ok["topics"]["courthouse_arrest"]["tp"] == 1 and ok["failing"] == []
    finally:
        db.dispose()


def test_sources_mute_suppresses_pending_and_new_alerts(
    site: SampleSite, sqlite_url: str, tmp_path: Path, cli: Any
) -> None:
    url, body = _page(site, NEAR_MISS)
    db = Database(sqlite_url)
    try:
        _crawl_one(db, Settings(), url, body)
        with db.session() as s:
            assert [a.status for a in s.scalars(select(Alert))] == ["pending"]
    finally:
        db.dispose()
    config = _config(tmp_path, sqlite_url)
    cli(config, "sources", "mute", "nope", code=1)
    out = cli(config, "sources", "mute", "sample", "--days", "2", "--by", "rita").stdout
    assert "source sample muted until" in out
    db = Database(sqlite_url)
    try:
        with db.session() as s:
            [alert] = s.scalars(select(Alert)).all()
            assert alert.status == "suppressed" and "muted by rita" in (alert.last_error or "")
        _, other = _page(site, "queens-court-hallway-arrest")
        _crawl_one(db, Settings(), url.replace(NEAR_MISS, "another-copy"), other)
        with db.session() as s:
            statuses = sorted(a.status for a in s.scalars(select(Alert)))
        assert statuses == ["suppressed", "suppressed"]
    finally:
        db.dispose()
