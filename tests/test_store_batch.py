"""Pages that matched nothing are written in batches, and none is lost or doubled on the way.

The store stage (crawler.pipelines.store) queues such pages (crawler.pipelines.batch) and
writes them with one INSERT: when the batch is full, on a timer and when the crawl closes. A
URL stored meanwhile (a finished article, or a `failed_internal` one to retry) and a batch
that cannot be written go through the one-by-one path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from crawler.config import Settings, load_settings
from crawler.items import ArticleItem
from crawler.pipelines import batch
from crawler.pipelines import store as store_stage
from crawler.pipelines.store import StorePipeline
from crawler.runtime import CrawlContext
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import Article, RawPage
from crawler.storage.rawhtml import decompress_html


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings on each backend (`db_url`: SQLite, and PostgreSQL where it answers)."""
    config = tmp_path / "newswatch.toml"
    config.write_text(
        f"""
[database]
url = "{db_url}"
[[sources]]
name = "paper"
urls = ["http://127.0.0.1:9/feed.xml"]
""",
        encoding="utf-8",
    )
    return load_settings(config)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


def _stage(settings: Settings, db: Database) -> tuple[StorePipeline, CrawlContext]:
    source = settings.sources[0]
    with db.session() as session:
        row = repo.upsert_source(session, source)
        run = repo.create_run(session, row.id, trigger="manual", pid=None)
        ids = row.id, run.id
    ctx = CrawlContext(settings, source, db, ids[0], ids[1], first_crawl=False)
    stage = StorePipeline(SimpleNamespace(newswatch=ctx))  # type: ignore[arg-type]
    stage.open_spider()
    return stage, ctx


def _page(n: int, status: str = "skipped_prefilter", version: str = "") -> ArticleItem:
    url = f"http://127.0.0.1:9/news/{n}.html"
    item = ArticleItem(
        url=url,
        request_url=url,
        body=f"<html><body><p>Local news number {n}{version}</p></body></html>".encode(),
        encoding="utf-8",
        content_type="text/html",
        http_status=200,
        discovered_via="feed",
        feed_title=f"Story {n}",
    )
    item.canonical_url = url
    item.status, item.status_reason = status, "no rule has all its terms"
    return item


def _stored(db: Database) -> dict[str, tuple[str, int, bytes | None]]:
    with db.session() as session:
        rows = session.execute(
            select(Article.url, Article.status, Article.attempts, RawPage.html_gzip).outerjoin(
                RawPage, RawPage.article_id == Article.id
            )
        ).all()
    return {
        url: (status, attempts, decompress_html(raw) if raw else None)
        for url, status, attempts, raw in rows
    }


def test_pages_wait_for_the_batch_and_the_close_writes_the_rest(
    settings: Settings, db: Database
) -> None:
    stage, ctx = _stage(settings, db)
    pages = [_page(n) for n in range(batch.BATCH_SIZE + 3)]
    body = pages[0].body
    for page in pages[: batch.BATCH_SIZE - 1]:
        assert stage.process_item(page) is page
    assert _stored(db) == {}  # waiting: nothing written yet
    stage.process_item(pages[batch.BATCH_SIZE - 1])
    assert len(_stored(db)) == batch.BATCH_SIZE  # a full batch is written at once
    for page in pages[batch.BATCH_SIZE :]:
        stage.process_item(page)
    assert len(_stored(db)) == batch.BATCH_SIZE
    stage.close_spider()
    stored = _stored(db)
    assert set(stored) == {p.canonical_url for p in pages}
    assert all(status == "skipped_prefilter" and raw for status, _n, raw in stored.values())
    assert stored[pages[0].canonical_url][2] == body  # the raw page, whole
    assert ctx.counters["new_articles"] == len(pages)


def test_a_url_stored_meanwhile_is_a_duplicate_or_a_retry_never_a_second_row(
    settings: Settings, db: Database
) -> None:
    first, _ = _stage(settings, db)
    done, retry = _page(1), _page(2, status=repo.FAILED_INTERNAL)
    first.process_item(done)
    first.process_item(retry)
    first.close_spider()
    assert _stored(db)[retry.canonical_url][:2] == (repo.FAILED_INTERNAL, 1)

    stage, ctx = _stage(settings, db)
    again, retried, new = _page(1), _page(2, version=" (updated)"), _page(3)
    body = retried.body
    for item in (again, retried, new):
        stage.process_item(item)
    stage.close_spider()
    stored = _stored(db)
    assert len(stored) == 3
    assert stored[retried.canonical_url] == ("skipped_prefilter", 2, body)  # the retry path
    assert ctx.counters["new_articles"] == 1
    assert ctx.counters["duplicates"] == 1
    assert ctx.counters["retried"] == 1


def test_a_batch_that_cannot_be_written_is_stored_one_by_one(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: Any) -> dict[str, int]:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(store_stage, "insert_articles", refuse)
    stage, ctx = _stage(settings, db)
    pages = [_page(n) for n in range(5)]
    for page in pages:
        stage.process_item(page)
    stage.close_spider()
    assert set(_stored(db)) == {p.canonical_url for p in pages}
    assert ctx.counters["new_articles"] == len(pages)


def test_pages_with_matches_or_near_misses_are_stored_at_once(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage, _ = _stage(settings, db)
    at_once: list[str] = []
    monkeypatch.setattr(stage, "_store", lambda item: at_once.append(item.canonical_url))
    matched, near, plain = _page(1, "extracted"), _page(2, "extracted"), _page(3)
    matched.matches = [object()]  # type: ignore[list-item]
    near.extra["possible"] = [object()]
    for item in (matched, near, plain):
        stage.process_item(item)
    assert at_once == [matched.canonical_url, near.canonical_url]  # before the next page came
    assert stage._pending is not None
    assert [i.canonical_url for i, _v, _r in stage._pending.items] == [plain.canonical_url]
