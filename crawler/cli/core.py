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
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from crawler.cli.context import AppContext, creates_database, pass_app
from crawler.cli.failures import all_failed_sentence
from crawler.cli.forked import run_forked
from crawler.cli.params import DURATION
from crawler.cli.tables import Column, fitted_table
from crawler.daemon.runner import CrawlProcess, RunOutcome
from crawler.errors import ConfigError, PipelineStartError
from crawler.sources import SourceConfig
from crawler.storage import repo
from crawler.storage.db import (
    Database,
    check_creatable,
    check_url,
    current_revision,
    head_revision,
    open_error,
    sqlite_file,
    upgrade,
)
from crawler.storage.models import CrawlRun


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@pass_app
def config_check(app: AppContext) -> None:
    """Validate the config file, topic packs and database URL without running anything.

    Every problem is listed at once; "ok" is printed only when all of them are usable.
    """
    settings = app.settings
    where = str(settings.path) if settings.path else "built-in defaults (no config file found)"
    problems: list[ConfigError] = []
    matcher = None
    try:
        matcher = app.matcher()
    except ConfigError as exc:
        problems.append(exc)
    try:
        check_url(settings.database_url, origin=app.database_origin)
    except ConfigError as exc:
        problems.append(exc)
    if problems:
        raise ConfigError.combine(problems)
    database = _database_state(app)
    assert matcher is not None
    app.console.print(f"[green]ok[/green] {where}")
    app.console.print(f"  database: {_safe_url(settings.database_url)} ({database})")
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


def _database_state(app: AppContext) -> str:
    """Whether the database answers and its schema revision; StorageError if it is unusable."""
    url = app.settings.database_url
    path = sqlite_file(check_url(url, origin=app.database_origin))
    if path is not None and not path.exists():
        check_creatable(path)
        return "not created yet: `newswatch db upgrade` or the first crawl creates it"
    connect_args = {} if path is not None else {"connect_args": {"connect_timeout": 10}}
    db = Database(url, migrate=False, create=False, origin=app.database_origin, **connect_args)
    try:
        revision = current_revision(db.engine)
    except (SQLAlchemyError, OSError) as exc:
        raise open_error(exc, db.engine.url) from None
    finally:
        db.dispose()
    head = head_revision()
    if revision is None:
        return "reachable, empty: `newswatch db upgrade` creates the schema"
    if revision != head:
        return f"schema at {revision}; the next command that opens it migrates to {head}"
    return f"reachable, schema at {revision}"


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
    """Create or migrate the database schema (Alembic); creates a missing SQLite file."""
    url = app.settings.database_url
    upgrade(url, revision, origin=app.database_origin)
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


SUMMARY_COLUMNS = (
    Column("source"), Column("status"), Column("links", 3, "right"),
    Column("fetched", 1, "right"), Column("new", 1, "right"), Column("dupes", 3, "right"),
    Column("skipped", 3, "right"), Column("matched", 1, "right"), Column("failed", 2, "right"),
    Column("errors", 2, wrap=True),
)  # fmt: skip


def _summary_table(outcomes: list[RunOutcome], width: int = 200) -> Table:
    rows: list[list[str | Text]] = []
    for o in outcomes:
        s = o.summary
        errors = ", ".join(f"{k}={v}" for k, v in dict(s.get("errors") or {}).items())  # type: ignore[call-overload]
        color = {"ok": "green", "partial": "yellow", "not_modified": "green"}.get(o.status, "red")
        rows.append(
            [
                Text(o.source),
                f"[{color}]{o.status}[/{color}]",
                *(str(s[k]) for k in ("discovered", "pages_fetched", "new_articles")),
                *(str(s[k]) for k in ("duplicates", "skipped", "matched", "failed")),
                errors or "-",
            ]
        )
    return fitted_table(width, SUMMARY_COLUMNS, rows, title="crawl summary")


@click.command("crawl")
@click.option("--source", "source_names", multiple=True, help="Only this source (repeatable).")
@click.option(
    "--timeout",
    type=DURATION,
    help="Time per source: seconds or 90s/15m/1h (default: scheduler.crawl_timeout).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
@creates_database
def crawl(
    app: AppContext, source_names: tuple[str, ...], timeout: float | None, as_json: bool
) -> None:
    """Crawl the sources once, with a live progress line and a per-source summary.

    Exits 1 when every source failed, ending with one line on stderr: how many, the commonest
    cause and each source's host. Creates (and migrates) a missing SQLite database.
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

    def check() -> None:
        app.db  # noqa: B018 (opening it creates or migrates it)
        _preflight(app, sources)  # a bad or missing topic pack: exit 2 before anything is fetched

    # In a forked child: this process only waits from here on, without the matcher and the
    # migration code the checks load.
    if run_forked(check, cleanup=app.close):
        app.schema_checked = True
    db = app.db
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
        app.console.print(_summary_table(outcomes, app.console.width))
    for o in outcomes:  # a crawl process found its pipeline could not start (config changed)
        message = str(o.summary.get("message") or "")
        if o.status == "failed" and message.startswith(PipelineStartError.PREFIX):
            raise PipelineStartError(message.removeprefix(PipelineStartError.PREFIX + ": "))
    ok = {"ok", "partial", "not_modified"}
    if not any(o.status in ok for o in outcomes):
        sys.stdout.flush()
        click.secho(f"error: {all_failed_sentence(outcomes, sources)}", fg="red", err=True)
        sys.exit(1)


def _preflight(app: AppContext, sources: list[SourceConfig]) -> None:
    """Fail before fetching anything when the pipeline cannot start; record the runs failed."""
    from crawler.pipelines.preflight import check_pipeline

    try:
        app.matcher()  # every pack and threshold problem at once, named by file and field
        check_pipeline(app.settings)
    except ConfigError as exc:
        message = str(exc)
        if not isinstance(exc, PipelineStartError):
            message = f"{PipelineStartError.PREFIX}: {message}"
        with app.db.session() as session:
            for source in sources:
                row = repo.upsert_source(session, source)
                run = repo.create_run(session, row.id, trigger="manual", pid=None)
                repo.finish_run(session, run.id, status="failed", message=message)
        if isinstance(exc, PipelineStartError):
            raise
        # every problem on its own line, each saying that the crawl did not start
        raise ConfigError.combine([PipelineStartError(line) for line in exc.lines()]) from None


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
@click.option(
    "--dry-run", is_flag=True, help="Only list the matches a rule change would add or remove."
)
@pass_app
def rematch(app: AppContext, since: str | None, alert: bool, dry_run: bool) -> None:
    """Re-run the current rules over stored articles (re-extracting from kept raw HTML)."""
    from crawler.matching.rematch import rematch_articles, rematch_preview

    if dry_run:
        scored, changes = rematch_preview(app.db, app.settings, since=parse_since(since))
        for c in changes:
            review = f" [{c.review_status}]" if c.review_status not in (None, "unreviewed") else ""
            click.echo(
                f"{'+' if c.change == 'add' else '-'} {c.topic} {c.score:.2f}/{c.threshold:.2f} "
                f"article {c.article_id}{review} {c.title} <{c.url}>"
            )
        added = sum(1 for c in changes if c.change == "add")
        click.echo(
            f"dry run over {scored} articles: would add {added} matches, "
            f"{len(changes) - added} stored matches would no longer fire; nothing written"
        )
        return

    app.matcher()  # a bad topic pack or threshold fails here (exit 2), with every problem
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
