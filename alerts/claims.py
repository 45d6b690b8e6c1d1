"""Claiming outbox rows so that two dispatchers never send the same one.

One statement claims a batch: `UPDATE alerts SET status='sending' … WHERE id IN (SELECT …)
RETURNING id`. On PostgreSQL the inner SELECT takes `FOR UPDATE SKIP LOCKED`, so concurrent
dispatchers split the due rows without waiting for each other; on SQLite the UPDATE itself takes
the single write lock (`BEGIN IMMEDIATE` semantics) and the outer `status='pending'` condition
makes the claim conditional. A row left in `sending` longer than the lease (its dispatcher died
mid-send) is put back, counting the lost attempt.

Within a channel, alerts go out in id order: a row is not claimed while an earlier alert or
follow-up of its channel waits for a retry or is being sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from crawler.storage.models import Alert

ALERT_KINDS = ("alert", "follow_up")
RECLAIM_NOTE = (
    "lease expired while sending (the dispatcher stopped mid-send; a duplicate is possible)"
)


def claim(
    session: Session, *, worker: str, now: datetime, limit: int, skip_locked: bool
) -> list[int]:
    """Mark up to `limit` due rows `sending` for `worker`; return their ids in send order."""
    earlier = aliased(Alert)
    blocked_by_earlier = exists().where(
        earlier.channel == Alert.channel,
        earlier.id < Alert.id,
        earlier.kind.in_(ALERT_KINDS),
        or_(
            and_(earlier.status == "pending", earlier.next_attempt_at > now),
            earlier.status == "sending",
        ),
    )
    due = (
        select(Alert.id)
        .where(
            Alert.status == "pending",
            Alert.next_attempt_at <= now,
            or_(Alert.kind.not_in(ALERT_KINDS), ~blocked_by_earlier),
        )
        .order_by(Alert.id)
        .limit(limit)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True, of=Alert)
    # A materialised CTE runs the LIMITed select once; as a plain `IN (subquery)` PostgreSQL may
    # rescan it per row and, skipping the rows it just updated, claim far more than `limit`.
    batch = due.cte("due").prefix_with("MATERIALIZED")
    stmt = (
        update(Alert)
        .where(Alert.id.in_(select(batch.c.id)), Alert.status == "pending")
        .values(status="sending", claimed_by=worker, claimed_at=now)
        .returning(Alert.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(session.execute(stmt).scalars())


def _put_back(
    session: Session, *conditions: ColumnElement[bool], now: datetime, max_attempts: int
) -> list[tuple[int, str]]:
    """Return the `sending` rows matching `conditions` to the queue, counting the lost attempt
    (failed when out of attempts)."""
    stmt = (
        update(Alert)
        .where(Alert.status == "sending", *conditions)
        .values(
            status=case((Alert.attempts + 1 >= max_attempts, "failed"), else_="pending"),
            attempts=Alert.attempts + 1,
            claimed_by=None,
            claimed_at=None,
            next_attempt_at=now,
            last_error=RECLAIM_NOTE,
        )
        .returning(Alert.id, Alert.status)
        .execution_options(synchronize_session=False)
    )
    return sorted((row[0], row[1]) for row in session.execute(stmt))


def reclaim_stale(
    session: Session, *, now: datetime, cutoff: datetime, max_attempts: int
) -> list[tuple[int, str]]:
    """Put rows whose claim is older than `cutoff` back (or fail them when out of attempts)."""
    return _put_back(session, Alert.claimed_at < cutoff, now=now, max_attempts=max_attempts)


def release(
    session: Session,
    ids: Sequence[int],
    *,
    worker: str,
    until: datetime | None = None,
    note: str | None = None,
) -> int:
    """Give claimed rows back unsent and uncounted (optionally not before `until`)."""
    if not ids:
        return 0
    values: dict[str, object] = {"status": "pending", "claimed_by": None, "claimed_at": None}
    if until is not None:
        values["next_attempt_at"] = until
    if note is not None:
        values["last_error"] = note
    stmt = (
        update(Alert)
        .where(Alert.id.in_(list(ids)), Alert.status == "sending", Alert.claimed_by == worker)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def release_dead_claims(
    session: Session, *, prefix: str, alive: str, now: datetime, max_attempts: int
) -> list[tuple[int, str]]:
    """Put back at once rows claimed by earlier daemons (`prefix…`, not `alive`).

    Only the holder of the single-daemon lock calls this, so every other daemon claim belongs
    to a process that is gone; its lost attempt is counted, as when a lease expires.
    """
    return _put_back(
        session,
        Alert.claimed_by.startswith(prefix, autoescape=True),
        Alert.claimed_by != alive,
        now=now,
        max_attempts=max_attempts,
    )


def renew(session: Session, *, worker: str, now: datetime) -> int:
    """Refresh the claims `worker` holds (its heartbeat), so its short lease never lapses."""
    stmt = (
        update(Alert)
        .where(Alert.status == "sending", Alert.claimed_by == worker)
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]
