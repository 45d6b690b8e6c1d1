"""Per-source leases and the worker registry, in the shared database (PostgreSQL in production).

`acquire` is one INSERT … ON CONFLICT DO UPDATE … WHERE: it succeeds when nobody holds the
source, when the lease expired, or when its holder stopped heartbeating (a SIGKILLed worker);
the database's row lock makes two workers' attempts on one source serialise, so exactly one
wins. A worker refreshes its leases with its heartbeat, so a long crawl never loses its lease
while the worker lives.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from crawler.storage.models import utcnow
from crawler.storage.models_scaleout import SourceLease, Worker

WORKER_HEARTBEAT = 2.0
WORKER_STALE_AFTER = 15.0


def worker_id(role: str = "worker") -> str:
    """A process-unique name: role@host:pid."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}"


def stale_workers(now: datetime) -> Any:
    """A subquery of workers that stopped or stopped heartbeating."""
    cutoff = now - timedelta(seconds=WORKER_STALE_AFTER)
    return select(Worker.id).where(
        or_(Worker.heartbeat_at < cutoff, Worker.stopped_at.is_not(None))
    )


def acquire(
    session: Session, source: str, holder: str, *, ttl: float, job_id: str | None = None
) -> bool:
    """Take the lease on `source` for `ttl` seconds; False when a live worker holds it."""
    now = utcnow()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = {
        "source_name": source,
        "holder": holder,
        "job_id": job_id,
        "acquired_at": now,
        "expires_at": now + timedelta(seconds=ttl),
    }
    base = insert(SourceLease).values(**values)
    stmt = base.on_conflict_do_update(
        index_elements=[SourceLease.source_name],
        set_={k: base.excluded[k] for k in ("holder", "job_id", "acquired_at", "expires_at")},
        where=or_(
            SourceLease.expires_at < now,
            SourceLease.holder.in_(stale_workers(now)),
        ),
    ).returning(SourceLease.holder)
    return session.execute(stmt).scalar() == holder


def release(session: Session, source: str, holder: str) -> None:
    """Give the lease back (only if we still hold it)."""
    session.execute(
        delete(SourceLease).where(SourceLease.source_name == source, SourceLease.holder == holder)
    )


def holder_of(session: Session, source: str) -> str | None:
    """Who holds a source's lease now (expired leases count as free)."""
    lease = session.get(SourceLease, source)
    return lease.holder if lease is not None and lease.expires_at > utcnow() else None


def heartbeat(
    session: Session, wid: str, *, role: str, concurrency: int, info: dict[str, Any], ttl: float
) -> None:
    """Register or refresh a worker, and extend the leases it holds."""
    now = utcnow()
    row = session.get(Worker, wid)
    if row is None:
        host, _, pid = wid.partition("@")[2].rpartition(":")
        row = Worker(id=wid, hostname=host, pid=int(pid or 0), role=role, started_at=now)
        session.add(row)
    row.concurrency, row.heartbeat_at, row.info, row.stopped_at = concurrency, now, info, None
    session.execute(
        update(SourceLease)
        .where(SourceLease.holder == wid)
        .values(expires_at=now + timedelta(seconds=ttl))
        .execution_options(synchronize_session=False)
    )


def stopped(session: Session, wid: str) -> None:
    """Mark a worker stopped and drop its leases (a clean shutdown)."""
    row = session.get(Worker, wid)
    if row is not None:
        row.stopped_at = utcnow()
    session.execute(delete(SourceLease).where(SourceLease.holder == wid))


def list_workers(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every registered worker with its state (alive, stale or stopped), newest first."""
    now = now or utcnow()
    rows = session.scalars(select(Worker).order_by(Worker.heartbeat_at.desc())).all()
    out: list[dict[str, Any]] = []
    for row in rows:
        age = (now - row.heartbeat_at).total_seconds()
        state = "stopped" if row.stopped_at else "alive" if age <= WORKER_STALE_AFTER else "lost"
        out.append(
            {
                "id": row.id,
                "role": row.role,
                "hostname": row.hostname,
                "pid": row.pid,
                "concurrency": row.concurrency,
                "state": state,
                "heartbeat_age_seconds": round(age, 1),
                "running": (row.info or {}).get("running", {}),
            }
        )
    return out
