"""Queries and writes shared by the crawl, the daemon and the CLI (no Scrapy here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crawler.sources import SourceConfig
from crawler.storage.models import Article, CrawlRun, FeedState, Match, RawPage, Source, utcnow
from crawler.storage.rawhtml import compress_html, decompress_html
from crawler.urls import fingerprint

SEEN_BATCH = 500
SUCCESS_STATUSES = frozenset({"ok", "partial", "not_modified"})
# Article statuses: a failure on our side is retried (not seen) up to MAX_INTERNAL_ATTEMPTS
# processing attempts, then becomes a terminal `failed` with the reason.
FAILED_INTERNAL = "failed_internal"
RETRYABLE_STATUSES = frozenset({FAILED_INTERNAL})
MAX_INTERNAL_ATTEMPTS = 3


def upsert_source(session: Session, config: SourceConfig) -> Source:
    """The Source row for a configured source, created or refreshed."""
    row = session.scalar(select(Source).where(Source.name == config.name))
    if row is None:
        row = Source(name=config.name, kind=config.kind, url=config.urls[0])
        session.add(row)
        session.flush()
    else:
        row.kind, row.url = config.kind, config.urls[0]
    return row


def sync_sources(session: Session, configs: Iterable[SourceConfig]) -> dict[str, Source]:
    """Upsert every configured source; returns them by name."""
    return {c.name: upsert_source(session, c) for c in configs}


def create_run(session: Session, source_id: int, *, trigger: str, pid: int | None) -> CrawlRun:
    """Open a CrawlRun row (status running)."""
    run = CrawlRun(source_id=source_id, trigger=trigger, pid=pid, status="running")
    session.add(run)
    session.flush()
    return run


def adopt_run(session: Session, run_id: int, pid: int) -> None:
    """The crawl process takes over a run its parent created."""
    session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(pid=pid))


def update_run_progress(
    session: Session,
    run_id: int,
    counters: Mapping[str, int],
    errors: Mapping[str, int],
    samples: Mapping[str, list[str]],
) -> None:
    """Write the running counters of a crawl."""
    session.execute(
        update(CrawlRun)
        .where(CrawlRun.id == run_id)
        .values(
            discovered=counters.get("discovered", 0),
            pages_fetched=counters.get("pages_fetched", 0),
            new_articles=counters.get("new_articles", 0),
            duplicates=counters.get("duplicates", 0),
            skipped=counters.get("skipped", 0),
            matched=counters.get("matched", 0),
            failed=counters.get("failed", 0),
            counters=dict(counters),
            errors=dict(errors),
            error_samples=dict(samples),
        )
    )


def finish_run(
    session: Session,
    run_id: int,
    *,
    status: str,
    message: str | None = None,
    exit_code: int | None = None,
    only_if_running: bool = False,
    now: datetime | None = None,
) -> CrawlRun | None:
    """Close a run and update its source's health fields; None if nothing changed."""
    run = session.get(CrawlRun, run_id)
    if run is None or (only_if_running and run.status != "running"):
        return None
    now = now or utcnow()
    run.status, run.finished_at = status, now
    if message is not None:
        run.message = message
    if exit_code is not None:
        run.exit_code = exit_code
    source = session.get(Source, run.source_id)
    if source is not None:
        source.last_run_at = now
        if status in SUCCESS_STATUSES:
            source.last_success_at = now
            source.consecutive_failures = 0
            source.backoff_until = None  # in the same transaction the health job reads
            if source.first_crawl_finished_at is None:
                source.first_crawl_finished_at = now
            if status == "ok" or not run.errors:
                source.last_error_kind = None
                source.last_error_message = None
        else:
            source.consecutive_failures += 1
            source.last_error_kind = main_error_kind(run)
            samples = (run.error_samples or {}).get(source.last_error_kind or "") or []
            source.last_error_message = samples[0] if samples else (message or run.message)
        if run.new_articles:
            source.last_new_article_at = now
    return run


