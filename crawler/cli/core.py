"""Core commands: `config check`, `db upgrade`, `crawl`, `rematch`."""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import click
from rich.live import Live
from rich.table import Table
from sqlalchemy import select

from crawler.cli.context import AppContext, pass_app
from crawler.daemon.runner import CrawlProcess, RunOutcome
from crawler.errors import ConfigError, PipelineStartError
from crawler.sources import SourceConfig
from crawler.storage import repo
from crawler.storage.db import head_revision, upgrade
from crawler.storage.models import CrawlRun


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@pass_app
def config_check(app: AppContext) -> None:
    """Validate the config file and topic packs without running anything."""
    settings = app.settings
    where = str(settings.path) if settings.path else "built-in defaults (no config file found)"
    from crawler.matching import load_matcher

    cfg = settings.matching
    matcher = load_matcher(cfg.topic_packs, cfg.thresholds, cfg.disabled_topics)
    app.console.print(f"[green]ok[/green] {where}")
    app.console.print(f"  database: {_safe_url(settings.database_url)}")
    app.console.print(
        f"  sources: {len(settings.sources)} ({sum(s.enabled for s in settings.sources)} enabled)"
    )
    app.console.print(f"  topics: {', '.join(matcher.topics)} (pack {matcher.pack_version})")
    slack = (
        "bot token"
        if settings.slack.bot_token
        else "webhook"
        if settings.slack.webhook_url
        else "console (no SLACK_BOT_TOKEN or SLACK_WEBHOOK_URL set)"
    )
    app.console.print(f"  alerts: {slack}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.group("db")
def db_group() -> None:
    """Manage the database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target migration.")
@pass_app
def db_upgrade(app: AppContext, revision: str) -> None:
    """Create or migrate the database schema (Alembic)."""
    url = app.settings.database_url
    upgrade(url, revision)
    app.console.print(f"database at {_safe_url(url)} is at revision {head_revision()}")


def _progress_table(procs: list[CrawlProcess], runs: dict[int, CrawlRun]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    fetched = sum(r.pages_fetched for r in runs.values())
    new = sum(r.new_articles for r in runs.values())
    skipped = sum(r.duplicates + r.skipped for r in runs.values())
    failed = sum(r.failed for r in runs.values())
    running = sum(1 for p in procs if p.poll() is None)
    table.add_row(
        f"crawling: {running} running · fetched {fetched} · new {new} · "
        f"skipped {skipped} · failed {failed}"
    )
    return table


def _summary_table(outcomes: list[RunOutcome]) -> Table:
    table = Table(title="crawl summary")
    for column in (
        "source",
        "status",
        "links",
        "fetched",
        "new",
        "dupes",
        "skipped",
        "matched",
        "failed",
        "errors",
    ):
        table.add_column(
            column, justify="right" if column not in ("source", "status", "errors") else "left"
        )
    for o in outcomes:
        s = o.summary
        errors = ", ".join(f"{k}={v}" for k, v in dict(s.get("errors") or {}).items())  # type: ignore[call-overload]
        color = {"ok": "green", "partial": "yellow", "not_modified": "green"}.get(o.status, "red")
        table.add_row(
            o.source,
            f"[{color}]{o.status}[/{color}]",
            str(s["discovered"]),
            str(s["pages_fetched"]),
            str(s["new_articles"]),
            str(s["duplicates"]),
            str(s["skipped"]),
            str(s["matched"]),
            str(s["failed"]),
            errors or "-",
        )
    return table


@click.command("crawl")
@click.option("--source", "source_names", multiple=True, help="Only this source (repeatable).")
@click.option(
    "--timeout", type=float, help="Seconds per source (default: scheduler.crawl_timeout)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def crawl(
    app: AppContext, source_names: tuple[str, ...], timeout: float | None, as_json: bool
) -> None:
    """Crawl the sources once, with a live progress line and a per-source summary.

    Exits non-zero when every source failed.
    """
    settings = app.settings
    sources = (
        [settings.source(n) for n in source_names]
        if source_names
        else [s for s in settings.sources if s.enabled]
    )
    if not sources:
        raise ConfigError(
            "no sources to crawl: add [[sources]] to the config file",
            path=str(settings.path) if settings.path else None,
        )
    db = app.db
    _preflight(app, sources)
    limit = timeout if timeout is not None else settings.scheduler.crawl_timeout
    procs: list[CrawlProcess] = []
    lock = threading.Lock()

    def one(source_index: int) -> RunOutcome:
        proc = CrawlProcess(db, settings, sources[source_index], trigger="manual")
        with lock:
            procs.append(proc)
        return proc.wait(limit)

    outcomes: list[RunOutcome] = []
    workers = min(settings.scheduler.max_concurrent_crawls, len(sources))
    live_enabled = sys.stdout.isatty() and not as_json
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(one, i) for i in range(len(sources))]
        try:
            with Live(console=app.console, auto_refresh=False, transient=True) as live:
                while not all(f.done() for f in futures):
                    if live_enabled:
                        live.update(_progress_table(procs, _runs(app, procs)), refresh=True)
                    time.sleep(0.3)
        except KeyboardInterrupt:
            for proc in list(procs):
                proc.terminate("interrupted")
            raise
        outcomes = [f.result() for f in futures]
    if as_json:
        click.echo(json.dumps([o.summary | {"source": o.source} for o in outcomes], indent=2))
    else:
        app.console.print(_summary_table(outcomes))
    for o in outcomes:  # a crawl process found its pipeline could not start (config changed)
        message = str(o.summary.get("message") or "")
        if o.status == "failed" and message.startswith(PipelineStartError.PREFIX):
            raise PipelineStartError(message.removeprefix(PipelineStartError.PREFIX + ": "))
    ok = {"ok", "partial", "not_modified"}
    if not any(o.status in ok for o in outcomes):
        sys.exit(1)


def _preflight(app: AppContext, sources: list[SourceConfig]) -> None:
    """Fail before fetching anything when the pipeline cannot start; record the runs failed."""
    from crawler.pipelines.preflight import check_pipeline

    try:
        check_pipeline(app.settings)
    except PipelineStartError as exc:
        with app.db.session() as session:
            for source in sources:
                row = repo.upsert_source(session, source)
                run = repo.create_run(session, row.id, trigger="manual", pid=None)
                repo.finish_run(session, run.id, status="failed", message=str(exc))
        raise


def _runs(app: AppContext, procs: list[CrawlProcess]) -> dict[int, CrawlRun]:
    ids = [p.run_id for p in procs]
    if not ids:
        return {}
    with app.db.session() as session:
        return {r.id: r for r in session.scalars(select(CrawlRun).where(CrawlRun.id.in_(ids)))}


def parse_since(value: str | None) -> datetime | None:
    """`24h`, `7d`, `30m` or an ISO date/time → an aware datetime."""
    if not value:
        return None
    units = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
    if value[-1:] in units and value[:-1].replace(".", "", 1).isdigit():
        return datetime.now(UTC) - timedelta(seconds=float(value[:-1]) * units[value[-1]])
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected 24h, 7d or an ISO date, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.command("rematch")
@click.option("--since", help="Only articles first seen after this (24h, 7d, ISO date).")
@click.option("--alert", is_flag=True, help="Also queue alerts for new matches (within max age).")
@pass_app
def rematch(app: AppContext, since: str | None, alert: bool) -> None:
    """Re-run the current rules over stored articles (re-extracting from kept raw HTML)."""
    from crawler.matching.rematch import rematch_articles

    stats = rematch_articles(app.db, app.settings, since=parse_since(since), alert=alert)
    click.echo(
        f"rematched {stats.articles} articles: {stats.new_matches} new matches, "
        f"{stats.stale_matches} stored matches no longer fire (kept), "
        f"{stats.alerts} alerts queued"
        + (
            f"; {stats.retried} pages that had failed on our side processed again"
            if stats.retried
            else ""
        )
    )


commands: list[click.Command] = [config_group, db_group, crawl, rematch]
