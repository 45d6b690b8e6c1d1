"""The daemon: APScheduler 3.x in one process runs crawls, the alert dispatcher, health checks
and retention, and shuts down gracefully.

One interval job per enabled source (no overlap: `max_instances=1`, `coalesce=True`) runs on
the `crawl` executor, a thread pool of `max_concurrent_crawls` threads: that pool is the global
cap. With `[scheduler] executor = "local"` each job crawls on this machine, in a warm crawl
process (crawler.daemon.hosts, no start-up cost) or a fresh one (`crawl_processes =
"per_crawl"`), with the hard `crawl_timeout`; with `"celery"` it enqueues the crawl for
`newswatch worker`s (crawler.daemon.executors.celery) and this process is the leader.
A failing source backs off: its next run waits interval × 2^failures, capped at
`backoff_max_factor` × interval, kept in `Source.backoff_until` so a restart respects it too.
No job ever lets an exception out: a database outage is logged as `event=db_unavailable` and
the job simply runs again at its next time.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor as FuturesPool
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from crawler import __version__
from crawler.config import Settings
from crawler.daemon import health, leader
from crawler.daemon.executors.local import LocalExecutor
from crawler.daemon.jobs import backoff_delay as backoff_delay
from crawler.daemon.jobs import guarded
from crawler.daemon.lock import HEARTBEAT_INTERVAL, DaemonLock
from crawler.daemon.metrics import Metrics
from crawler.daemon.orphans import stop_orphans
from crawler.daemon.retention import run_retention
from crawler.daemon.runner import RunOutcome
from crawler.errors import DatabaseLocked
from crawler.sources import SourceConfig
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import CrawlRun, Source, utcnow

log = logging.getLogger(__name__)
CrawlFn = Callable[[SourceConfig], RunOutcome | None]
SHUTDOWN_KILL_GRACE = 3.0
DISPATCH_LIMIT = 100
# The daemon's alert claims are short and renewed with every heartbeat: if it dies, another
# dispatcher (`alerts send`) can recover them within a minute, and a restarted daemon at once.
ALERT_LEASE = 60.0
DISPATCHER_PREFIX = leader.DISPATCHER_PREFIX


class Daemon:
    """The long-running process behind `newswatch run`."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        crawl_logs: Path | None = None,
        crawl_fn: CrawlFn | None = None,
        dispatcher: Any = None,
        lock: DaemonLock | None = None,
    ) -> None:
        self.settings, self.db, self.crawl_logs = settings, db, crawl_logs
        self.cfg = settings.scheduler
        self.sources = {s.name: s for s in settings.sources if s.enabled}
        self.lock = lock or DaemonLock(db)
        self._crawl_fn = crawl_fn or self._spawn
        self._dispatcher = dispatcher
        self.running: dict[str, Any] = {}  # CrawlProcess or HostedRun
        self.executor = LocalExecutor(db, settings, log_dir=crawl_logs)
        self.celery: Any = None
        if self.cfg.executor == "celery" and crawl_fn is None:
            from crawler.daemon.executors.celery import CeleryDispatch, check_distributed

            check_distributed(settings)
            self.celery = CeleryDispatch(db, settings)
        self.metrics = Metrics("daemon")
        self.metrics_port = self.cfg.metrics_port
        self.queue_depth: int | None = None
        self._running_lock = threading.Lock()
        self._health_lock = threading.Lock()
        self.stop_event = threading.Event()
        self.hurry = threading.Event()
        self.fatal: BaseException | None = None
        self.shutdown_killed: set[int] = set()
        self.scheduler: BackgroundScheduler | None = None

    # -- intervals and scheduling ----------------------------------------------------------

    def interval(self, source: SourceConfig) -> float:
        """The source's crawl interval in seconds."""
        return source.interval or self.cfg.default_interval

    def _first_run(self, row: Source, source: SourceConfig, now: datetime) -> datetime:
        """Start now, unless the source ran within its interval or is backing off."""
        first = now
        if row.last_run_at is not None:
            first = max(first, row.last_run_at + timedelta(seconds=self.interval(source)))
        if row.backoff_until is not None:
            first = max(first, row.backoff_until)
        return first

    def build_scheduler(self) -> BackgroundScheduler:
        """The APScheduler with one job per source plus dispatch, health, retention, heartbeat."""
        scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={
                "default": ThreadPoolExecutor(3),
                "crawl": ThreadPoolExecutor(self.cfg.max_concurrent_crawls),
                "control": ThreadPoolExecutor(1),
            },
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        now = utcnow()
        with self.db.session() as session:
            rows = repo.sync_sources(session, self.sources.values())
            first = {n: self._first_run(rows[n], s, now) for n, s in self.sources.items()}
        for name, source in self.sources.items():
            every = self.interval(source)
            scheduler.add_job(
                self.crawl_job, IntervalTrigger(seconds=every, jitter=every * self.cfg.jitter),
                args=[name], id=f"crawl:{name}", name=f"crawl {name}", executor="crawl",
                next_run_time=first[name], misfire_grace_time=max(1, int(every)),
            )  # fmt: skip
        cfg = self.cfg
        first_retention = now + timedelta(seconds=min(60.0, cfg.retention_interval))
        jobs: list[tuple[str, Callable[[], None], float, datetime, str]] = [
            ("heartbeat", self.heartbeat_job, HEARTBEAT_INTERVAL, now, "control"),
            ("dispatch", self.dispatch_job, cfg.dispatch_interval, now, "default"),
            ("health", self.health_job, cfg.health_interval, now, "default"),
            ("retention", self.retention_job, cfg.retention_interval, first_retention, "default"),
        ]
        for job_id, job, every, start, executor in jobs:
            scheduler.add_job(
                job, IntervalTrigger(seconds=every), id=job_id, name=job_id, executor=executor,
                next_run_time=start, misfire_grace_time=max(1, int(every)),
            )  # fmt: skip
        return scheduler

    def next_runs(self) -> dict[str, str | None]:
        """When each job runs next (ISO UTC), for the heartbeat row."""
        if self.scheduler is None:
            return {}
        return {
            job.id: job.next_run_time.astimezone(UTC).isoformat() if job.next_run_time else None
            for job in self.scheduler.get_jobs()
        }

    def _reschedule(self, name: str, when: datetime) -> None:
        if self.scheduler is not None and not self.stop_event.is_set():
            try:
                self.scheduler.modify_job(f"crawl:{name}", next_run_time=when)
            except Exception as exc:  # the job was removed during shutdown
                log.debug("event=reschedule_failed source=%s reason=%s", name, exc)

    def _dispatch_now(self) -> None:
        """Run the dispatcher right away: a crawl just queued alerts (saves up to one tick)."""
        if self.scheduler is not None and not self.stop_event.is_set():
            try:
                self.scheduler.modify_job("dispatch", next_run_time=utcnow())
            except Exception as exc:  # the job was removed during shutdown
                log.debug("event=dispatch_now_failed reason=%s", exc)

    # -- the jobs --------------------------------------------------------------------------

    def _spawn(self, source: SourceConfig) -> RunOutcome | None:
        def started(proc: Any) -> None:
            with self._running_lock:
                self.running[source.name] = proc

        try:
            return self.executor.run(
                source, trigger="schedule", timeout=self.cfg.crawl_timeout, on_start=started
            )
        finally:
            with self._running_lock:
                self.running.pop(source.name, None)

    def _enqueue(self, source: SourceConfig) -> None:
        """Celery mode: publish the crawl job; a broker outage pauses scheduling, logged once."""
        from crawler.daemon.executors.celery import BrokerUnavailable

        try:
            self.celery.enqueue(source)
        except BrokerUnavailable:
            # The job runs again at its next time (every source keeps trying): scheduling
            # resumes by itself when the broker answers.
            log.debug("event=crawl_not_enqueued source=%s reason=broker_unavailable", source.name)

    def crawl_job(self, name: str) -> None:
        """Crawl one source unless the daemon is stopping or the source is backing off."""
        if self.stop_event.is_set():
            return
        source = self.sources[name]
        with guarded(f"crawl:{name}"):
            now = utcnow()
            with self.db.session() as session:
                row = repo.upsert_source(session, source)
                until = row.backoff_until
                before = (row.consecutive_failures, row.last_error_kind, row.last_error_message)
                source_id = row.id
            if until is not None and until > now + timedelta(seconds=0.5):
                log.info(
                    "event=crawl_skipped source=%s reason=backoff until=%s", name, until.isoformat()
                )
                self._reschedule(name, until)
                return
            if self.celery is not None:
                self._enqueue(source)
                return
            if self._crawl_fn == self._spawn:
                stop_orphans(self.db, source_id=source_id)  # a dead daemon's crawl of it
            outcome = self._crawl_fn(source)
            self.metrics.crawl_done(outcome)
            if outcome is not None:
                log.info("event=crawl_done source=%s run_id=%s status=%s",
                         name, outcome.run_id, outcome.status)  # fmt: skip
            self.after_crawl(source, outcome, before)
            if outcome is not None and outcome.summary.get("matched"):
                self._dispatch_now()

    def after_crawl(
        self,
        source: SourceConfig,
        outcome: RunOutcome | None = None,
        before: tuple[int, str | None, str | None] | None = None,
    ) -> None:
        """Set or clear the source's backoff, and check its health.

        A crawl the daemon itself killed while shutting down is not the source's failure:
        its failure count and last error are put back as they were before the run.
        """
        now = utcnow()
        with self.db.session() as session:
            row = repo.upsert_source(session, source)
            if self.stop_event.is_set():
                if outcome is not None and outcome.run_id in self.shutdown_killed and before:
                    failures, kind, message = before
                    row.consecutive_failures = failures
                    row.last_error_kind, row.last_error_message = kind, message
                return
            every, factor = self.interval(source), self.cfg.backoff_max_factor
            delay = backoff_delay(every, row.consecutive_failures, factor)
            row.backoff_until = now + timedelta(seconds=delay) if delay else None
            if row.backoff_until is not None:
                log.warning(
                    "event=crawl_backoff source=%s failures=%s delay=%.1f until=%s",
                    source.name, row.consecutive_failures, delay, row.backoff_until.isoformat(),
                )  # fmt: skip
                self._reschedule(source.name, row.backoff_until)
            with self._health_lock:
                health.check_source(session, row, self.settings, now)

    def dispatch_job(self) -> None:
        """Send due alerts from the outbox (one Dispatcher, run_once)."""
        with guarded("dispatch"):
            if self._dispatcher is None:
                from alerts.dispatcher import Dispatcher

                self._dispatcher = Dispatcher(
                    self.db, self.settings, worker_id=self.dispatcher_id, lease_seconds=ALERT_LEASE
                )
            stats = self._dispatcher.run_once(limit=DISPATCH_LIMIT)
            counts = stats.as_dict() if hasattr(stats, "as_dict") else {}
            if any(counts.values()):
                fields = " ".join(f"{k}={v}" for k, v in counts.items() if v)
                log.info("event=dispatch_done %s", fields)

    def health_job(self) -> None:
        """Close orphaned runs and check every source's health."""
        with guarded("health"):
            live = {p.run_id for p in list(self.running.values())}
            with self.db.session() as session:
                health.close_orphan_runs(session, live, self.settings)
            with self._health_lock, self.db.session() as session:
                health.check_all(session, self.settings)

    def retention_job(self) -> None:
        """Prune raw HTML, unmatched article texts and old crawl runs."""
        with guarded("retention"):
            run_retention(self.db, self.settings)

    @property
    def dispatcher_id(self) -> str:
        """The claim owner name of this daemon's dispatcher."""
        return f"{DISPATCHER_PREFIX}{self.lock.hostname}-{self.lock.pid}"

    def heartbeat_info(self) -> dict[str, Any]:
        """What `newswatch status` shows about this daemon."""
        with self._running_lock:
            running = {n: {"run_id": p.run_id, "pid": p.pid} for n, p in self.running.items()}
        return {
            "version": __version__,
            "config": str(self.settings.path) if self.settings.path else None,
            "database": self.db.safe_url,
            "heartbeat_interval": HEARTBEAT_INTERVAL,
            "max_concurrent_crawls": self.cfg.max_concurrent_crawls,
            "next_runs": self.next_runs(),
            "running": running,
            "stopping": self.stop_event.is_set(),
            "executor": self.cfg.executor,
            "queue_depth": self.queue_depth,
            "scheduling_paused": self.celery.paused_reason if self.celery is not None else None,
        }

    def heartbeat_job(self) -> None:
        """Confirm the lock and write the heartbeat row; a lost lock stops the daemon."""
        try:
            with guarded("heartbeat"):
                self.queue_depth = leader.observe(self.db, self.metrics, self.celery)
                self.lock.heartbeat(self.heartbeat_info())
                if self._dispatcher is not None and hasattr(self._dispatcher, "renew_leases"):
                    self._dispatcher.renew_leases()
        except DatabaseLocked as exc:
            log.error("event=lock_lost reason=%s", exc)
            self.fatal = exc
            self.hurry.set()
            self.stop_event.set()

    # -- lifecycle -------------------------------------------------------------------------

    def request_stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """Signal handler: the first signal drains gracefully, a second one kills at once."""
        name = signal.Signals(signum).name if signum else "request"
        if self.stop_event.is_set():
            log.warning("event=shutdown_hurried signal=%s", name)
            self.hurry.set()
        else:
            log.info("event=shutdown_requested signal=%s grace=%s", name, self.cfg.grace_period)
        self.stop_event.set()

    def install_signals(self) -> None:
        """SIGTERM and SIGINT stop the daemon gracefully."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    def drain(self) -> None:
        """Let running crawls finish for up to grace_period, then kill them."""
        deadline = time.monotonic() + self.cfg.grace_period
        while self.running and time.monotonic() < deadline and not self.hurry.is_set():
            self.hurry.wait(0.1)
        with self._running_lock:
            late = list(self.running.values())
            self.shutdown_killed.update(p.run_id for p in late)
        if late:
            log.warning("event=shutdown_killing crawls=%s", ",".join(p.source.name for p in late))
        killers = [
            threading.Thread(target=p.terminate, args=("daemon shutdown", SHUTDOWN_KILL_GRACE))
            for p in late
        ]
        for t in killers:
            t.start()
        for t in killers:
            t.join()

    def _start(self) -> bool:
        if not leader.acquire(self.lock, self.stop_event, standby=self.celery is not None):
            log.info("event=standby_stopped")
            return False
        log.info(
            "event=daemon_started version=%s pid=%s sources=%s database=%s",
            __version__, self.lock.pid, len(self.sources), self.db.safe_url,
        )  # fmt: skip
        if self.metrics_port:
            self.metrics.serve(self.metrics_port, self.cfg.metrics_host)
        with guarded("startup"):
            stop_orphans(self.db)  # crawl processes of the daemon this one replaces
        with guarded("startup"), self.db.session() as session:
            health.close_orphan_runs(session, set(), self.settings)
        leader.release_dead_claims(self.db, self.settings, self.dispatcher_id)
        return True

    def _finish(self) -> int:
        if self.fatal is None:
            self.dispatch_job()  # flush what the last crawls queued
        self.executor.close()
        if self.celery is not None:
            self.celery.close()
        self.lock.release()
        if self.fatal is not None:
            raise self.fatal
        log.info("event=daemon_stopped")
        return 0

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (or a lost lock); returns the exit code."""
        if not self._start():
            return 0
        from crawler.review.interactive import start_interactive  # Slack buttons (issue 13)

        interactive = start_interactive(self.db, self.settings)
        try:
            self.scheduler = self.build_scheduler()
            self.scheduler.start()
            self.stop_event.wait()
            self.scheduler.pause()
            self.drain()
            self.scheduler.shutdown(wait=True)
        finally:
            if self.scheduler is not None and self.scheduler.running:
                self.scheduler.shutdown(wait=False)
            if interactive is not None:
                interactive.close()
        return self._finish()

    def due(self, source: SourceConfig, last_started: datetime | None, now: datetime) -> bool:
        """Whether `--once` should crawl this source now (interval elapsed since last start)."""
        if last_started is None:
            return True
        every = self.interval(source)
        slack = min(60.0, every * 0.1)
        return last_started + timedelta(seconds=every - slack) <= now

    def run_once(self) -> int:
        """`--once`: crawl every due source, then health, retention and dispatch; exit."""
        if not self._start():
            return 0
        self.heartbeat_job()
        now = utcnow()
        with self.db.session() as session:
            rows = repo.sync_sources(session, self.sources.values())
            last = select(CrawlRun.source_id, func.max(CrawlRun.started_at))
            starts = dict(session.execute(last.group_by(CrawlRun.source_id)).all())
        due = [n for n, s in self.sources.items() if self.due(s, starts.get(rows[n].id), now)]
        random.shuffle(due)  # no source is always last when the cap queues them
        log.info("event=once_started due=%s", ",".join(sorted(due)) or "-")
        beat = time.monotonic()
        with FuturesPool(self.cfg.max_concurrent_crawls) as pool:
            futures = [pool.submit(self.crawl_job, name) for name in due]
            while not all(f.done() for f in futures):
                if self.stop_event.wait(0.2):
                    self.drain()
                    break
                if time.monotonic() - beat >= HEARTBEAT_INTERVAL:  # status stays truthful
                    beat = time.monotonic()
                    self.heartbeat_job()
        if not self.stop_event.is_set():
            self.health_job()
            self.retention_job()
        return self._finish()
