"""`make demo`: serve the bundled sample news site on 127.0.0.1 and run the real path on it.

crawl (every kind of source) → extract → match → store in demo.db → alerts (console, or Slack
when SLACK_BOT_TOKEN / SLACK_WEBHOOK_URL is set). Never needs the internet.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from sqlalchemy import func, select

from crawler.sample_site.server import SampleSite, serve_pair

DEMO_DIR = Path(".demo")
DEMO_DB = Path("demo.db")


def demo_config(main: SampleSite, wire: SampleSite, db_path: Path) -> str:
    """The demo's newswatch.toml: one source of each kind, all on loopback."""
    m, w = main.base_url, wire.base_url
    allow = 'allow_private_hosts = ["127.0.0.1"]'
    return f"""# Written by `make demo` for the sample site on this run's ports.
[database]
url = "sqlite:///{db_path.resolve()}"

[crawl]
contact_url = "https://example.org/newswatch-demo"
autothrottle = false
download_timeout = 10

[alerts]
alert_first_crawl = true   # the demo is a first crawl; a real deployment stays quiet here
per_channel_interval = 0
hourly_cap = 100          # show every alert; a real channel gets a digest past 20 an hour
default_channel = "#newswatch-demo"

[[sources]]
name = "metro-rss"
kind = "feed"
outlet = "The Metro Ledger"
urls = ["{m}/feeds/rss.xml"]
{allow}

[[sources]]
name = "metro-atom"
kind = "feed"
outlet = "The Metro Ledger (Atom)"
urls = ["{m}/feeds/atom.xml"]
{allow}

[[sources]]
name = "metro-sitemap"
kind = "sitemap"
outlet = "The Metro Ledger (news sitemap)"
urls = ["{m}/sitemap_index.xml"]
{allow}

[[sources]]
name = "metro-sections"
kind = "section"
outlet = "The Metro Ledger (sections)"
urls = ["{m}/section/immigration/", "{m}/section/courts/"]
{allow}

[[sources]]
name = "news-search"
kind = "search"
outlet = "News search: ICE courthouse"
urls = ["{m}/search/rss?q=ICE+courthouse", "{m}/search/rss?q=sanctuary"]
{allow}

[[sources]]
name = "gdelt-sanctuary"
kind = "gdelt"
outlet = "GDELT: sanctuary"
urls = ["{m}/gdelt/api/v2/doc/doc?query=sanctuary%20ICE&mode=ArtList&format=json"]
{allow}

[[sources]]
name = "wire-feed"
kind = "feed"
outlet = "Coastal Wire"
urls = ["{w}/feeds/rss.xml"]
{allow}
"""


def _newswatch(config: Path, *args: str) -> int:
    cmd = [sys.executable, "-m", "crawler", "--config", str(config), *args]
    return subprocess.call(cmd)


def report(console: Console, db_url: str, main: SampleSite, wire: SampleSite) -> bool:
    """Print what was found against what the sample site says should be found."""
    from crawler.matching.describe import explain_rules, rule_descriptions
    from crawler.storage.db import Database
    from crawler.storage.models import Article, Match

    reasons = rule_descriptions()
    expected = {}
    for site in (main, wire):
        for article in site.articles():
            expected[article.url] = article
    db = Database(db_url)
    found: dict[str, set[str]] = {}
    with db.session() as session:
        rows = session.execute(
            select(Match, Article)
            .join(Article)
            .where(Match.state == "matched")
            .order_by(Match.topic, Match.id)
        )
        for match, row in rows:
            found.setdefault(row.url, set()).add(match.topic)
            entities = match.entities or {}
            places = ", ".join((entities.get("court") or entities.get("place") or [])[:2])
            console.print(
                f"[bold]{escape(match.topic)}[/bold] {match.score:.2f}  "
                f"{escape(row.title or row.url)}  [dim]({escape(row.site_name or '')})[/dim]"
            )
            fired = explain_rules(match.rules.get("fired", [])[:3], reasons)
            why = "; ".join(t.rstrip(". ") for t, _ in fired)
            line = f"    [dim]why:[/dim] {escape(why)}"
            if places:  # an empty "where:" says nothing
                line += f"   [dim]where:[/dim] {escape(places)}"
            console.print(line)
        stored = session.scalar(select(func.count(Article.id))) or 0
        clusters = session.execute(
            select(Article.cluster_id, func.count(Article.id), func.min(Article.title))
            .where(Article.cluster_id.is_not(None))
            .group_by(Article.cluster_id)
            .having(func.count(Article.id) > 1)
        ).all()
    for _cluster, size, title in clusters:
        console.print(f"story cluster: {size} articles across sites — {escape(title or '')}")
    missed = [a for url, a in expected.items() if a.expected_topics and url not in found]
    false_hits = [a for url, a in expected.items() if not a.expected_topics and url in found]
    positives = sum(1 for a in expected.values() if a.expected_topics)
    console.print(
        f"stored {stored} pages; found {positives - len(missed)} of "
        f"{positives} positive articles; hard negatives matched: {len(false_hits)}"
    )
    for article in missed:
        console.print(f"  [yellow]missed[/yellow] {article.title} ({article.kind})")
    for article in false_hits:
        console.print(f"  [red]false match[/red] {article.title} ({article.kind})")
    db.dispose()
    return not false_hits


