"""Storage on SQLite and PostgreSQL: migrations, uniqueness, seen-checks, runs, raw pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from crawler.sources import SourceConfig
from crawler.storage import repo
from crawler.storage.db import Database, current_revision, head_revision
from crawler.storage.models import Article, CrawlRun, Source
from crawler.urls import fingerprint


def add_article(session: Any, url: str, **fields: Any) -> Article:
    article = Article(
        url=url, url_hash=fingerprint(url), fetched_url=url, status="extracted", **fields
    )
    session.add(article)
    session.flush()
    return article


def test_migrated_to_head(database: Database) -> None:
    assert current_revision(database.engine) == head_revision()
    tables = set(inspect(database.engine).get_table_names())
    assert {"sources", "articles", "crawl_runs", "matches", "alerts", "raw_pages"} <= tables


def test_canonical_url_is_unique(database: Database) -> None:
    with database.session() as session:
        add_article(session, "https://x.org/a")
    with pytest.raises(IntegrityError), database.session() as session:
        add_article(session, "https://x.org/a")


def test_seen_urls_batches(database: Database) -> None:
    urls = [f"https://x.org/{i}" for i in range(1200)]
    with database.session() as session:
        for url in urls[::2]:
            add_article(session, url)
    with database.session() as session:
        seen = repo.seen_urls(session, [*urls, "https://x.org/none"])
    assert seen == set(urls[::2])


def test_timestamps_come_back_aware(database: Database) -> None:
    when = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    with database.session() as session:
        add_article(session, "https://x.org/t", published_at=when)
    with database.session() as session:
        article = session.scalar(select(Article))
        assert article is not None
        assert article.published_at == when and article.published_at.tzinfo is not None


def test_run_lifecycle_updates_source_health(database: Database) -> None:
    config = SourceConfig(name="paper", urls=["https://paper.example/feed"])
    with database.session() as session:
        source = repo.upsert_source(session, config)
        failed = repo.create_run(session, source.id, trigger="test", pid=1)
        repo.update_run_progress(
            session,
            failed.id,
            {"pages_fetched": 0, "failed": 1},
            {"http_5xx": 1},
            {"http_5xx": ["u: HTTP 500"]},
        )
        session.flush()
        session.refresh(failed)
        repo.finish_run(session, failed.id, status="failed")
    with database.session() as session:
        source = session.scalar(select(Source))
        assert source is not None
        assert source.consecutive_failures == 1 and source.last_error_kind == "http_5xx"
        assert source.first_crawl_finished_at is None
        ok = repo.create_run(session, source.id, trigger="test", pid=1)
        repo.update_run_progress(session, ok.id, {"pages_fetched": 3, "new_articles": 2}, {}, {})
        session.flush()
        session.refresh(ok)
        repo.finish_run(session, ok.id, status="ok")
    with database.session() as session:
        source = session.scalar(select(Source))
        assert source is not None
        assert source.consecutive_failures == 0 and source.last_error_kind is None
        assert source.first_crawl_finished_at is not None and source.last_new_article_at is not None
        runs = session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
        assert [r.status for r in runs] == ["failed", "ok"] and runs[0].errors == {"http_5xx": 1}


def test_finish_only_if_running(database: Database) -> None:
    with database.session() as session:
        source = repo.upsert_source(session, SourceConfig(name="p", urls=["https://p.org/f"]))
        run = repo.create_run(session, source.id, trigger="test", pid=1)
        repo.finish_run(session, run.id, status="ok")
        assert repo.finish_run(session, run.id, status="killed", only_if_running=True) is None
        assert run.status == "ok"


def test_raw_page_round_trip(database: Database) -> None:
    html = ("<html><body>" + "<p>café</p>" * 1000 + "</body></html>").encode()
    with database.session() as session:
        article = add_article(session, "https://x.org/raw")
        repo.add_raw_page(session, article, html, "utf-8", "text/html")
        article_id = article.id
    with database.session() as session:
        assert repo.raw_html(session, article_id) == html


def test_feed_states(database: Database) -> None:
    with database.session() as session:
        repo.save_feed_states(session, {"https://x.org/feed": ('"abc"', None, "sha")})
    with database.session() as session:
        repo.save_feed_states(session, {"https://x.org/feed": ('"def"', "Tue", "sha2")})
    with database.session() as session:
        state = repo.feed_state(session, "https://x.org/feed")
        assert state is not None and (state.etag, state.last_modified) == ('"def"', "Tue")


def test_sqlite_uses_wal_and_busy_timeout(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    db.dispose()


def test_db_upgrade_cli(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from crawler.cli import main

    config = tmp_path / "c.toml"
    config.write_text('[database]\nurl = "sqlite:///fresh.db"\n')
    result = CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fresh.db").exists() and head_revision() in result.output


def test_unreachable_database_is_a_clear_error() -> None:
    from crawler.errors import StorageError

    with pytest.raises(StorageError, match="cannot"):
        Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
