"""The leader's duties beyond scheduling: the hot standby, freeing a dead daemon's alert claims,
and the gauges read from outside the process (queue depth, outbox states)."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from crawler.config import Settings
from crawler.daemon.jobs import guarded
from crawler.daemon.lock import DaemonLock
from crawler.daemon.metrics import Metrics
from crawler.errors import DatabaseLocked, StorageError
from crawler.logs import get_logger
from crawler.storage.db import Database, describe
from crawler.storage.models import Alert, utcnow

log = get_logger("crawler.daemon.scheduler")
DISPATCHER_PREFIX = "daemon-"
STANDBY_POLL = 1.0


def acquire(lock: DaemonLock, stop: threading.Event, *, standby: bool) -> bool:
    """Take the daemon lock; with `standby` wait (hot standby) instead of refusing.

    Returns False when stopped while waiting. PostgreSQL drops a dead leader's advisory lock
    with its session, so the standby takes over within a poll of the leader's death.
    """
    if not standby:
        lock.acquire()
        return True
    waiting = False
    while True:
        try:
            lock.acquire()
            if waiting:
                log.warning("standby_taking_over", pid=lock.pid)
            return True
        except DatabaseLocked as exc:
            if not waiting:
                log.info("standby_waiting", reason=str(exc).splitlines()[0])
                waiting = True
        except (DBAPIError, StorageError) as exc:
            log.warning("db_unavailable", job="standby", reason=describe(exc))
        if stop.wait(STANDBY_POLL):
            return False


def release_dead_claims(db: Database, settings: Settings, alive: str) -> None:
    """Holding the lock: rows `sending` under an earlier daemon's name go back at once."""
    from alerts.claims import release_dead_claims as release

    with guarded("release_claims"), db.session() as session:
        released = release(
            session,
            prefix=DISPATCHER_PREFIX,
            alive=alive,
            now=utcnow(),
            max_attempts=settings.alerts.max_attempts,
        )
        if released:
            log.warning("alerts_released", count=len(released), reason="previous_daemon_gone")


def observe(db: Database, metrics: Metrics, celery: Any) -> int | None:
    """Refresh the gauges that come from outside this process; returns the queue depth."""
    depth = None
    if celery is not None:
        depth = celery.queue_depth()
        if depth is not None:
            metrics.queue_depth.set(depth)
    with db.session() as session:
        counts = session.execute(select(Alert.status, func.count()).group_by(Alert.status))
        metrics.set_alerts({str(k): int(v) for k, v in counts.all()})
    return depth  # type: ignore[no-any-return]
