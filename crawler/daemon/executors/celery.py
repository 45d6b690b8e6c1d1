"""The celery executor: the leader enqueues crawl jobs on Redis, `newswatch worker`s run them.

Delivery semantics (Celery/kombu facts this relies on):
* `task_acks_late` + `task_reject_on_worker_lost`: a job is acknowledged only after it ran, so
  a worker killed mid-crawl leaves it unacknowledged;
* the Redis transport re-queues unacknowledged jobs older than `visibility_timeout`; it is set
  above the crawl timeout (a running crawl is never handed out twice because it is slow), and
  the restore sweep runs on every idle poll (`unacked_restore_throttle = 1`);
* `worker_prefetch_multiplier = 1`: a worker holds no more jobs than it can run.
A redelivered or duplicated job is harmless: the per-source lease (crawler.daemon.leases) stops
a second crawl of a source, a job whose source was crawled since it was enqueued is dropped,
and articles (unique URL), matches (unique article+topic) and alerts (unique idempotency key)
cannot be stored twice.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from crawler.config import ENV_BROKER_URL, Settings
from crawler.errors import ConfigError
from crawler.logs import get_logger
from crawler.sources import SourceConfig
from crawler.storage.db import Database
from crawler.storage.models import CrawlRun, Source, utcnow

log = get_logger(__name__)
TASK_NAME = "newswatch.crawl"
QUEUE = "newswatch.crawl"


class BrokerUnavailable(Exception):
    """The broker refused or timed out a publish; scheduling pauses until it answers."""


def broker_url() -> str:
    """$NEWSWATCH_BROKER_URL, or ConfigError."""
    url = os.environ.get(ENV_BROKER_URL, "").strip()
    if not url:
        raise ConfigError(
            f'[scheduler] executor = "celery" needs ${ENV_BROKER_URL} '
            "(e.g. redis://127.0.0.1:6379/0)"
        )
    if not url.startswith(("redis://", "rediss://")):
        raise ConfigError(f"${ENV_BROKER_URL} must be a redis:// or rediss:// URL")
    return url


def check_distributed(settings: Settings) -> None:
    """Distributed mode needs PostgreSQL (one store for every machine) and a broker."""
    from sqlalchemy.engine import make_url

    from crawler.storage.db import normalise_url

    try:
        backend = make_url(normalise_url(settings.database_url)).get_backend_name()
    except Exception:  # an unparsable URL: the database layer reports it
        backend = "?"
    if backend != "postgresql":
        raise ConfigError(
            '[scheduler] executor = "celery" needs PostgreSQL: workers on other machines '
            "cannot share a SQLite file (set $NEWSWATCH_DATABASE_URL)"
        )
    broker_url()


def visibility_timeout(settings: Settings) -> float:
    """Longer than a crawl may take, so a slow crawl is not redelivered while it runs."""
    return settings.scheduler.crawl_timeout * 1.25 + 10.0


def make_app(settings: Settings) -> Any:
    """The Celery app for this configuration (no result backend: results live in the DB)."""
    from celery import Celery

    app = Celery("newswatch", broker=broker_url(), set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3.0,
        broker_transport_options={
            "visibility_timeout": visibility_timeout(settings),
            "unacked_restore_throttle": 1,
            "unacked_restore_interval": 2,
            "socket_timeout": 5.0,
            "socket_connect_timeout": 3.0,
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    return app


class CeleryDispatch:
    """The leader's side: enqueue a source's crawl unless one is already waiting for it."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.app = make_app(settings)
        self.enqueued: dict[str, datetime] = {}
        self.paused_reason: str | None = None
        self._lock = threading.Lock()

    def _waiting(self, source: SourceConfig, now: datetime) -> bool:
        """A job for this source was enqueued and no crawl started since (within the timeout)."""
        when = self.enqueued.get(source.name)
        if when is None or (now - when).total_seconds() > visibility_timeout(self.settings):
            return False
        with self.db.session() as session:
            last = session.scalar(
                select(func.max(CrawlRun.started_at))
                .join(Source, Source.id == CrawlRun.source_id)
                .where(Source.name == source.name)
            )
        return last is None or last < when

    def enqueue(self, source: SourceConfig) -> bool:
        """Publish one crawl job; False if one is waiting already; BrokerUnavailable on outage."""
        now = utcnow()
        if self._waiting(source, now):
            log.debug("crawl_job_waiting", source=source.name)
            return False
        try:
            self.app.send_task(
                TASK_NAME,
                args=[source.name, now.isoformat()],
                queue=QUEUE,
                retry=True,
                retry_policy={"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5},
            )
        except Exception as exc:  # kombu raises OperationalError and friends on an outage
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            with self._lock:
                if self.paused_reason is None:
                    log.error("broker_unavailable", action="scheduling_paused", reason=reason)
                self.paused_reason = reason
            raise BrokerUnavailable(reason) from None
        with self._lock:
            if self.paused_reason is not None:
                log.warning("broker_recovered", action="scheduling_resumed")
                self.paused_reason = None
        self.enqueued[source.name] = now
        log.info("crawl_enqueued", source=source.name)
        return True

    def queue_depth(self) -> int | None:
        """Jobs waiting in the broker queue (None while it cannot be asked)."""
        try:
            with self.app.connection_for_write() as conn:
                client = conn.default_channel.client
                return int(client.llen(QUEUE))
        except Exception as exc:  # an outage: status shows "unknown"
            log.debug("queue_depth_failed", reason=exc)
            return None

    def close(self) -> None:
        """Release the broker connections."""
        self.app.close()
