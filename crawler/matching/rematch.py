"""Re-run the current rules over stored articles without refetching anything.

Articles that failed on our side (`failed_internal`: a worker died, a matcher raised) are
processed here from their kept raw HTML as the crawl would have: extraction, the page-kind
check, matching, and their alerts queued (they never had the chance to alert), `--alert` or
not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from crawler.config import Settings
from crawler.extract import Extracted, extract_to_dict, result_from_dict
from crawler.matching import Document, load_matcher
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import Article, Match, Source
from crawler.storage.repo import RETRYABLE_STATUSES

BATCH = 200


@dataclass
class RematchStats:
    """What a rematch changed."""

    articles: int = 0
    new_matches: int = 0
    stale_matches: int = 0
    alerts: int = 0
    retried: int = 0  # failed_internal articles processed again


def _article_ids(db: Database, since: datetime | None) -> Iterator[list[int]]:
    with db.session() as session:
        query = select(Article.id).where(
            Article.status.in_(("extracted", "skipped_prefilter", "empty", *RETRYABLE_STATUSES))
        )
        if since is not None:
            query = query.where(Article.first_seen_at >= since)
        ids = list(session.scalars(query.order_by(Article.id)))
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def rematch_articles(
    db: Database, settings: Settings, *, since: datetime | None = None, alert: bool = False
) -> RematchStats:
    """Match stored articles again; add matches the current rules find (alerts only if asked)."""
    cfg = settings.matching
    matcher = load_matcher(cfg.topic_packs, cfg.thresholds, cfg.disabled_topics)
    stats = RematchStats()
    for ids in _article_ids(db, since):
        with db.session() as session:
            for article in session.scalars(select(Article).where(Article.id.in_(ids))):
                stats.articles += 1
                retry = article.status in RETRYABLE_STATUSES
                if article.status != "extracted":
                    html = repo.raw_html(session, article.id)
                    if html is None and not (retry and article.text):
                        continue  # nothing to extract from (a matcher failure kept the text)
                    if retry:
                        stats.retried += 1
                        article.attempts += 1
                    if html is not None:
                        result = result_from_dict(
                            extract_to_dict(html, article.fetched_url, None, True)
                        )
                        if not isinstance(result, Extracted):
                            if retry:  # processed now: what the page is, not our failure
                                article.status = result.status
                                article.status_reason = result.reason
                            continue
                        article.text, article.title = result.text, result.title or article.title
                        article.published_at = article.published_at or result.published
                        article.language = result.language
                    article.status, article.status_reason = "extracted", None
                if not article.text:
                    continue  # pruned by retention (see status_reason)
                doc = Document(
                    title=article.title or "",
                    text=article.text or "",
                    lang=article.language,
                    url=article.url,
                )
                found = {r.topic: r for r in matcher.match(doc)}
                existing = {m.topic for m in article.matches}
                stats.stale_matches += len(existing - set(found))
                source = session.get(Source, article.source_id) if article.source_id else None
                new_matches: list[Match] = []
                for topic, topic_result in found.items():
                    if topic in existing:
                        continue
                    match = repo.match_from_result(article, topic_result)
                    session.add(match)
                    new_matches.append(match)
                session.flush()
                stats.new_matches += len(new_matches)
                if (alert or retry) and new_matches:
                    from alerts.outbox import enqueue_article_alerts

                    rows = enqueue_article_alerts(
                        session,
                        article=article,
                        matches=new_matches,
                        source=source,
                        settings=settings,
                        first_crawl=False,
                    )
                    stats.alerts += sum(1 for r in rows if r.status == "pending")
    return stats
