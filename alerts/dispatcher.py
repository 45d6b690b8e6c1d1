"""The dispatcher: claim due outbox rows, post them, record each outcome at once.

Delivery is at-least-once. The row is committed `sent` (with Slack's ts) in its own short
transaction the moment Slack answers, so a crash can repeat at most the one message that was
in flight, and only after its lease (5 minutes) expires. Outcomes:

    sent      channel, message ts, sent_at
    retry     attempts+1, next_attempt_at = now + Retry-After on 429, else exponential backoff
              with jitter; other rows of that channel wait behind it (order is kept)
    failed    permanent Slack errors, or attempts exhausted; logged at ERROR
    deferred  a follow-up whose parent is not sent yet, or a channel over its hourly cap
    folded    over the hourly cap: rows are marked sent into one digest message (one per hour)

Time comes from an injectable clock and waiting (one post per second per channel) from an
injectable `sleep`, so tests never sleep.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update

from alerts.claims import ALERT_KINDS, claim, reclaim_stale, release, renew
from alerts.outbox import idempotency_key, insert_alert, message_for
from alerts.report import DispatchStats, kv
from alerts.slack import Sender, SendResult, make_sender
from crawler.config import Settings
from crawler.errors import AlertError, AlertPermanentError, AlertRetryableError
from crawler.storage.db import Database
from crawler.storage.models import Alert, utcnow

log = logging.getLogger(__name__)
HOUR = timedelta(hours=1)
DIGEST_FIELDS = (
    "title",
    "url",
    "outlet",
    "topic",
    "topic_label",
    "score",
    "published_at",
    "topics",
)


class Dispatcher:
    """Sends due outbox rows; safe to run in several processes against one database."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        sender: Sender | None = None,
        clock: Callable[[], datetime] | None = None,
        worker_id: str | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        lease_seconds: float = 300.0,
    ) -> None:
        self.db = db
        self.settings = settings
        self.config = settings.alerts
        self.sender = sender if sender is not None else make_sender(settings)
        self.clock = clock or utcnow
        self.sleep = sleep or time.sleep
        self.rng = rng or random.Random()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=lease_seconds)
        self._last_post: dict[str, datetime] = {}
        self._posted: dict[str, int] = {}

    # ------------------------------------------------------------------ the run

    def run_once(self, limit: int = 100) -> DispatchStats:
        """Claim up to `limit` due rows, send them in order and record every outcome."""
        stats = DispatchStats()
        started = self.clock()
        with self.db.session() as session:
            for alert_id, status in reclaim_stale(
                session,
                now=started,
                cutoff=started - self.lease,
                max_attempts=self.config.max_attempts,
            ):
                log.warning(kv("alert_reclaimed", alert_id=alert_id, status=status))
                stats.reclaimed += 1
        with self.db.session() as session:
            ids = claim(
                session,
                worker=self.worker_id,
                now=started,
                limit=limit,
                skip_locked=self.db.dialect == "postgresql",
            )
        stats.claimed = len(ids)
        if not ids:
            return stats
        log.debug(kv("alerts_claimed", worker=self.worker_id, count=len(ids)))
        self._posted = {}
        queue = deque(ids)
        blocked: set[str] = set()
        over_cap: dict[str, list[int]] = {}
        try:
            while queue and self.clock() - started < self.lease / 2:
                self._process(queue.popleft(), stats, blocked, over_cap)
            for channel, folded in over_cap.items():
                self._fold(channel, folded, stats, blocked)
        finally:
            # Rows not attempted go back untouched; the one in flight (if any) keeps its claim.
            unsent = list(queue) + [i for folded in over_cap.values() for i in folded]
            with self.db.session() as session:
                release(session, unsent, worker=self.worker_id)
        return stats

    def renew_leases(self) -> int:
        """Refresh this dispatcher's claims (called with the daemon's heartbeat)."""
        with self.db.session() as session:
            return renew(session, worker=self.worker_id, now=self.clock())

    def run_until_idle(self, max_rows: int | None = None, batch: int = 100) -> DispatchStats:
        """Run until nothing is due (or `max_rows` rows were claimed); return the totals."""
        total = DispatchStats()
        while max_rows is None or total.claimed < max_rows:
            limit = batch if max_rows is None else min(batch, max_rows - total.claimed)
            stats = self.run_once(limit)
            total.add(stats)
            if stats.claimed == 0 or stats.progressed == 0:
                break
        return total

    # ------------------------------------------------------------------ one row

    def _process(
        self, alert_id: int, stats: DispatchStats, blocked: set[str], over_cap: dict[str, list[int]]
    ) -> None:
        with self.db.session() as session:
            row = session.get(Alert, alert_id)
            parent = (
                session.get(Alert, row.parent_alert_id) if row and row.parent_alert_id else None
            )
        if row is None or row.status != "sending" or row.claimed_by != self.worker_id:
            return
        now = self.clock()
        if row.channel in blocked:
            self._release([alert_id], stats)
            return
        if row.kind in ALERT_KINDS and self._over_cap(row.channel, now):
            over_cap.setdefault(row.channel, []).append(alert_id)
            return
        target, thread_ts = row.channel, None
        if parent is not None and row.kind == "follow_up":
            if parent.status in ("pending", "sending"):
                wait = timedelta(seconds=max(self.config.per_channel_interval, 1.0))
                until = max(parent.next_attempt_at, now + wait)
                note = f"waiting for parent alert {parent.id} to be sent"
                self._release([alert_id], stats, until=until, note=note)
                return
            if parent.slack_ts and self.sender.supports_threads:
                thread_ts = parent.slack_ts
                target = str((parent.payload or {}).get("sent_channel") or row.channel)
        try:
            message = message_for(row, parent, threaded=thread_ts is not None, cap=self._cap())
        except Exception as exc:  # a corrupt payload must not stop the other rows
            self._fail(
                row,
                AlertPermanentError(f"cannot build the message: {exc!r}", reason="bad_payload"),
                stats,
            )
            return
        self._wait_for_slot(row.channel)
        try:
            result = self.sender.send(target, message, thread_ts)
        except AlertPermanentError as exc:
            self._fail(row, exc, stats)
        except AlertRetryableError as exc:
            blocked.add(row.channel)
            self._retry(row, exc, stats)
        except Exception as exc:  # a sender bug: retry with backoff, loudly
            log.exception(kv("alert_send_crashed", alert_id=row.id, channel=row.channel))
            blocked.add(row.channel)
            self._retry(row, AlertRetryableError(repr(exc)[:300], reason="unexpected"), stats)
        else:
            self._mark_sent(row, result, thread_ts, stats)
        finally:
            self._last_post[row.channel] = self.clock()

    def _wait_for_slot(self, channel: str) -> None:
        if not self.sender.rate_limited or channel not in self._last_post:
            return
        free_at = self._last_post[channel] + timedelta(seconds=self.config.per_channel_interval)
        wait = (free_at - self.clock()).total_seconds()
        if wait > 0:
            self.sleep(wait)

    def _cap(self) -> int:
        return self.config.hourly_cap

    def _over_cap(self, channel: str, now: datetime) -> bool:
        if channel not in self._posted:
            with self.db.session() as session:
                self._posted[channel] = (
                    session.scalar(
                        select(func.count(Alert.id)).where(
                            Alert.channel == channel,
                            Alert.status == "sent",
                            Alert.kind.in_(ALERT_KINDS),
                            or_(Alert.destination.is_(None), Alert.destination != "digest"),
                            Alert.sent_at >= now - HOUR,
                        )
                    )
                    or 0
                )
        return self._posted[channel] >= self._cap()

    # ------------------------------------------------------------------ outcomes

    def _mark_sent(
        self, row: Alert, result: SendResult, thread_ts: str | None, stats: DispatchStats
    ) -> None:
        # One UPDATE and a commit right after Slack's answer: the whole duplicate window.
        values: dict[str, Any] = {
            "status": "sent",
            "sent_at": self.clock(),
            "slack_ts": result.ts,
            "thread_ts": thread_ts,
            "destination": self.sender.destination,
            "attempts": row.attempts + 1,
            "claimed_by": None,
            "claimed_at": None,
            "last_error": None,
        }
        if result.channel != row.channel:
            values["payload"] = {**(row.payload or {}), "sent_channel": result.channel}
        mine = (Alert.id == row.id, Alert.status == "sending", Alert.claimed_by == self.worker_id)
        with self.db.session() as session:
            done = session.execute(update(Alert).where(*mine).values(**values)).rowcount  # type: ignore[attr-defined]
            if not done:  # our lease ran out and someone else took the row: record it anyway
                log.warning(kv("alert_claim_lost", alert_id=row.id, channel=row.channel))
                session.execute(update(Alert).where(Alert.id == row.id).values(**values))
        stats.sent += 1
        if row.kind in ALERT_KINDS:
            self._posted[row.channel] = self._posted.get(row.channel, 0) + 1
        log.info(
            kv(
                "alert_sent",
                alert_id=row.id,
                kind=row.kind,
                channel=row.channel,
                ts=result.ts,
                thread_ts=thread_ts,
                destination=self.sender.destination,
                attempts=row.attempts + 1,
            )
        )

    def _retry(self, row: Alert, exc: AlertRetryableError, stats: DispatchStats) -> None:
        now = self.clock()
        attempts = row.attempts + 1
        rate_limited = exc.retry_after is not None
        if attempts >= self.config.max_attempts and not rate_limited:
            gave_up = AlertPermanentError(
                f"gave up after {attempts} attempts: {exc}", reason=exc.reason
            )
            self._fail(row, gave_up, stats)
            return
        if exc.retry_after is not None:
            delay = exc.retry_after  # Slack said when: exactly that, no jitter
        else:
            base = min(self.config.backoff_max, self.config.backoff_base * 2 ** (attempts - 1))
            delay = base / 2 + self.rng.uniform(0, base / 2)
        due = now + timedelta(seconds=delay)
        with self.db.session() as session:
            current = session.get(Alert, row.id)
            assert current is not None
            current.status = "pending"
            current.attempts = attempts
            current.next_attempt_at = due
            current.last_error = f"{exc.reason}: {exc}"
            current.claimed_by = current.claimed_at = None
        stats.retried += 1
        log.warning(
            kv(
                "alert_retry",
                alert_id=row.id,
                channel=row.channel,
                attempts=attempts,
                reason=exc.reason,
                delay=f"{delay:.1f}",
                next_attempt_at=due.isoformat(),
            )
        )

    def _fail(self, row: Alert, exc: AlertError, stats: DispatchStats) -> None:
        with self.db.session() as session:
            current = session.get(Alert, row.id)
            assert current is not None
            current.status = "failed"
            current.attempts = row.attempts + 1
            current.last_error = f"{exc.reason}: {exc}"
            current.claimed_by = current.claimed_at = None
        stats.failed += 1
        log.error(
            kv(
                "alert_failed",
                alert_id=row.id,
                kind=row.kind,
                channel=row.channel,
                reason=exc.reason,
                attempts=row.attempts + 1,
                error=str(exc),
            )
        )

    def _release(
        self,
        ids: list[int],
        stats: DispatchStats,
        *,
        until: datetime | None = None,
        note: str | None = None,
    ) -> None:
        with self.db.session() as session:
            release(session, ids, worker=self.worker_id, until=until, note=note)
        stats.deferred += len(ids)
        if note:
            for alert_id in ids:
                log.info(kv("alert_deferred", alert_id=alert_id, until=until, why=note))

    # ------------------------------------------------------------------ hourly cap

    def _fold(self, channel: str, ids: list[int], stats: DispatchStats, blocked: set[str]) -> None:
        """Fold rows over the hourly cap into one digest (or hold them for the next one)."""
        now = self.clock()
        with self.db.session() as session:
            last_digest = session.scalar(
                select(func.max(Alert.created_at)).where(
                    Alert.kind == "digest", Alert.channel == channel
                )
            )
        if last_digest is not None and now - last_digest < HOUR:
            until = last_digest + HOUR
            note = f"held: hourly cap of {self._cap()} reached in {channel}; next digest {until}"
            self._release(ids, stats, until=until, note=note)
            return
        with self.db.session() as session:
            rows = [r for r in (session.get(Alert, i) for i in ids) if r is not None]
            items = [
                {k: v for k, v in (r.payload or {}).get("view", {}).items() if k in DIGEST_FIELDS}
                for r in rows
            ]
            values: dict[str, Any] = {
                "idempotency_key": idempotency_key("digest", channel, f"a{min(ids)}"),
                "kind": "digest",
                "channel": channel,
                "status": "sending",
                "claimed_by": self.worker_id,
                "claimed_at": now,
                "payload": {"items": items, "alert_ids": ids, "cap": self._cap()},
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            digest, _ = insert_alert(session, values)
            for r in rows:
                r.status = "sent"
                r.destination = "digest"
                r.sent_at = now
                r.claimed_by = r.claimed_at = None
                r.last_error = None
                r.payload = {**(r.payload or {}), "digest_id": digest.id}
            digest_id = digest.id
        stats.folded += len(ids)
        stats.digests += 1
        log.info(kv("alerts_folded", digest_id=digest_id, channel=channel, count=len(ids)))
        self._process(digest_id, stats, blocked, {})
