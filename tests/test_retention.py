"""Retention: raw HTML and unmatched texts go; the seen-set rows and matched articles stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from crawler.config import CrawlConfig, Settings
from crawler.daemon.retention import run_retention
from crawler.sources import SourceConfig
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import Article, ArticleRevision, CrawlRun, Match, RawPage
from crawler.urls import fingerprint

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FEED = SourceConfig(name="metro", urls=["https://news.example/feed.xml"])


def add_article(db: Database, slug: str, age_days: float, *, matched: bool = False) -> int:
    when = NOW - timedelta(days=age_days)
    url = f"https://news.example/{slug}.html"
    with db.session() as session:
        article = Article(
            url=url, url_hash=fingerprint(url), fetched_url=url, status="extracted",
            first_seen_at=when, fetched_at=when, title=slug, text=f"text of {slug}",
            description="desc",
        )  # fmt: skip
        session.add(article)
        repo.add_raw_page(session, article, b"<html>x</html>", "utf-8", "text/html")
        session.flush()
        assert article.raw is not None
        article.raw.fetched_at = when
        session.add(ArticleRevision(article_id=article.id, previous_text="old", detected_at=when))
        if matched:
            session.add(Match(article=article, topic="courthouse_arrest", score=1.0,
                              threshold=0.5, pack_version="t"))  # fmt: skip
        return article.id


def test_retention_prunes_by_age_and_keeps_matches_and_urls(database: Database) -> None:
    settings = Settings(crawl=CrawlConfig(keep_raw_html_days=30, keep_unmatched_days=90))
    old_unmatched = add_article(database, "old-unmatched", 120)
    old_matched = add_article(database, "old-matched", 120, matched=True)
    mid = add_article(database, "mid", 45)
    new = add_article(database, "new", 1)

    stats = run_retention(database, settings, now=NOW)
    assert (stats.raw_pages, stats.articles_pruned, stats.revisions) == (3, 1, 1)

    with database.session() as session:
        raw = set(session.scalars(select(RawPage.article_id)))
        assert raw == {new}
        articles = {a.id: a for a in session.scalars(select(Article))}
        assert set(articles) == {old_unmatched, old_matched, mid, new}  # the seen-set is whole
        pruned = articles[old_unmatched]
        assert pruned.text is None and pruned.description is None
        assert "pruned" in (pruned.status_reason or "")
        assert articles[old_matched].text == "text of old-matched"
        assert articles[mid].text == "text of mid"
        revisions = set(session.scalars(select(ArticleRevision.article_id)))
        assert revisions == {old_matched, mid, new}
        assert repo.seen_urls(session, ["https://news.example/old-unmatched.html"])

    again = run_retention(database, settings, now=NOW)
    assert (again.raw_pages, again.articles_pruned, again.revisions) == (0, 0, 0)


def test_zero_days_keeps_no_raw_html(database: Database) -> None:
    add_article(database, "today", 0.01)
    settings = Settings(crawl=CrawlConfig(keep_raw_html_days=0))
    assert run_retention(database, settings, now=NOW).raw_pages == 1


def test_old_crawl_runs_go_but_each_source_keeps_its_latest(database: Database) -> None:
    with database.session() as session:
        source = repo.upsert_source(session, FEED)
        for age in (200, 150, 100):
            run = repo.create_run(session, source.id, trigger="schedule", pid=None)
            run.started_at, run.status = NOW - timedelta(days=age), "ok"
    settings = Settings(crawl=CrawlConfig(keep_unmatched_days=90))
    assert run_retention(database, settings, now=NOW).crawl_runs == 2
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(CrawlRun)) == 1
