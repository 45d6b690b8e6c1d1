"""`newswatch alerts` (list, retry, send the outbox) and `newswatch slack test`."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text
from sqlalchemy import select

from crawler.cli.context import AppContext
from crawler.cli.tables import Column, fitted_table
from crawler.storage.models import Alert, utcnow

STATUSES = ("pending", "sending", "sent", "failed", "suppressed")
ALERT_COLUMNS = (
    Column("id", justify="right"), Column("kind", 3), Column("status"), Column("channel", 2),
    Column("tries", 4, "right"), Column("sent / next try", 1),
    Column("headline / error", wrap=True),
)  # fmt: skip


def _app(ctx: click.Context) -> AppContext:
    return ctx.ensure_object(AppContext)


def describe(alert: Alert) -> str:
    """A one-line summary of what an outbox row announces."""
    payload: dict[str, Any] = alert.payload or {}
    if alert.kind == "health":
        health = payload.get("health") or {}
        return f"{health.get('source')} is {health.get('state')}: {health.get('message')}"
    if alert.kind == "digest":
        return f"digest of {len(payload.get('items') or [])} alerts"
    view = payload.get("view") or {}
    return str(view.get("title") or view.get("url") or "")


def _when(alert: Alert) -> str:
    stamp = alert.sent_at if alert.status == "sent" else alert.next_attempt_at
    return stamp.strftime("%Y-%m-%d %H:%M:%S") if stamp else ""


@click.group("alerts", invoke_without_command=True)
@click.option("--status", type=click.Choice(STATUSES), help="Only rows with this status.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Rows to show."
)
@click.pass_context
def alerts_cmd(ctx: click.Context, status: str | None, limit: int) -> None:
    """List the alert outbox, newest first; `retry` and `send` act on it."""
    if ctx.invoked_subcommand is not None:
        return
    app = _app(ctx)
    stmt = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Alert.status == status)
    with app.db.session() as session:
        found = list(session.scalars(stmt))
    if not found:
        app.console.print(f"no {status + ' ' if status else ''}alerts")
        return
    rows: list[list[str | Text]] = []
    for alert in found:
        detail = describe(alert)
        if alert.status in ("failed", "suppressed", "pending") and alert.last_error:
            detail += f"\n{alert.last_error}"
        rows.append(
            [
                str(alert.id),
                alert.kind,
                alert.status,
                Text(alert.channel),
                str(alert.attempts),
                _when(alert),
                Text(detail),
            ]
        )
    table = fitted_table(app.console.width, ALERT_COLUMNS, rows)
    app.console.print(table)


@alerts_cmd.command("retry")
@click.argument("alert_id", type=int, required=False)
@click.option("--failed", "all_failed", is_flag=True, help="Queue every failed alert again.")
@click.pass_context
def retry_cmd(ctx: click.Context, alert_id: int | None, all_failed: bool) -> None:
    """Queue a failed or suppressed alert again (by ID), or every failed one with --failed."""
    if (alert_id is None) == (not all_failed):
        raise click.UsageError("give either an alert ID or --failed")
    app = _app(ctx)
    now = utcnow()
    with app.db.session() as session:
        if alert_id is not None:
            alert = session.get(Alert, alert_id)
            if alert is None:
                raise click.ClickException(f"no alert with id {alert_id}")
            if alert.status not in ("failed", "suppressed"):
                raise click.ClickException(
                    f"alert {alert_id} is {alert.status}; only failed or suppressed alerts "
                    "can be queued again"
                )
            targets = [alert]
        else:
            targets = list(session.scalars(select(Alert).where(Alert.status == "failed")))
        for alert in targets:
            alert.status = "pending"
            alert.attempts = 0
            alert.next_attempt_at = now
            alert.last_error = None
            alert.claimed_by = alert.claimed_at = None
    if alert_id is not None:
        app.console.print(f"alert {alert_id} queued again")
    else:
        app.console.print(
            f"{len(targets)} failed alert{'s' if len(targets) != 1 else ''} queued again"
        )


@alerts_cmd.command("send")
@click.option("--max", "max_rows", type=click.IntRange(min=1), help="Stop after this many rows.")
@click.pass_context
def send_cmd(ctx: click.Context, max_rows: int | None) -> None:
    """Send due alerts now, until nothing is due (or --max rows), and print the counts."""
    from alerts.dispatcher import Dispatcher  # here: the Slack SDK is ~4 MB other commands skip
    from alerts.slack import make_sender

    app = _app(ctx)
    sender = make_sender(app.settings, console=app.console)
    stats = Dispatcher(app.db, app.settings, sender=sender).run_until_idle(max_rows)
    app.console.print(
        f"{stats.sent} sent ({sender.destination}), {stats.retried} to retry, "
        f"{stats.failed} failed, {stats.deferred} waiting, {stats.folded} folded into "
        f"{stats.digests} digest{'s' if stats.digests != 1 else ''}"
    )
    if stats.failed:
        app.console.print("see `newswatch alerts --status failed` for the reasons")


@click.group("slack")
def slack_cmd() -> None:
    """Slack destination tools."""


@slack_cmd.command("test")
@click.option(
    "--post", is_flag=True, help="Also post a test message (the only check a webhook allows)."
)
@click.pass_context
def slack_test_cmd(ctx: click.Context, post: bool) -> None:
    """Check the token (or webhook) and every configured channel; say exactly what is wrong."""
    from alerts.check import check_slack

    app = _app(ctx)
    result = check_slack(app.settings, post=post)
    for good, line in result.lines:
        app.console.print(Text(("ok    " if good else "FAIL  ") + line))
    if not result.ok:
        failed = sum(1 for good, _ in result.lines if not good)
        raise click.ClickException(
            f"the Slack check failed: {failed} problem{'s' if failed != 1 else ''} (FAIL above)"
        )


commands: list[click.Command] = [alerts_cmd, slack_cmd]
