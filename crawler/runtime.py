"""Per-crawl state shared by the spider, middlewares and pipeline stages, and the run recorder.

One `CrawlContext` per Scrapy crawler (attached to it, not a global): the validated settings,
the source, the database, the CrawlRun row and the counters that become its summary.
"""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from twisted.internet import task

from crawler.config import Settings, load_settings
from crawler.errors import ConfigError, PipelineStartError
from crawler.lifetime import die_with_parent, parent_from_env
from crawler.pipelines.preflight import check_pipeline
from crawler.sources import SourceConfig
from crawler.storage import repo
from crawler.storage.db import Database

log = logging.getLogger(__name__)
# A warm crawl process (crawler.daemon.crawlhost) runs many crawls: they share the settings,
# the database engine, the matcher and the worker pool instead of building them per crawl.
_WARM: dict[Any, Any] = {}
MAX_SAMPLES = 5
TRANSIENT_ERRORS = frozenset({"dns", "connection", "timeout", "http_5xx", "http_429", "crashed"})
# A page failed on our side (crawler.pipelines.base): it is retried, so this run's feed
# validators must not be saved, or the next crawl gets `not_modified` and never sees it again.
INTERNAL_ERROR_KIND = "internal"


@dataclass
class CrawlContext:
    """Everything one crawl of one source needs, created once by the spider."""

    settings: Settings
    source: SourceConfig
    db: Database
    source_id: int
    run_id: int
    first_crawl: bool
    counters: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    feed_states: dict[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    error_urls: set[str] = field(default_factory=set)
    warm: bool = False
    _matcher: Any = None
    _workers: Any = None

    def count(self, name: str, n: int = 1) -> None:
        """Add to a run counter (pages_fetched, new_articles, duplicates, skipped, failed…)."""
        self.counters[name] += n

    def record_error(self, kind: str, url: str, message: str) -> None:
        """Count an error by kind and keep a few samples for the run record."""
        self.errors[kind] += 1
        self.counters["failed"] += 1
        self.error_urls.add(url)
        samples = self.error_samples[kind]
        if len(samples) < MAX_SAMPLES:
            samples.append(f"{url}: {message}"[:500])
        log.warning(
            "event=fetch_error source=%s kind=%s url=%s reason=%s",
            self.source.name,
            kind,
            url,
            message[:200],
        )

    @property
    def had_transient_errors(self) -> bool:
        """Whether a retry later could succeed where this run failed."""
        return any(kind in TRANSIENT_ERRORS for kind in self.errors)

    @property
    def had_internal_failures(self) -> bool:
        """Whether a page failed on our side (and must be seen again by the next crawl)."""
        return self.errors[INTERNAL_ERROR_KIND] > 0

    @property
    def matcher(self) -> Any:
        """The topic matcher, compiled once per crawl process."""
        if self._matcher is None:
            key = ("matcher", id(self.settings))
            if self.warm and key in _WARM:
                self._matcher = _WARM[key]
                return self._matcher
            from crawler.matching import load_matcher

            cfg = self.settings.matching
            self._matcher = load_matcher(cfg.topic_packs, cfg.thresholds, cfg.disabled_topics)
            if self.warm:
                _WARM[key] = self._matcher
        return self._matcher

    @property
    def workers(self) -> Any:
        """The crawl's worker-process pool (crawler.pipelines.workers.WorkerPool)."""
        if self._workers is None:
            from crawler.pipelines.workers import WorkerPool

            if self.warm:
                key = ("workers", id(self.settings))
                if key not in _WARM:
                    _WARM[key] = SharedPool(WorkerPool(self.settings))
                self._workers = _WARM[key]
            else:
                self._workers = WorkerPool(self.settings)
        return self._workers

    def flush(self) -> None:
        """Write the counters to the CrawlRun row (progress for `crawl` and `status`)."""
        with self.db.session() as session:
            repo.update_run_progress(
                session,
                self.run_id,
                dict(self.counters),
                dict(self.errors),
                {k: list(v) for k, v in self.error_samples.items()},
            )


class SharedPool:
    """A worker pool shared by the crawls of a warm process: a crawl's close() keeps it running."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def start(self) -> None:
        """Start the shared workers the first time only."""
        if getattr(self.pool, "pool", None) is None:
            self.pool.start()

    def close(self) -> None:
        """Kept warm for the next crawl (the process' exit ends it)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


def _warm_settings(config_path: str | None) -> tuple[Settings, Database]:
    """Settings and database shared by a warm process' crawls (reloaded when the file changes)."""
    mtime = 0
    if config_path:
        try:
            mtime = os.stat(config_path).st_mtime_ns
        except OSError:
            mtime = -1
    key = ("settings", config_path, mtime)
    if key not in _WARM:
        settings = load_settings(config_path)
        # The host's jobs are runs its parent created, in a database it migrated.
        _WARM[key] = (settings, Database(settings.database_url, migrate=False))
    cached: tuple[Settings, Database] = _WARM[key]
    return cached


def apply_config(crawler: Crawler, settings: Settings) -> None:
    """Copy the user's `[crawl]` settings onto the Scrapy settings of this crawler."""
    cfg = settings.crawl
    values: dict[str, Any] = {
        "USER_AGENT": cfg.user_agent_string,
        "ROBOTSTXT_OBEY": cfg.obey_robots_txt,
        "CONCURRENT_REQUESTS": cfg.concurrent_requests,
        "CONCURRENT_REQUESTS_PER_DOMAIN": cfg.concurrent_requests_per_domain,
        "DOWNLOAD_DELAY": cfg.download_delay,
        "AUTOTHROTTLE_ENABLED": cfg.autothrottle,
        "DOWNLOAD_TIMEOUT": cfg.download_timeout,
        "RETRY_TIMES": cfg.retry_times,
        "DOWNLOAD_MAXSIZE": cfg.max_page_bytes,
    }
    for key, value in values.items():
        crawler.settings.set(key, value, priority="spider")


def create_context(crawler: Crawler, source_name: str, run_id: int | None) -> CrawlContext:
    """Load config, open the database, create (or adopt) the CrawlRun row, check the pipeline.

    A pipeline that cannot start (config or topic pack unloadable) fails here, before anything
    is fetched, with the run recorded `failed` and the cause as its message.
    """
    config_path = crawler.settings.get("NEWSWATCH_CONFIG") or os.environ.get("NEWSWATCH_CONFIG")
    warm = crawler.settings.getbool("NEWSWATCH_WARM")
    if not warm and parent_from_env() is not None:
        die_with_parent(parent_from_env())  # a `scrapy crawl` child of a daemon or worker
    settings: Settings | None = None
    shared_db: Database | None = None
    try:
        if warm:
            settings, shared_db = _warm_settings(config_path)
        else:
            settings = load_settings(config_path)
        source = settings.source(source_name)
    except ConfigError as exc:
        error = PipelineStartError(str(exc))
        url = os.environ.get("NEWSWATCH_DATABASE_URL") or (settings and settings.database_url)
        _record_start_failure(url or None, run_id, str(error))
        raise error from exc
    # A run handed to us was created by a parent that opened (and so migrated) the database:
    # checking again would load Alembic and every migration script (~11 MB) for nothing.
    if shared_db is not None:
        db = shared_db
    else:
        db = Database(settings.database_url, migrate=run_id is None)
    with db.session() as session:
        row = repo.upsert_source(session, source)
        first_crawl = row.first_crawl_finished_at is None
        if run_id is None:
            run_id = repo.create_run(session, row.id, trigger="manual", pid=os.getpid()).id
        else:
            repo.adopt_run(session, run_id, os.getpid())
        source_id = row.id
    try:
        check_pipeline(settings)  # cached per process: free in a warm crawl process
    except PipelineStartError as exc:
        if not warm:
            db.dispose()
        _record_start_failure(settings.database_url, run_id, str(exc))
        raise
    ctx = CrawlContext(settings, source, db, source_id, run_id, first_crawl, warm=warm)
    crawler.newswatch = ctx  # type: ignore[attr-defined]
    apply_config(crawler, settings)
    return ctx


def _record_start_failure(database_url: str | None, run_id: int | None, message: str) -> None:
    """Close the run as failed with the reason (when there is a run and a database to say it)."""
    log.error("event=crawl_cannot_start run_id=%s reason=%s", run_id, message)
    if run_id is None or not database_url:
        return
    db = Database(database_url)
    try:
        with db.session() as session:
            repo.finish_run(session, run_id, status="failed", message=message)
    finally:
        db.dispose()


def get_context(crawler: Crawler) -> CrawlContext:
    """The context the spider created for this crawler."""
    ctx = getattr(crawler, "newswatch", None)
    if ctx is None:
        raise RuntimeError("newswatch components need a newswatch spider (no CrawlContext)")
    return ctx  # type: ignore[no-any-return]


class RunRecorder:
    """Extension: flushes progress every second and writes the run's result when it closes."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.loop: task.LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.item_error, signal=signals.item_error)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        """Scrapy hook."""
        return cls(crawler)

    def spider_opened(self) -> None:
        """Start the progress flusher."""
        ctx = getattr(self.crawler, "newswatch", None)
        if ctx is None:
            return
        self.loop = task.LoopingCall(self._flush_quietly, ctx)
        self.loop.start(1.0, now=False)

    @staticmethod
    def _flush_quietly(ctx: CrawlContext) -> None:
        try:
            ctx.flush()
        except Exception as exc:  # a progress write must never stop the crawl
            log.warning("event=progress_flush_failed reason=%s", exc)

    def item_error(self, item: Any, failure: Any) -> None:
        """A stage raised (a bug of ours the stage did not catch): the page was not stored, so
        it is not seen; record it so this run saves no feed validators and it comes back."""
        ctx = getattr(self.crawler, "newswatch", None)
        if ctx is None:
            return
        exc = getattr(failure, "value", failure)
        url = str(getattr(item, "url", "?"))
        ctx.record_error(INTERNAL_ERROR_KIND, url, f"pipeline error: {type(exc).__name__}: {exc}")

    def spider_closed(self, reason: str) -> None:
        """Record the run's final status, source health and feed validators."""
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        ctx = getattr(self.crawler, "newswatch", None)
        if ctx is None:
            return
        ctx.flush()
        # What worked counts: an article page, a 304, or a feed fetched and read whole even
        # when every article in it was already stored (so no page was fetched).
        documents_ok = sum(1 for url in ctx.feed_states if url not in ctx.error_urls)
        fetched = ctx.counters["pages_fetched"] + ctx.counters["not_modified"] + documents_ok
        if reason not in ("finished",):
            status = "failed" if reason != "shutdown" else "killed"
        elif ctx.errors and fetched == 0:
            status = "failed"
        elif ctx.errors:
            status = "partial"
        elif ctx.counters["not_modified"] and not ctx.counters["pages_fetched"]:
            status = "not_modified"
        else:
            status = "ok"
        with ctx.db.session() as session:
            if not ctx.had_transient_errors and not ctx.had_internal_failures:
                # A document that failed (an unparseable feed) is not a baseline: the next
                # crawl fetches and judges it again instead of calling it "not modified".
                good = {u: v for u, v in ctx.feed_states.items() if u not in ctx.error_urls}
                repo.save_feed_states(session, good)
            repo.finish_run(session, ctx.run_id, status=status, message=f"closed: {reason}")
        log.info(
            "event=crawl_finished source=%s run_id=%s status=%s counters=%s errors=%s",
            ctx.source.name,
            ctx.run_id,
            status,
            dict(ctx.counters),
            dict(ctx.errors),
        )
        if not ctx.warm:
            ctx.db.dispose()
