"""A failure on our side never makes a page count as seen (issue 17 item 1).

The real pipeline stages run in order on a real sample-site article, with a real worker pool
and a real SQLite file; each internal failure kind is caused for one pass, and once the cause
is gone the next crawl's pass processes the article and queues its alert exactly once.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from sqlalchemy import func, select

from crawler.config import Settings, load_settings
from crawler.items import ArticleItem
from crawler.matching.rematch import rematch_articles
from crawler.pipelines import extract as extract_stage
from crawler.pipelines import store as store_stage
from crawler.pipelines import workers as worker_tasks
from crawler.pipelines.canonicalize import CanonicalizePipeline
from crawler.pipelines.cluster import ClusterPipeline
from crawler.pipelines.dedup import DedupPipeline
from crawler.pipelines.extract import ExtractPipeline
from crawler.pipelines.match import MatchPipeline
from crawler.pipelines.pagekind import PageKindPipeline
from crawler.pipelines.prefilter import PrefilterPipeline
from crawler.pipelines.store import StorePipeline
from crawler.runtime import CrawlContext
from crawler.sample_site.server import SampleSite
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import Alert, Article, Match

STAGES = (
    CanonicalizePipeline,
    DedupPipeline,
    PrefilterPipeline,
    PageKindPipeline,
    ExtractPipeline,
    MatchPipeline,
    ClusterPipeline,
    StorePipeline,
)


def die(*_args: Any) -> Any:
    """A worker task whose process dies (as an OOM kill or a segfault would)."""
    os._exit(3)


def hang(*_args: Any) -> Any:
    """A worker task that never finishes in time (a pathological page)."""
    time.sleep(60)


class BrokenMatcher:
    """A matcher that raises (a bug in a rule or a pack)."""

    def match(self, _doc: Any) -> Any:
        raise RuntimeError("rule 'x' has no terms")

    def evaluate(self, _doc: Any) -> Any:  # the match stage scores every topic (possible ones)
        raise RuntimeError("rule 'x' has no terms")


@pytest.fixture(scope="module")
def page() -> Iterator[tuple[str, bytes]]:
    """A sample-site article that matches a topic, and its HTML."""
    with SampleSite() as site:
        article = next(a for a in site.articles() if a.expected_topics)
        body = urllib.request.urlopen(article.url, timeout=10).read()
        yield article.url, body


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    config = tmp_path / "newswatch.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "nw.db"}"
[crawl]
extract_workers = 1
extract_timeout = 2
[alerts]
alert_first_crawl = true
[[sources]]
name = "paper"
urls = ["http://127.0.0.1:9/feed.xml"]
""",
        encoding="utf-8",
    )
    return load_settings(config)