def main_error_kind(run: CrawlRun) -> str:
    """The most frequent error kind of a run, or its status when it died."""
    if run.status in ("timed_out", "killed", "crashed"):
        return run.status
    if run.errors:
        return str(max(run.errors.items(), key=lambda kv: kv[1])[0])
    return run.status


def stored_statuses(session: Session, urls: Iterable[str]) -> dict[str, str]:
    """The status of each of these canonical URLs that is stored (batched, indexed by hash)."""
    wanted = list(dict.fromkeys(urls))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), SEEN_BATCH):
        batch = wanted[start : start + SEEN_BATCH]
        hashes = [fingerprint(u) for u in batch]
        rows = session.execute(
            select(Article.url, Article.status).where(Article.url_hash.in_(hashes))
        )
        stored = {r[0]: r[1] for r in rows}
        found.update((u, stored[u]) for u in batch if u in stored)
    return found


def seen_urls(session: Session, urls: Iterable[str]) -> set[str]:
    """Which of these canonical URLs are stored and done with (batched, indexed by hash).

    An article that failed on our side (`failed_internal`) is not seen: the next crawl fetches
    and processes it again, until MAX_INTERNAL_ATTEMPTS make it a terminal `failed`.
    """
    stored = stored_statuses(session, urls)
    return {u for u, status in stored.items() if status not in RETRYABLE_STATUSES}


def article_by_url(session: Session, url: str) -> Article | None:
    """The stored article with this canonical URL."""
    return session.scalar(
        select(Article).where(Article.url_hash == fingerprint(url), Article.url == url)
    )


def add_raw_page(
    session: Session,
    article: Article,
    html: bytes,
    encoding: str | None,
    content_type: str | None,
    compressed: bytes | None = None,
) -> None:
    """Keep the fetched HTML compressed (unless a worker already did) for re-extraction."""
    session.add(
        RawPage(
            article=article,
            html_gzip=compressed if compressed is not None else compress_html(html),
            encoding=encoding,
            content_type=content_type,
        )
    )


def raw_html(session: Session, article_id: int) -> bytes | None:
    """The stored HTML of an article, if retention kept it."""
    page = session.get(RawPage, article_id)
    return decompress_html(page.html_gzip) if page else None


def feed_state(session: Session, url: str) -> FeedState | None:
    """The validators of a feed URL's last good response."""
    return session.get(FeedState, url)


def save_feed_states(
    session: Session, states: Mapping[str, tuple[str | None, str | None, str | None]]
) -> None:
    """Store ETag / Last-Modified / body hash per feed URL."""
    for url, (etag, last_modified, sha1) in states.items():
        row = session.get(FeedState, url)
        if row is None:
            session.add(FeedState(url=url, etag=etag, last_modified=last_modified, body_sha1=sha1))
        else:
            row.etag, row.last_modified, row.body_sha1 = etag, last_modified, sha1
            row.checked_at = utcnow()


def run_summary(run: CrawlRun) -> dict[str, Any]:
    """A JSON-friendly view of a crawl run."""
    return {
        "id": run.id,
        "status": run.status,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "discovered": run.discovered,
        "pages_fetched": run.pages_fetched,
        "new_articles": run.new_articles,
        "duplicates": run.duplicates,
        "skipped": run.skipped,
        "matched": run.matched,
        "failed": run.failed,
        "errors": run.errors,
        "message": run.message,
    }


def match_from_result(article: Article, result: Any, state: str = "matched") -> Match:
    """A Match row from a matcher TopicResult (explanation kept whole for review)."""
    return Match(
        article=article,
        state=state,
        topic=result.topic,
        topic_label=result.label,
        score=float(result.score),
        threshold=float(result.threshold),
        pack_version=result.pack_version,
        rules={"fired": list(result.rules), "near_misses": list(result.near_misses)},
        explanation=result.to_dict(),
        snippet=result.snippet,
        entities=dict(result.entities),
    )
