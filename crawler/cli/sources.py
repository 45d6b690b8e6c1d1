"""`newswatch sources`: list sources with their health, add one by discovery, test one."""

from __future__ import annotations

import ast
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text
from sqlalchemy import select

from crawler.cli.context import AppContext
from crawler.cli.params import DURATION, Duration
from crawler.cli.tables import Column, fitted_table
from crawler.config import DEFAULT_FILE, Settings, find_config_file, load_settings
from crawler.errors import ConfigError, CrawlProcessError
from crawler.sources import SourceConfig
from crawler.storage.models import Source, utcnow

MARKER_END = "# SOURCES-END"
SOURCE_COLUMNS = (
    Column("name"), Column("kind", 4), Column("on", 3), Column("health"),
    Column("last success", 1), Column("last new article", 2), Column("fails", 2, "right"),
    Column("last error", 1), Column("backoff", 3),
)  # fmt: skip
_LAST_RUN = (
    "SELECT status, errors, error_samples, pages_fetched, new_articles, matched "
    "FROM crawl_runs ORDER BY id DESC LIMIT 1"
)
_FIRST_TITLES = (
    "SELECT coalesce(a.title, a.url), EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id)"
    " AS hit FROM articles a ORDER BY hit DESC, a.id LIMIT 10"
)
_COUNTERS = re.compile(r"event=crawl_finished .*?counters=(\{.*?\}) errors=(\{.*?\})\s*$", re.M)


def _app(ctx: click.Context) -> AppContext:
    return ctx.ensure_object(AppContext)


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago" if seconds < 172800 else f"{seconds / 86400:.0f} d ago"


def health_rows(settings: Settings, rows: dict[str, Source], now: datetime) -> list[dict[str, Any]]:
    """One JSON-friendly health record per configured source."""
    from crawler.daemon.health import assess
    from crawler.daemon.scheduler import backoff_delay

    cfg = settings.scheduler
    out = []
    for source in settings.sources:
        row = rows.get(source.name)
        interval = source.interval or cfg.default_interval
        failures = row.consecutive_failures if row else 0
        backing_off = row is not None and row.backoff_until is not None and row.backoff_until > now
        out.append(
            {
                "name": source.name,
                "kind": source.kind,
                "enabled": source.enabled,
                "interval": interval,
                "health": assess(row, settings, now) if row else "never crawled",
                "last_success_at": _iso(row.last_success_at if row else None),
                "last_new_article_at": _iso(row.last_new_article_at if row else None),
                "consecutive_failures": failures,
                "last_error_kind": row.last_error_kind if row else None,
                "backoff_until": _iso(row.backoff_until) if backing_off and row else None,
                "next_backoff_seconds": backoff_delay(
                    interval, failures + 1, cfg.backoff_max_factor
                ),
            }
        )
    return out