class Crawl:
    """One crawl's pipeline (fresh stages and run, as a new crawl process has)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        source = settings.sources[0]
        with db.session() as session:
            row = repo.upsert_source(session, source)
            run = repo.create_run(session, row.id, trigger="manual", pid=None)
            ids = row.id, run.id
        self.ctx = CrawlContext(settings, source, db, ids[0], ids[1], first_crawl=False)
        crawler = SimpleNamespace(newswatch=self.ctx)
        self.stages = [cls(crawler) for cls in STAGES]  # type: ignore[arg-type]

    async def _run(self, item: ArticleItem) -> ArticleItem | None:
        for stage in self.stages:
            if hasattr(stage, "open_spider"):
                stage.open_spider()
        try:
            for stage in self.stages:
                result = stage.process_item(item)
                item = await result if inspect.isawaitable(result) else result
        except DropItem:
            return None
        finally:
            for stage in self.stages:
                if hasattr(stage, "close_spider"):
                    stage.close_spider()
        return item

    def process(self, url: str, body: bytes) -> ArticleItem | None:
        """Run a fetched page through every stage; None when a stage dropped it."""
        item = ArticleItem(
            url=url,
            request_url=url,
            body=body,
            encoding=None,
            content_type="text/html",
            http_status=200,
            discovered_via="feed",
        )
        return asyncio.run(self._run(item))


def stored(db: Database, url: str) -> tuple[Article, int, int]:
    """The article, its match count and its alert count (one per article per channel)."""
    with db.session() as session:
        article = repo.article_by_url(session, url)
        assert article is not None
        matches = session.scalar(select(func.count()).where(Match.article_id == article.id))
        alerts = session.scalar(select(func.count()).where(Alert.article_id == article.id))
        return article, int(matches or 0), int(alerts or 0)


def seen(db: Database, url: str) -> bool:
    with db.session() as session:
        return url in repo.seen_urls(session, [url])


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("worker_death", "extraction: worker process died"),
        ("timeout", "extraction: took longer than 2 s"),
        ("matcher", "matching: RuntimeError: rule 'x' has no terms"),
        ("store", "storing: RuntimeError: outbox unavailable"),
    ],
)
def test_each_internal_failure_is_retried_and_alerts_once(
    kind: str,
    reason: str,
    settings: Settings,
    page: tuple[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, body = page
    db = Database(settings.database_url)
    try:
        with monkeypatch.context() as patch:
            crawl = Crawl(settings, db)
            # Extraction runs in the prefilter's worker task and, where that task failed,
            # again in the extract stage's own: both die or hang.
            if kind == "worker_death":
                patch.setattr(extract_stage, "extract_to_dict", die)
                patch.setattr(worker_tasks, "extract_to_dict", die)
            elif kind == "timeout":
                patch.setattr(extract_stage, "extract_to_dict", hang)
                patch.setattr(worker_tasks, "extract_to_dict", hang)
            elif kind == "matcher":
                crawl.ctx._matcher = BrokenMatcher()
            else:

                def refuse(*_args: Any, **_kwargs: Any) -> None:
                    raise RuntimeError("outbox unavailable")

                patch.setattr(store_stage, "_enqueue_alerts", refuse)
            assert crawl.process(url, body) is not None
        article, matches, alerts = stored(db, url)
        assert (article.status, article.status_reason) == ("failed_internal", reason)
        assert article.attempts == 1 and (matches, alerts) == (0, 0)
        assert crawl.ctx.errors["internal"] == 1 and crawl.ctx.had_internal_failures
        assert not seen(db, url), "a page that failed on our side must not count as seen"

        # The cause is gone: the next crawl processes it, and alerts once.
        again = Crawl(settings, db)
        assert again.process(url, body) is not None
        article, matches, alerts = stored(db, url)
        assert article.status == "extracted" and article.status_reason is None
        assert article.attempts == 2 and matches >= 1 and alerts == 1
        assert seen(db, url) and not again.ctx.had_internal_failures

        # A later crawl that meets the page again changes nothing.
        assert Crawl(settings, db).process(url, body) is None
        assert stored(db, url)[1:] == (matches, alerts)
    finally:
        db.dispose()


def test_retries_are_bounded_then_the_failure_is_terminal(
    settings: Settings, page: tuple[str, bytes]
) -> None:
    url, body = page
    db = Database(settings.database_url)
    try:
        for attempt in range(1, repo.MAX_INTERNAL_ATTEMPTS + 1):
            crawl = Crawl(settings, db)
            crawl.ctx._matcher = BrokenMatcher()
            crawl.process(url, body)
            article, _, _ = stored(db, url)
            assert article.attempts == attempt
        assert article.status == "failed"
        assert article.status_reason == (
            f"gave up after {repo.MAX_INTERNAL_ATTEMPTS} attempts: "
            "matching: RuntimeError: rule 'x' has no terms"
        )
        assert seen(db, url), "a terminal failure is seen: no endless refetching"
    finally:
        db.dispose()


def test_rematch_processes_failed_internal_rows_from_raw_html(
    settings: Settings, page: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, body = page
    db = Database(settings.database_url)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(extract_stage, "extract_to_dict", die)
            patch.setattr(worker_tasks, "extract_to_dict", die)
            Crawl(settings, db).process(url, body)
        assert stored(db, url)[0].status == "failed_internal"
        stats = rematch_articles(db, settings)  # no --alert: these never had their chance
        article, matches, alerts = stored(db, url)
        assert stats.retried == 1 and article.status == "extracted" and article.attempts == 2
        assert matches >= 1 and alerts == 1
        rematch_articles(db, settings, alert=True)
        assert stored(db, url)[1:] == (matches, alerts)
    finally:
        db.dispose()


def test_migration_makes_old_worker_failures_retryable(db_url: str) -> None:
    """Rows a dead or stuck worker left as terminal `failed` before 0002 become retryable."""
    from alembic import command
    from sqlalchemy import text

    from crawler.storage.db import alembic_config, upgrade

    db = Database(db_url)
    try:
        command.downgrade(alembic_config(db_url), "0001")
        reasons = {
            "https://a.example/1": "extraction worker process died",
            "https://a.example/2": "extraction took longer than 20 s",
            "https://a.example/3": "extraction error: ValueError: bad markup",
        }
        with db.engine.begin() as conn:
            for i, (url, reason) in enumerate(reasons.items()):
                conn.execute(
                    text(
                        "INSERT INTO articles (url, url_hash, fetched_url, first_seen_at, "
                        "fetched_at, status, status_reason, revision_count) VALUES "
                        "(:url, :hash, :fetched, :now, :now, 'failed', :reason, 0)"
                    ),
                    {
                        "url": url,
                        "hash": f"h{i}",
                        "fetched": url,
                        "now": datetime(2026, 1, 1, tzinfo=UTC),
                        "reason": reason,
                    },
                )
        upgrade(db_url)
        with db.engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT url, status FROM articles")).all())
        assert rows == {
            "https://a.example/1": "failed_internal",
            "https://a.example/2": "failed_internal",
            "https://a.example/3": "failed",  # the page's own fault stays terminal
        }
    finally:
        db.dispose()
