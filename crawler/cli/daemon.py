"""Daemon commands: `run` (the scheduler, or `--once` for cron) and `status`."""

from __future__ import annotations

import json
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from sqlalchemy import func, select

from crawler.cli.context import AppContext, creates_database, pass_app
from crawler.daemon.health import TROUBLE
from crawler.daemon.lock import LOCK_NAME, STALE_AFTER, describe_holder, pid_alive, probe, read_row
from crawler.errors import ConfigError
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import Alert, CrawlRun, Source, utcnow

STATUS_KEYS = (
    "daemon", "database", "sources", "trouble", "alerts", "checked_at", "executor", "workers",
    "queue_depth",
)  # fmt: skip


@click.command("run")
@click.option("--once", is_flag=True, help="Run every due job one time and exit (for cron).")
@click.option(
    "--log-format",
    type=click.Choice(["kv", "json"]),
    help="key=value lines or JSON lines (default: [logging] format).",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Minimum level (default: [logging] level).",
)
@click.option(
    "--crawl-logs",
    type=click.Path(path_type=Path, file_okay=False),
    help="Append each crawl process' output to DIR/<source>.log.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus /metrics on 127.0.0.1:PORT (default: [scheduler] metrics_port).",
)
@pass_app
@creates_database
def run(
    app: AppContext,
    once: bool,
    log_format: str | None,
    log_level: str | None,
    crawl_logs: Path | None,
    metrics_port: int | None,
) -> None:
    """Run the daemon: scheduled crawls, alert dispatch, source health and retention.

    SIGTERM or Ctrl-C stops it gracefully: running crawls get scheduler.grace_period seconds,
    then are killed, and pending alerts are sent once more. Only one daemon may run against a
    database; a second one exits with an error naming the first, except with
    [scheduler] executor = "celery", where it waits as a hot standby and takes over when the
    leader dies. Creates (and migrates) a missing SQLite database.
    """
    settings = app.settings
    if settings.scheduler.executor == "celery":
        from crawler.daemon.executors.celery import check_distributed

        check_distributed(settings)  # before the database is opened (or created)
    app.matcher()  # a bad or missing topic pack stops the daemon before it starts (exit 2)
    from crawler.logs import setup_logging  # here: structlog and Twisted's logger, ~6 MB

    setup_logging(log_level or settings.logging.level, log_format or settings.logging.format)
    from crawler.daemon.scheduler import Daemon

    if crawl_logs is not None:
        try:
            crawl_logs.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the --crawl-logs folder {crawl_logs}: {exc.strerror or exc}"
            ) from None
    daemon = Daemon(settings, app.db, crawl_logs=crawl_logs)
    if metrics_port is not None:
        daemon.metrics_port = metrics_port
    daemon.install_signals()
    code = daemon.run_once() if once else daemon.run()
    if code:
        raise SystemExit(code)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def daemon_state(db: Database, now: datetime) -> dict[str, Any]:
    """Whether a daemon runs: lock probe, heartbeat freshness and (same host) the pid."""
    row = read_row(db, LOCK_NAME)
    held = probe(db, LOCK_NAME)
    state: dict[str, Any] = {
        "running": False,
        "pid": None,
        "hostname": None,
        "started_at": None,
        "heartbeat_at": None,
        "heartbeat_age_seconds": None,
        "lock_held": held,
        "reason": "no daemon has run on this database",
    }
    if row is None:
        if held:
            state.update(running=True, reason="the lock is held (daemon starting)")
        return state
    age = (now - row.heartbeat_at).total_seconds()
    local = row.hostname == socket.gethostname()
    alive = pid_alive(row.pid) if local else None
    fresh = age <= STALE_AFTER
    state.update(
        pid=row.pid,
        hostname=row.hostname,
        started_at=_iso(row.started_at),
        heartbeat_at=_iso(row.heartbeat_at),
        heartbeat_age_seconds=round(age, 1),
        pid_alive=alive,
    )
    if held is False or alive is False:
        state["reason"] = "stopped" if not row.active else "not running (it did not stop cleanly)"
    elif held and not fresh:
        state.update(running=True, reason=f"running, but no heartbeat for {age:.0f}s (hung?)")
    elif held or (row.active and fresh):
        state.update(running=True, reason=f"running: {describe_holder(row, now)}")
    else:
        state["reason"] = f"not running (last heartbeat {age:.0f}s ago)"
    state["info"] = row.info if state["running"] else {}
    return state


