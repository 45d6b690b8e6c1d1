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
                stored = {m.topic: m for m in article.matches}
                existing = {t for t, m in stored.items() if m.state == "matched"}
                stats.stale_matches += len(existing - set(found))
                source = session.get(Source, article.source_id) if article.source_id else None
                new_matches: list[Match] = []
                for topic, topic_result in found.items():
                    if topic in existing:
                        continue
                    match = stored.get(topic)
                    if match is not None and match.state != "possible":
                        continue  # a reported miss keeps what the person said
                    if match is None:
                        match = repo.match_from_result(article, topic_result)
                        session.add(match)
                    else:  # a near miss the current rules now match
                        match.state = "matched"
                        match.score = float(topic_result.score)
                        match.threshold = float(topic_result.threshold)
                        match.explanation = topic_result.to_dict()
                        match.snippet = topic_result.snippet
                    new_matches.append(match)
                session.flush()
                stats.new_matches += len(new_matches)
                for match in new_matches:
                    from crawler.storage.incidents import link_article

                    link_article(session, article, match, settings.incidents)
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


@dataclass(frozen=True)
class RematchChange:
    """One (article, topic) a rule change would add to or remove from the stored matches."""

    change: str  # add | remove
    article_id: int
    topic: str
    score: float
    threshold: float
    title: str
    url: str
    state: str | None  # the stored match's state (None: no stored row)
    review_status: str | None


def rematch_preview(
    db: Database, settings: Settings, *, since: datetime | None = None
) -> tuple[int, list[RematchChange]]:
    """What `rematch` would change, written nowhere: (articles scored, changes).

    Only articles whose text is stored are scored (a dry run re-extracts nothing).
    """
    cfg = settings.matching
    matcher = load_matcher(cfg.topic_packs, cfg.thresholds, cfg.disabled_topics)
    changes: list[RematchChange] = []
    scored = 0
    for ids in _article_ids(db, since):
        with db.session() as session:
            for article in session.scalars(select(Article).where(Article.id.in_(ids))):
                if not article.text:
                    continue
                scored += 1
                doc = Document(article.title or "", article.text, article.language, article.url)
                results = {r.topic: r for r in matcher.evaluate(doc)}
                stored = {m.topic: m for m in article.matches}
                title = article.title or article.feed_title or article.url
                for topic, result in results.items():
                    row = stored.get(topic)
                    was = row is not None and row.state == "matched"
                    if result.matched == was:
                        continue
                    changes.append(
                        RematchChange(
                            "add" if result.matched else "remove", article.id, topic,
                            result.score, result.threshold, title, article.url,
                            row.state if row is not None else None,
                            row.review_status if row is not None else None,
                        )
                    )  # fmt: skip
            session.rollback()  # nothing of a dry run is ever written
    return scored, changes