def _iso(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if when else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@click.group("sources", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_context
def sources_group(ctx: click.Context, as_json: bool) -> None:
    """List the configured sources with their health; `add` and `test` below.

    Health comes from the database: last success, last new article, failures in a row, the
    last error kind, and the backoff (until when, and how long the next failure would add).
    """
    if ctx.invoked_subcommand is not None:
        return
    app = _app(ctx)
    settings, now = app.settings, utcnow()
    with app.db.session() as session:
        rows = {r.name: r for r in session.scalars(select(Source))}
        records = health_rows(settings, rows, now)
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    if not records:
        app.console.print("no sources configured: `newswatch sources add URL` finds some")
        return
    cells: list[list[str | Text]] = []
    for r in records:
        until = _parse(r["backoff_until"])
        backoff = f"until {until:%H:%M} UTC" if until else f"next +{r['next_backoff_seconds']:.0f}s"
        cells.append(
            [
                Text(r["name"]),
                r["kind"],
                "yes" if r["enabled"] else "no",
                r["health"],
                _ago(_parse(r["last_success_at"]), now),
                _ago(_parse(r["last_new_article_at"]), now),
                str(r["consecutive_failures"]),
                Text(r["last_error_kind"] or "-"),
                backoff if r["consecutive_failures"] or until else "-",
            ]
        )
    table = fitted_table(app.console.width, SOURCE_COLUMNS, cells, title="sources")
    app.console.print(table)


def config_target(app: AppContext) -> Path:
    """The config file `add --write` edits: --config, $NEWSWATCH_CONFIG, ./newswatch.toml."""
    return app.config_path or find_config_file() or Path(DEFAULT_FILE)


def insert_source_text(current: str, block: str) -> str:
    """The config text with a source block added before `# SOURCES-END`, or at the end."""
    if MARKER_END in current:
        head, tail = current.split(MARKER_END, 1)
        return head.rstrip("\n") + "\n\n" + block + MARKER_END + tail
    return (current.rstrip("\n") + "\n\n" if current.strip() else "") + block


def write_source(path: Path, block: str, name: str) -> Settings:
    """Add a source block to the config file after validating the result (ConfigError if not)."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current.strip() and any(s.name == name for s in load_settings(path).sources):
        raise ConfigError(f"a source named {name!r} already exists (use --name)", path=str(path))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(insert_source_text(current, block))
        try:
            settings = load_settings(tmp)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(str(tmp), str(path))) from None
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return settings


@sources_group.command("add")
@click.argument("url")
@click.option("--name", help="Source name (default: the site's host name).")
@click.option(
    "--kind",
    type=click.Choice(["auto", "feed", "sitemap"]),
    default="auto",
    show_default=True,
    help="Prefer a feed (auto) or force a kind.",
)
@click.option(
    "--write/--print",
    "write",
    default=True,
    show_default=True,
    help="Write the entry into the config file, or only print it.",
)
@click.option(
    "--interval",
    type=Duration(minimum=60),
    default=1800.0,
    show_default=True,
    help="Time between crawls: seconds or 30m, 2h (at least 60 s).",
)
@click.option(
    "--allow-private-host",
    "allow_private",
    multiple=True,
    help="Allow this loopback/private host (tests, intranet sites).",
)
@click.pass_context
def sources_add(
    ctx: click.Context,
    url: str,
    name: str | None,
    kind: str,
    write: bool,
    interval: float,
    allow_private: tuple[str, ...],
) -> None:
    """Discover a site's feeds and sitemaps and add a validated [[sources]] entry.

    Looks for <link rel=alternate> feeds, robots.txt Sitemap: lines and the usual paths,
    fetches each candidate, and writes the best one (a feed, else sitemaps) to the config file.
    """
    app = _app(ctx)
    path = config_target(app)
    if write and name and path.exists() and any(s.name == name for s in app.settings.sources):
        raise ConfigError(f"a source named {name!r} already exists (use --name)", path=str(path))
    notes = app.console if write else Console(stderr=True, highlight=False)
    # Imported here: discovery pulls in Scrapy and trafilatura, which other commands
    # (and the long-running daemon) do not need.
    from crawler.discovery import Client, choose, default_name, discover, source_toml

    result = discover(url, client=Client(list(allow_private)))
    chosen_kind, urls = choose(result, kind)
    fields: dict[str, Any] = {
        "name": name or default_name(result.site),
        "kind": chosen_kind,
        "outlet": result.title,
        "urls": urls,
        "interval": interval,
        "allow_private_hosts": list(allow_private) or None,
    }
    SourceConfig.model_validate({k: v for k, v in fields.items() if v is not None})
    block = source_toml(result, fields)
    for found in result.feeds + result.sitemaps:
        notes.print(f"found {found.kind}: {found.url}  ({found.detail}, via {found.via})")
    for problem in result.problems:
        notes.print(f"[yellow]note[/yellow] {problem}")
    if not write:
        click.echo(block, nl=False)
        return
    write_source(path, block, fields["name"])
    app.console.print(f"[green]added[/green] source {fields['name']!r} ({chosen_kind}) to {path}")
    app.console.print(f"check it with: newswatch --config {path} sources test {fields['name']}")


def test_config_text(settings: Settings, source: SourceConfig, db_url: str) -> str:
    """A throwaway config: the user's crawl and matching settings, one source, a temp DB."""
    from crawler.discovery import toml_value

    crawl = settings.crawl.model_dump()
    matching = settings.matching.model_dump()
    lines = ["[database]", f"url = {toml_value(db_url)}", "", "[crawl]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in crawl.items()]
    lines += ["", "[matching]", f"prefilter = {toml_value(matching['prefilter'])}"]
    lines.append(f"topic_packs = {toml_value([str(p) for p in matching['topic_packs']])}")
    lines.append(f"disabled_topics = {toml_value(list(matching['disabled_topics']))}")
    thresholds = ", ".join(f"{json.dumps(k)} = {v!r}" for k, v in matching["thresholds"].items())
    lines += [f"thresholds = {{ {thresholds} }}", "", "[[sources]]"]
    data = source.model_dump(exclude_none=True)
    data["enabled"] = True
    lines += [f"{k} = {toml_value(v)}" for k, v in data.items()]
    return "\n".join(lines) + "\n"


def run_test_crawl(settings: Settings, source: SourceConfig, timeout: float) -> dict[str, Any]:
    """Crawl one source into a temporary SQLite database and summarise what it found."""
    from crawler.daemon.runner import crawl_command
    from crawler.storage import repo
    from crawler.storage.db import Database

    with tempfile.TemporaryDirectory(prefix="newswatch-test-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'test.db'}"
        config = Path(tmp) / "newswatch.toml"
        config.write_text(test_config_text(settings, source, db_url), encoding="utf-8")
        db = Database(db_url)
        with db.session() as session:
            run_id = repo.create_run(
                session, repo.upsert_source(session, source).id, trigger="test", pid=None
            ).id
        db.dispose()
        env = {
            **os.environ,
            "NEWSWATCH_CONFIG": str(config),
            "NEWSWATCH_DATABASE_URL": db_url,
            "SCRAPY_SETTINGS_MODULE": "crawler.settings",
        }
        try:
            proc = subprocess.run(
                crawl_command(source, run_id),
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CrawlProcessError(f"test crawl of {source.name} took over {timeout:g}s") from None
        return summarise(Path(tmp) / "test.db", proc.stderr + proc.stdout, proc.returncode)


def summarise(db_path: Path, log_text: str, exit_code: int) -> dict[str, Any]:
    """What a test crawl found: counters from its log line, articles and errors from its DB."""
    counters: dict[str, Any] = {}
    found = _COUNTERS.findall(log_text)
    if found:
        try:
            counters = dict(ast.literal_eval(found[-1][0]))
        except (ValueError, SyntaxError):
            counters = {}
    con = sqlite3.connect(db_path)
    try:
        run = con.execute(_LAST_RUN).fetchone()
        titles = [("matched: " if r[1] else "") + r[0] for r in con.execute(_FIRST_TITLES)]
    finally:
        con.close()
    links = sum(counters.get(k, 0) for k in ("feed_entries", "sitemap_entries", "section_links"))
    return {
        "status": run[0] if run else "crashed",
        "exit_code": exit_code,
        "documents": counters.get("documents_fetched", 0) + counters.get("not_modified", 0),
        "article_links": links,
        "pages_fetched": run[3] if run else 0,
        "new_articles": run[4] if run else 0,
        "matched": run[5] if run else 0,
        "errors": json.loads(run[1]) if run and run[1] else {},
        "error_samples": json.loads(run[2]) if run and run[2] else {},
        "sample_titles": titles,
        "counters": counters,
    }


@sources_group.command("test")
@click.argument("name")
@click.option(
    "--timeout",
    type=DURATION,
    default=300.0,
    show_default=True,
    help="Time before the test crawl is stopped: seconds or 90s, 5m.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def sources_test(ctx: click.Context, name: str, timeout: float, as_json: bool) -> None:
    """Fetch one source once into a throwaway database and report what it found.

    Nothing is written to your database and no alert is sent. Exits non-zero when the crawl
    failed or found no article link.
    """
    app = _app(ctx)
    report = run_test_crawl(app.settings, app.settings.source(name), timeout)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        c = app.console
        c.print(f"source {name}: {report['status']}")
        c.print(
            f"  documents fetched: {report['documents']}  article links: "
            f"{report['article_links']}  pages fetched: {report['pages_fetched']}"
        )
        c.print(f"  new articles: {report['new_articles']}  matched: {report['matched']}")
        for kind, count in report["errors"].items():
            sample = (report["error_samples"].get(kind) or [""])[0]
            c.print(f"  [red]error[/red] {kind} ×{count}  {sample}")
        for title in report["sample_titles"]:
            c.print(f"  · {title}")
    if report["status"] not in ("ok", "partial", "not_modified") or not report["article_links"]:
        sys.exit(1)


commands: list[click.Command] = [sources_group]