def collect_status(app: AppContext) -> dict[str, Any]:
    """Everything `newswatch status` shows, as one JSON-ready dict."""
    settings, db = app.settings, app.db
    now = utcnow()
    daemon = daemon_state(db, now)
    next_runs: dict[str, Any] = dict(daemon.get("info", {}).get("next_runs") or {})
    running: dict[str, Any] = dict(daemon.get("info", {}).get("running") or {})
    sources: list[dict[str, Any]] = []
    trouble: list[dict[str, Any]] = []
    with db.session() as session:
        rows = {r.name: r for r in session.scalars(select(Source))}
        latest = select(func.max(CrawlRun.id)).group_by(CrawlRun.source_id)
        last = {
            r.source_id: r for r in session.scalars(select(CrawlRun).where(CrawlRun.id.in_(latest)))
        }
        counts = dict(
            session.execute(select(Alert.status, func.count()).group_by(Alert.status)).all()
        )
        for config in settings.sources:
            row = rows.get(config.name)
            run = last.get(row.id) if row is not None else None
            entry: dict[str, Any] = {
                "name": config.name,
                "enabled": config.enabled,
                "interval": config.interval or settings.scheduler.default_interval,
                "next_run_at": next_runs.get(f"crawl:{config.name}") if config.enabled else None,
                "running": config.name in running,
                "health": row.health_status if row is not None else "new",
                "consecutive_failures": row.consecutive_failures if row is not None else 0,
                "last_error_kind": row.last_error_kind if row is not None else None,
                "last_error_message": row.last_error_message if row is not None else None,
                "backoff_until": _iso(row.backoff_until) if row is not None else None,
                "last_success_at": _iso(row.last_success_at) if row is not None else None,
                "last_new_article_at": _iso(row.last_new_article_at) if row is not None else None,
                "last_run": repo.run_summary(run) if run is not None else None,
            }
            sources.append(entry)
            backing_off = (
                row is not None and row.backoff_until is not None and (row.backoff_until > now)
            )
            if entry["health"] in TROUBLE or entry["consecutive_failures"] or backing_off:
                trouble.append(
                    {
                        "name": config.name,
                        "health": entry["health"],
                        "consecutive_failures": entry["consecutive_failures"],
                        "last_error_kind": entry["last_error_kind"],
                        "backoff_until": entry["backoff_until"],
                    }
                )
    info = daemon.pop("info", None) or {}
    from crawler.daemon.leases import list_workers

    with db.session() as session:
        workers = list_workers(session, now)
    return {
        "executor": info.get("executor") or settings.scheduler.executor,
        "queue_depth": info.get("queue_depth"),
        "workers": workers,
        "checked_at": now.isoformat(),
        "daemon": daemon,
        "database": db.safe_url,
        "sources": sources,
        "trouble": trouble,
        "alerts": {
            "pending": counts.get("pending", 0),
            "failed": counts.get("failed", 0),
            "sending": counts.get("sending", 0),
            "by_status": counts,
        },
    }


def _short(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else "-"


def print_status(app: AppContext, data: dict[str, Any]) -> None:
    """The human view of `status`."""
    console, daemon = app.console, data["daemon"]
    color = "green" if daemon["running"] else "red"
    role = "leader" if data["executor"] == "celery" else "daemon"
    console.print(
        f"{role}: [{color}]{'running' if daemon['running'] else 'not running'}"
        f"[/{color}] — {daemon['reason']}"
    )
    console.print(f"database: {data['database']}")
    if data["executor"] == "celery" or data["workers"]:
        depth = data["queue_depth"]
        console.print(
            f"executor: {data['executor']} — queue depth "
            f"{depth if depth is not None else 'unknown'}"
        )
        for w in data["workers"]:
            wcolor = {"alive": "green", "lost": "red"}.get(w["state"], "white")
            busy = ", ".join(sorted(w["running"])) or "idle"
            console.print(
                f"  worker {w['id']}: [{wcolor}]{w['state']}[/{wcolor}] "
                f"(heartbeat {w['heartbeat_age_seconds']:.0f}s ago, concurrency "
                f"{w['concurrency']}, {busy})"
            )
    table = Table(box=None)
    for column in ("source", "health", "last run", "result", "new", "next run", "error"):
        table.add_column(column)
    for s in data["sources"]:
        run = s["last_run"] or {}
        result = "running" if s["running"] else str(run.get("status") or "-")
        health = s["health"] if s["enabled"] else "disabled"
        hcolor = {"ok": "green", "failing": "red", "quiet": "yellow"}.get(health, "white")
        nxt = _short(s["next_run_at"])
        if s["backoff_until"] and s["consecutive_failures"]:
            nxt += " (backoff)"
        table.add_row(
            s["name"],
            f"[{hcolor}]{health}[/{hcolor}]",
            _short(run.get("started_at")),
            result,
            str(run.get("new_articles", "-")),
            nxt,
            s["last_error_kind"] or "",
        )
    console.print(table)
    if data["trouble"]:
        names = ", ".join(t["name"] for t in data["trouble"])
        console.print(f"[yellow]sources in trouble:[/yellow] {names}")
    alerts = data["alerts"]
    console.print(
        f"alerts: {alerts['pending']} pending, {alerts['sending']} sending, "
        f"{alerts['failed']} failed"
    )


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Show whether the daemon runs, each source's last crawl and next run, and alert counts."""
    data = collect_status(app)
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        print_status(app, data)


commands: list[click.Command] = [run, status]
