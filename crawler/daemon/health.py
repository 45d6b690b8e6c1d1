"""Source health: which sources are failing or quiet, alerted once per episode and on recovery.

A source is *failing* after `scheduler.failure_alert_after` failed runs in a row, and *quiet*
when it runs fine but produced no new article for `scheduler.quiet_alert_hours`. The state is
kept in `Source.health_status` (new → ok ⇄ failing/quiet), so a daemon restart never repeats
an alert: an alert goes out when a source enters a trouble state, and one "recovered" notice
when it leaves it. The outbox's idempotency key (source, state, episode) backs this up if two
checks race. A source that recovers from failing always gets its recovery notice first; quiet
time is then counted from the recovery, not from the last article before the outage.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.config import Settings
from crawler.daemon.lock import pid_alive
from crawler.storage import repo
from crawler.storage.models import CrawlRun, Source, utcnow

log = logging.getLogger(__name__)
TROUBLE = ("failing", "quiet")


@dataclass(frozen=True)
class HealthEvent:
    """A health alert that was enqueued for a source."""

    source: str
    state: str  # failing | quiet | recovered
    message: str


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    hours = (now - when).total_seconds() / 3600
    return f"{hours:.1f} h ago" if hours >= 1 else f"{hours * 60:.0f} min ago"


def quiet_since(source: Source) -> datetime:
    """The moment from which a source's silence is counted."""
    ref = source.last_new_article_at or source.first_crawl_finished_at or source.created_at
    if source.health_status == "ok" and source.health_alerted_at is not None:
        ref = max(ref, source.health_alerted_at)  # the last alert was a recovery notice
    return ref


def assess(source: Source, settings: Settings, now: datetime) -> str:
    """The health state a source is in now: new, ok, failing or quiet."""
    cfg = settings.scheduler
    if source.consecutive_failures >= cfg.failure_alert_after:
        return "failing"
    if source.last_success_at is None:
        return "failing" if source.health_status == "failing" else "new"
    if now - quiet_since(source) > timedelta(hours=cfg.quiet_alert_hours):
        return "quiet"
    return "ok"


def error_sample(session: Session, source: Source) -> str | None:
    """An example of the last failed run's main error (`<url>: HTTP 500`), else its message."""
    run = session.scalars(
        select(CrawlRun)
        .where(CrawlRun.source_id == source.id, CrawlRun.status != "running")
        .order_by(CrawlRun.id.desc())
        .limit(1)
    ).first()
    if run is None:
        return source.last_error_message
    samples = (run.error_samples or {}).get(source.last_error_kind or "") or []
    return str(samples[0])[:300] if samples else (run.message or source.last_error_message)


def describe_state(
    source: Source, state: str, settings: Settings, now: datetime, sample: str | None = None
) -> str:
    """The human sentence of a health alert."""
    name = source.name
    if state == "failing":
        kind = source.last_error_kind or "unknown error"
        detail = f": {sample}" if sample else ""
        retry = ""
        if source.backoff_until is not None and source.backoff_until > now:
            retry = f"; next attempt at {source.backoff_until:%H:%M:%S} UTC (backing off)"
        return (
            f"Source {name} failed {source.consecutive_failures} runs in a row "
            f"(last error: {kind}{detail}); last success {_ago(source.last_success_at, now)}"
            f"{retry}."
        )
    if state == "quiet":
        hours = settings.scheduler.quiet_alert_hours
        return (
            f"Source {name} has produced no new article for more than {hours:g} h "
            f"(last new article {_ago(source.last_new_article_at, now)}); its crawls succeed, "
            "so the feed may be stale or have moved."
        )
    return f"Source {name} recovered: last successful crawl {_ago(source.last_success_at, now)}."


def check_source(
    session: Session, source: Source, settings: Settings, now: datetime | None = None
) -> HealthEvent | None:
    """Update one source's health state; enqueue an alert on entering or leaving trouble."""
    from alerts.outbox import enqueue_health_alert

    now = now or utcnow()
    previous = source.health_status
    state = assess(source, settings, now)
    if previous == "failing" and state != "failing":
        state = "ok"  # announce the recovery first; quiet time restarts from it
    if state == previous or (state == "new" and previous in ("new", "ok")):
        return None
    alert_state: str | None = None
    if state in TROUBLE:
        alert_state = state
    elif previous in TROUBLE:
        alert_state = "recovered"
    source.health_status = state
    if alert_state is None:
        return None
    sample = error_sample(session, source) if alert_state == "failing" else None
    message = describe_state(source, alert_state, settings, now, sample)
    enqueue_health_alert(
        session, source=source, state=alert_state, message=message, settings=settings, now=now
    )
    source.health_alerted_at = now
    log.warning(
        "event=source_health source=%s state=%s previous=%s failures=%s last_error=%s",
        source.name,
        alert_state,
        previous,
        source.consecutive_failures,
        source.last_error_kind,
    )
    return HealthEvent(source.name, alert_state, message)


def check_all(
    session: Session, settings: Settings, now: datetime | None = None
) -> list[HealthEvent]:
    """Check every enabled configured source (the periodic health job)."""
    now = now or utcnow()
    names = [s.name for s in settings.sources if s.enabled]
    if not names:
        return []
    rows = session.scalars(select(Source).where(Source.name.in_(names)).order_by(Source.name))
    return [event for row in rows if (event := check_source(session, row, settings, now))]


def close_orphan_runs(
    session: Session, live_run_ids: set[int], settings: Settings, now: datetime | None = None
) -> list[int]:
    """Close `running` runs whose process is gone (a daemon crash, or a DB outage at the end).

    Only runs on this host are judged by their pid. A run without a pid (its process never
    started) or one older than twice the crawl timeout is closed too.
    """
    now = now or utcnow()
    host = socket.gethostname()
    too_old = now - timedelta(seconds=2 * settings.scheduler.crawl_timeout + 60)
    closed: list[int] = []
    runs = session.scalars(select(CrawlRun).where(CrawlRun.status == "running")).all()
    for run in runs:
        if run.id in live_run_ids:
            continue
        started = run.started_at
        # A pid means something only on the host it ran on (workers run on other machines;
        # their lost runs are closed when another worker takes the source's lease over).
        local = run.hostname in (None, host)
        dead = (
            local
            and run.pid is not None
            and not pid_alive(run.pid)
            and started < now - timedelta(seconds=5)
        )
        if dead or started < too_old or (run.pid is None and started < now - timedelta(minutes=5)):
            repo.finish_run(
                session,
                run.id,
                status="crashed",
                only_if_running=True,
                now=now,
                message="crawl process disappeared without recording a result "
                "(daemon restart, or the database was unreachable when it ended)",
            )
            closed.append(run.id)
            log.warning("event=orphan_run_closed run_id=%s pid=%s", run.id, run.pid)
    return closed
