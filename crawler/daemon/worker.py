"""`newswatch worker`: runs crawl jobs from the broker on this machine, in warm crawl processes.

Each job: take the source's lease (or drop the job: another worker crawls it), drop it if the
source was crawled since the job was enqueued (a redelivered duplicate), close runs a lost
worker left `running` for the source, stop leftover crawl processes on this host, crawl, then
set the source's backoff and health exactly as the single-machine daemon does. The worker
heartbeats into the `workers` table (and so keeps its leases) every couple of seconds.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from crawler.config import Settings
from crawler.daemon import health, leases
from crawler.daemon.executors.celery import QUEUE, TASK_NAME, check_distributed, make_app
from crawler.daemon.hosts import HostedRun, HostPool
from crawler.daemon.jobs import backoff_delay
from crawler.daemon.metrics import Metrics
from crawler.daemon.orphans import stop_orphans
from crawler.errors import StorageError
from crawler.logs import get_logger
from crawler.sources import SourceConfig
from crawler.storage import repo
from crawler.storage.db import Database, describe
from crawler.storage.models import CrawlRun, utcnow

log = get_logger(__name__)
DONE_STATUSES = ("ok", "partial", "not_modified", "failed", "timed_out")
LEASE_RETRY_DELAY = 5.0
LEASE_RETRIES = 60
LOST_MESSAGE = "the worker running this crawl was lost (killed or cut off); crawled again"


def settle(db: Database, settings: Settings, source: SourceConfig) -> datetime | None:
    """After a crawl: set or clear the source's backoff and check its health; the backoff end."""
    now = utcnow()
    with db.session() as session:
        row = repo.upsert_source(session, source)
        every = source.interval or settings.scheduler.default_interval
        factor = settings.scheduler.backoff_max_factor
        delay = backoff_delay(every, row.consecutive_failures, factor)
        row.backoff_until = now + timedelta(seconds=delay) if delay else None
        health.check_source(session, row, settings, now)
        return row.backoff_until


