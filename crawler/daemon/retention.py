"""Retention: drop what is only kept for a while, never what dedup and review depend on.

* Raw HTML (`raw_pages`) older than `crawl.keep_raw_html_days` is deleted (0 keeps none).
* Articles without any match, first seen more than `crawl.keep_unmatched_days` ago, keep their
  row but lose their text: `text`, `description` and their revisions' previous texts are
  cleared and `status_reason` says so.

Why keep the row: the `articles` table is the seen-set. Feeds, section pages, search feeds and
GDELT can list an old URL again at any time (a "related stories" box, a re-sorted search
result), so deleting the row would make the crawler fetch, extract and possibly alert the
same story again. Deleting only rows older than the longest feed window would need that window
for every kind of source, and section and search sources have none. A row without its text is
a few hundred bytes; the text and the raw HTML are what grows, and those go.

* Crawl runs older than `keep_unmatched_days` are deleted, except each source's latest run.

Matched articles, their matches, reviews and alerts are always kept whole.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, exists, func, select, update

from crawler.config import Settings
from crawler.storage.db import Database
from crawler.storage.models import Article, ArticleRevision, CrawlRun, Match, RawPage, utcnow

log = logging.getLogger(__name__)
BATCH = 2000
PRUNED_REASON = "text pruned by retention (no match after {days} days)"


@dataclass
class RetentionStats:
    """What one retention pass removed."""

    raw_pages: int = 0
    articles_pruned: int = 0
    revisions: int = 0
    crawl_runs: int = 0


def _batched_ids(db: Database, query: Select[Any]) -> list[int]:
    with db.session() as session:
        return [int(i) for i in session.scalars(query)]


def prune_raw_pages(db: Database, cutoff: datetime) -> int:
    """Delete raw HTML fetched before `cutoff`, in batches; returns the count."""
    total = 0
    while True:
        ids = _batched_ids(
            db, select(RawPage.article_id).where(RawPage.fetched_at < cutoff).limit(BATCH)
        )
        if not ids:
            return total
        with db.session() as session:
            session.execute(delete(RawPage).where(RawPage.article_id.in_(ids)))
        total += len(ids)


def prune_unmatched(db: Database, cutoff: datetime, days: int) -> tuple[int, int]:
    """Clear the text of unmatched articles first seen before `cutoff`; (articles, revisions)."""
    articles = revisions = 0
    unmatched = ~exists().where(Match.article_id == Article.id)
    still_has_text = (Article.text.is_not(None)) | (Article.description.is_not(None))
    reason = PRUNED_REASON.format(days=days)
    last_id = 0
    while True:
        ids = _batched_ids(
            db,
            select(Article.id)
            .where(Article.first_seen_at < cutoff, Article.id > last_id, unmatched, still_has_text)
            .order_by(Article.id)
            .limit(BATCH),
        )
        if not ids:
            return articles, revisions
        last_id = ids[-1]
        with db.session() as session:
            result = session.execute(
                update(Article)
                .where(Article.id.in_(ids), still_has_text)
                .values(text=None, description=None, status_reason=reason)
            )
            articles += int(getattr(result, "rowcount", 0) or 0)
            gone = session.execute(
                delete(ArticleRevision).where(ArticleRevision.article_id.in_(ids))
            )
            revisions += int(getattr(gone, "rowcount", 0) or 0)
            session.execute(delete(RawPage).where(RawPage.article_id.in_(ids)))


def prune_runs(db: Database, cutoff: datetime) -> int:
    """Delete crawl runs started before `cutoff`, keeping every source's latest run."""
    latest = select(func.max(CrawlRun.id)).group_by(CrawlRun.source_id)
    with db.session() as session:
        result = session.execute(
            delete(CrawlRun).where(
                CrawlRun.started_at < cutoff,
                CrawlRun.status != "running",
                CrawlRun.id.not_in(latest),
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


def run_retention(db: Database, settings: Settings, now: datetime | None = None) -> RetentionStats:
    """One retention pass over the whole database."""
    now = now or utcnow()
    cfg = settings.crawl
    stats = RetentionStats()
    stats.raw_pages = prune_raw_pages(db, now - timedelta(days=cfg.keep_raw_html_days))
    unmatched_cutoff = now - timedelta(days=cfg.keep_unmatched_days)
    stats.articles_pruned, stats.revisions = prune_unmatched(
        db, unmatched_cutoff, cfg.keep_unmatched_days
    )
    stats.crawl_runs = prune_runs(db, unmatched_cutoff)
    log.info(
        "event=retention_done raw_pages=%s articles_pruned=%s revisions=%s crawl_runs=%s",
        stats.raw_pages,
        stats.articles_pruned,
        stats.revisions,
        stats.crawl_runs,
    )
    return stats