def labels_in(path: Path) -> int:
    """How many reviews (labels) the SQLite file at `path` holds; 0 if none or not a database."""
    if not path.is_file():
        return 0
    try:
        con = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT count(*) FROM reviews").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def clear_previous(console: Console, db: Path = DEMO_DB) -> Path | None:
    """Remove the last demo's database, except one holding labels: that one is kept, renamed."""
    labels = labels_in(db)
    kept: Path | None = None
    if labels:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        kept = db.with_name(f"{db.stem}-labelled-{stamp}{db.suffix}")
        for suffix in ("", "-wal", "-shm"):  # the WAL must move with its database
            part = db.with_name(db.name + suffix)
            if part.exists():
                part.rename(kept.with_name(kept.name + suffix))
        console.print(
            f"[yellow]{db} holds {labels} label{'s' if labels != 1 else ''} (reviews): kept as "
            f"{kept}[/yellow] (point a config's [database] url at it to use it again); "
            f"starting a fresh {db}"
        )
    for leftover in db.parent.glob(db.name + "*"):
        leftover.unlink()
    return kept


def report_incidents(console: Console, db_url: str) -> int:
    """Print the incidents built from the matches; the timeline of those told more than once."""
    from crawler.review.incidents import IncidentQuery, list_incidents, timeline
    from crawler.storage.db import Database

    db = Database(db_url)
    with db.session() as session:
        incidents = list_incidents(session, IncidentQuery(limit=1000))
        told_often = [i for i in incidents if i.article_count > 1]
        console.print(
            f"{len(incidents)} incidents from the matches; "
            f"{len(told_often)} told by several articles"
        )
        for incident in told_often:
            place = ", ".join(p for p in (incident.court, incident.city, incident.state) if p)
            console.print(
                f"[bold]incident {incident.id}[/bold] {escape(incident.kind)} · "
                f"{escape(place)} · {incident.article_count} articles"
            )
            for dev in timeline(session, incident.id):
                console.print(
                    f"    {dev.event_date}  [bold]{escape(dev.development):<10}[/bold] "
                    f"{escape(dev.title)}  [dim]({escape(dev.outlet)})[/dim]"
                )
    db.dispose()
    return len(told_often)


def report_threads(console: Console, db_url: str) -> None:
    """Print each multi-article incident's alerts as the Slack thread they form."""
    from crawler.storage.db import Database
    from crawler.storage.models import Alert
    from crawler.storage.models_incidents import Incident, IncidentArticle

    db = Database(db_url)
    with db.session() as session:
        incidents = session.scalars(
            select(Incident).where(Incident.status == "open", Incident.article_count > 2)
        ).all()
        for incident in incidents:
            articles = select(IncidentArticle.article_id).where(
                IncidentArticle.incident_id == incident.id
            )
            rows = [
                row
                for row in session.scalars(
                    select(Alert).where(Alert.article_id.in_(articles)).order_by(Alert.id)
                )
                # an article's alert threads under its lead topic's incident
                if ((row.payload or {}).get("incident") or {}).get("id") == incident.id
            ]
            if rows:
                console.print(f"[bold]Slack thread of incident {incident.id}[/bold]")
            for row in rows:
                info = (row.payload or {}).get("incident") or {}
                role = str(info.get("role") or row.kind)
                title = str(((row.payload or {}).get("view") or {}).get("title") or "")
                indent = "    ↳ reply" if row.parent_alert_id else "  top-level"
                console.print(
                    f"{indent} {escape(f'[{role}]')} {escape(title)}  [dim]({row.status})[/dim]"
                )
    db.dispose()


def main() -> int:
    """Run the demo end to end; exit non-zero if any stage failed."""
    console = Console(highlight=False)
    DEMO_DIR.mkdir(exist_ok=True)
    clear_previous(console)
    main_site, wire_site = serve_pair()
    try:
        config = DEMO_DIR / "newswatch.toml"
        config.write_text(demo_config(main_site, wire_site, DEMO_DB), encoding="utf-8")
        console.rule("newswatch demo")
        console.print(
            f"sample site: {main_site.base_url}  (syndication partner: {wire_site.base_url})"
        )
        console.print(f"config: {config}   database: {DEMO_DB}\n")
        crawl_code = _newswatch(config, "crawl")
        console.rule("what newswatch found")
        clean = report(console, f"sqlite:///{DEMO_DB.resolve()}", main_site, wire_site)
        console.rule("incidents")
        report_incidents(console, f"sqlite:///{DEMO_DB.resolve()}")
        console.rule("alerts")
        channel = (
            "Slack (bot token)"
            if os.environ.get("SLACK_BOT_TOKEN")
            else "Slack (webhook)"
            if os.environ.get("SLACK_WEBHOOK_URL")
            else "the console (set SLACK_BOT_TOKEN or SLACK_WEBHOOK_URL to send to Slack)"
        )
        console.print(f"sending alerts to {channel}\n")
        alert_code = _newswatch(config, "alerts", "send")
        console.rule("incident threads")
        report_threads(console, f"sqlite:///{DEMO_DB.resolve()}")
    finally:
        main_site.stop()
        wire_site.stop()
    console.rule("review")
    console.print("Open the review page on the demo database:")
    console.print(f"  .venv/bin/newswatch --config {config} web    → http://127.0.0.1:8080/")
    console.print(f"  .venv/bin/newswatch --config {config} matches")
    console.print(f"  .venv/bin/newswatch --config {config} incidents")
    console.print(f"  datasette {DEMO_DB} -m datasette/metadata.json   (if Datasette is installed)")
    return 0 if crawl_code == 0 and alert_code == 0 and clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