class CrawlWorker:
    """One worker process: the Celery consumer, its warm crawl processes and its heartbeat."""

    def __init__(
        self, settings: Settings, db: Database, *, concurrency: int, log_dir: Path | None = None
    ) -> None:
        check_distributed(settings)
        self.settings, self.db, self.concurrency = settings, db, concurrency
        self.id = leases.worker_id("worker")
        self.hosts = HostPool(db, settings, log_dir=log_dir, hosts=settings.scheduler.crawl_hosts)
        self.sources = {s.name: s for s in settings.sources if s.enabled}
        self.running: dict[str, int] = {}
        self.metrics = Metrics("worker")
        self.stop = threading.Event()
        self.lease_ttl = settings.scheduler.crawl_timeout * 2 + 60

    # -- one job ---------------------------------------------------------------------------

    def _already_crawled(self, source_id: int, enqueued_at: datetime) -> bool:
        with self.db.session() as session:
            run = session.scalar(
                select(CrawlRun.id)
                .where(
                    CrawlRun.source_id == source_id,
                    CrawlRun.started_at >= enqueued_at,
                    CrawlRun.status.in_(DONE_STATUSES),
                )
                .limit(1)
            )
        return run is not None

    def _close_lost_runs(self, source_id: int) -> None:
        """We hold the lease, so another `running` scheduled run of this source is dead."""
        with self.db.session() as session:
            lost = session.scalars(
                select(CrawlRun.id).where(
                    CrawlRun.source_id == source_id,
                    CrawlRun.status == "running",
                    CrawlRun.trigger == "schedule",
                )
            ).all()
            for run_id in lost:
                repo.finish_run(
                    session, run_id, status="crashed", message=LOST_MESSAGE, only_if_running=True
                )
                log.warning("lost_run_closed", run_id=run_id)

    def handle(self, name: str, enqueued: str, job_id: str | None = None) -> str:
        """Run one crawl job; returns what happened (for the log and the tests)."""
        source = self.sources.get(name)
        if source is None:
            log.warning("crawl_job_dropped", source=name, job_id=job_id, reason="unknown_source")
            return "unknown_source"
        enqueued_at = datetime.fromisoformat(enqueued)
        with self.db.session() as session:
            got = leases.acquire(session, name, self.id, ttl=self.lease_ttl, job_id=job_id)
            source_id = repo.upsert_source(session, source).id
        if not got:
            log.info("crawl_job_deferred", source=name, job_id=job_id, reason="leased")
            return "leased"
        try:
            if self._already_crawled(source_id, enqueued_at):
                log.info(
                    "crawl_job_dropped", source=name, job_id=job_id, reason="crawled_since_enqueued"
                )
                return "duplicate"
            log.info("crawl_job_started", source=name, job_id=job_id)
            self._close_lost_runs(source_id)
            stop_orphans(self.db, source_id=source_id)
            outcome = self.hosts.run(source, trigger="schedule", on_start=self._started)
            self.running.pop(name, None)
            settle(self.db, self.settings, source)
            self.metrics.crawl_done(outcome)
            log.info(
                "crawl_done",
                source=name,
                job_id=job_id,
                run_id=outcome.run_id,
                status=outcome.status,
            )
            return outcome.status
        finally:
            self.running.pop(name, None)
            with self.db.session() as session:
                leases.release(session, name, self.id)

    def _started(self, handle: HostedRun) -> None:
        self.running[handle.source.name] = handle.run_id

    # -- the process -----------------------------------------------------------------------

    def _heartbeat(self, info: dict[str, Any]) -> None:
        with self.db.session() as session:
            leases.heartbeat(
                session,
                self.id,
                role="worker",
                concurrency=self.concurrency,
                info=info,
                ttl=self.lease_ttl,
            )

    def beat(self) -> None:
        """Heartbeat (and lease renewal) until stopped; an outage is logged and retried."""
        while not self.stop.is_set():
            try:
                self._heartbeat({"running": dict(self.running)})
            except Exception as exc:
                log.warning("db_unavailable", job="worker_heartbeat", reason=str(exc))
            self.stop.wait(leases.WORKER_HEARTBEAT)

    def run(self, metrics_port: int = 0) -> int:
        """Consume crawl jobs until SIGTERM/SIGINT (Celery's warm shutdown)."""
        app = make_app(self.settings)

        @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
        def crawl(task: Any, name: str, enqueued: str) -> str:
            try:
                result = self.handle(name, enqueued, task.request.id)
            except (DBAPIError, StorageError) as exc:  # the database is away: try again soon
                log.warning("db_unavailable", job=f"crawl:{name}", reason=describe(exc))
                raise task.retry(countdown=LEASE_RETRY_DELAY, max_retries=LEASE_RETRIES) from None
            if result == "leased" and task.request.retries < LEASE_RETRIES:
                # Another worker crawls the source (or died holding the lease): ask again
                # later; by then it is done (this job is then a duplicate) or taken over.
                raise task.retry(countdown=LEASE_RETRY_DELAY, max_retries=LEASE_RETRIES)
            return result

        self._heartbeat({})
        stop_orphans(self.db)
        if metrics_port:
            self.metrics.serve(metrics_port, self.settings.scheduler.metrics_host)
        beat = threading.Thread(target=self.beat, name="worker-heartbeat", daemon=True)
        beat.start()
        log.info(
            "worker_started", id=self.id, concurrency=self.concurrency, sources=len(self.sources)
        )
        try:
            worker = app.Worker(
                pool="threads",
                concurrency=self.concurrency,
                hostname=self.id,
                queues=[QUEUE],
                without_mingle=True,
                without_gossip=True,
                without_heartbeat=True,
                quiet=True,
                loglevel=logging.getLevelName(logging.getLogger().level),
            )
            worker.start()
            code = int(worker.exitcode or 0)
        finally:
            self.stop.set()
            self.hosts.close()
            try:
                with self.db.session() as session:
                    leases.stopped(session, self.id)
            except Exception as exc:
                log.warning("db_unavailable", job="worker_stop", reason=str(exc))
            log.info("worker_stopped", id=self.id)
        return code
