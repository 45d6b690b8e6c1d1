"""Helpers shared by the spider, clustering and sources tests (no tests here).

Real crawls: `python -m crawler --config … crawl --source NAME` subprocesses against the local
sample site, each source with its own config and SQLite file, several at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from crawler.storage.db import Database
from crawler.storage.models import Article, CrawlRun
from crawler.urls import canonicalize

ALLOW = 'allow_private_hosts = ["127.0.0.1"]'
CRAWL_TIMEOUT = 240
PARALLEL = 4


@dataclass
class Crawled:
    """One crawl's config, database and process result."""

    name: str
    config: Path
    db_url: str
    returncode: int = -1
    output: str = ""

    def urls(self) -> set[str]:
        """Canonical URLs of every stored article."""
        db = Database(self.db_url)
        try:
            with db.session() as session:
                return set(session.scalars(select(Article.url)))
        finally:
            db.dispose()

    def articles(self) -> list[Article]:
        """Every stored article."""
        db = Database(self.db_url)
        try:
            with db.session() as session:
                return list(session.scalars(select(Article).order_by(Article.id)))
        finally:
            db.dispose()

    def last_run(self) -> CrawlRun:
        """The newest CrawlRun row."""
        db = Database(self.db_url)
        try:
            with db.session() as session:
                run = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
                assert run is not None, self.output[-3000:]
                return run
        finally:
            db.dispose()


def config_text(db_path: Path, sources: str, **alerts: Any) -> str:
    """A test config: fast crawl settings, first-crawl alerts on, the given sources."""
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in alerts.items())
    return f"""[database]
url = "sqlite:///{db_path}"
[crawl]
autothrottle = false
download_timeout = 10
retry_times = 0
extract_workers = 1
[alerts]
alert_first_crawl = true
{extra}
{sources}
"""


def source_toml(name: str, kind: str, urls: list[str], **fields: Any) -> str:
    """One `[[sources]]` block on loopback."""
    lines = [
        "[[sources]]",
        f'name = "{name}"',
        f'kind = "{kind}"',
        f"urls = {json.dumps(urls)}",
        ALLOW,
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in fields.items()]
    return "\n".join(lines) + "\n"


def prepare(tmp: Path, name: str, sources: str, **alerts: Any) -> Crawled:
    """Write a config (and name its database) for a crawl."""
    folder = tmp / name
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "newswatch.toml"
    db_path = folder / "crawl.db"
    config.write_text(config_text(db_path, sources, **alerts), encoding="utf-8")
    return Crawled(name, config, f"sqlite:///{db_path}")


def crawl_command(config: Path, *sources: str) -> list[str]:
    """The `newswatch crawl` command line for some sources of a config."""
    args = [arg for name in sources for arg in ("--source", name)]
    return [sys.executable, "-m", "crawler", "--config", str(config), "crawl", "--json", *args]


def run_crawls(crawls: list[tuple[Crawled, list[str]]], parallel: int = PARALLEL) -> None:
    """Run `newswatch crawl` for each (config, sources), `parallel` at a time, and wait."""
    pending = list(crawls)
    while pending:
        batch, pending = pending[:parallel], pending[parallel:]
        procs = [
            (
                crawled,
                subprocess.Popen(
                    crawl_command(crawled.config, *names),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                ),
            )
            for crawled, names in batch
        ]
        for crawled, proc in procs:
            out, _ = proc.communicate(timeout=CRAWL_TIMEOUT)
            crawled.returncode, crawled.output = proc.returncode, out


def crawl_once(crawled: Crawled, *sources: str) -> Crawled:
    """Run one `newswatch crawl` and wait for it."""
    run_crawls([(crawled, list(sources) or [crawled.name])], parallel=1)
    return crawled


def canonical(urls: Any) -> set[str]:
    """Canonical forms of URLs (or of articles' `.url`)."""
    return {canonicalize(u if isinstance(u, str) else u.url) for u in urls}
