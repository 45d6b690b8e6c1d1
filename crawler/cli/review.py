"""`newswatch matches …` (list, show, label, export) and `newswatch web` (the review page)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import click
from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from crawler.cli.context import AppContext, pass_app
from crawler.matching.describe import explain_rules, rule_descriptions
from crawler.review.exports import labelled_examples, parse_match_ref, write_csv, write_jsonl
from crawler.review.queries import (
    DATE_BASES,
    LABELS,
    MATCH_STATES,
    STATUSES,
    MatchDetail,
    MatchQuery,
    MatchRow,
    default_reviewer,
    get_match,
    label_match,
    list_matches,
    parse_when,
    snippet_segments,
)

CSV_COLUMNS = (
    "id", "dated", "date_basis", "created_at", "topic", "topic_label", "score", "threshold",
    "state", "review_status", "reviewed_by", "article_id", "title", "url", "source", "outlet",
    "published_at", "first_seen_at", "language", "snippet",
)  # fmt: skip
WIDE = 120  # below this many columns the table folds outlet, topic and status under the title


class When(click.ParamType):  # type: ignore[type-arg]
    """An ISO date/datetime or a relative age such as 24h or 7d."""

    name = "WHEN"

    def __init__(self, *, end: bool = False) -> None:
        self.end = end

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse the value into an aware UTC datetime."""
        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value), end=self.end)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


class MatchRef(click.ParamType):  # type: ignore[type-arg]
    """A match id: `12` or the `match-12` form exports write."""

    name = "MATCH_ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse the value into a match id."""
        if isinstance(value, int):
            return value
        try:
            return parse_match_ref(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _dated(r: MatchRow, by: str, short: bool) -> Text:
    fmt = "%m-%d %H:%M" if short else "%Y-%m-%d %H:%M"
    if by == "found":
        return Text(r.created_at.strftime(fmt))
    text = Text(r.dated.strftime(fmt))
    if r.date_basis != "published":
        text.append("*", style="yellow")  # first seen: no publication time known
    return text


def _print_table(console: Console, rows: list[MatchRow], by: str = "published") -> None:
    """Titles and outlets are never cut: below WIDE columns the low-value columns fold."""
    wide = console.width >= WIDE
    heading = "Found (UTC)" if by == "found" else "Published (UTC)"
    table = Table(show_lines=False, header_style="bold", expand=False, pad_edge=False)
    table.add_column("ID", style="cyan", no_wrap=True, justify="right")
    table.add_column(heading if wide else heading.split()[0], no_wrap=True)
    if wide:
        table.add_column("Topic", no_wrap=True)
        table.add_column("Score", no_wrap=True, justify="right")
        table.add_column("Status", no_wrap=True)
        table.add_column("Outlet", overflow="fold", min_width=12)
        table.add_column("Title", overflow="fold", ratio=1, min_width=30)
    else:
        table.add_column("Title · outlet · topic", overflow="fold", ratio=1, min_width=30)
    for r in rows:
        title = Text(r.title or r.url)
        outlet = Text(r.outlet or r.source or "—")
        if wide:
            table.add_row(
                str(r.id), _dated(r, by, False), r.topic, f"{r.score:.2f}", r.review_status,
                outlet, title,
            )  # fmt: skip
            continue
        cell = Text.assemble(title, "\n", (outlet.plain, "dim"))
        cell.append(f" · {r.topic} {r.score:.2f} · {r.review_status}", style="dim")
        table.add_row(str(r.id), _dated(r, by, True), cell)
    console.print(table)
    note = f"{len(rows)} match{'' if len(rows) == 1 else 'es'}"
    if by != "found" and any(r.date_basis != "published" for r in rows):
        note += " · * no publication time: first seen"
    console.print(note, style="dim")


def _write_rows(rows: list[MatchRow], fmt: str, out: TextIO) -> None:
    if fmt == "jsonl":
        write_jsonl((row.to_dict() for row in rows), out)
        return
    write_csv((row.to_dict() for row in rows), CSV_COLUMNS, out)


@click.group("matches", invoke_without_command=True)
@click.option("--topic", help="Only this topic (its id, e.g. courthouse_arrests).")
@click.option(
    "--since", type=When(),
    help="Published at or after (else first seen; see --by): YYYY-MM-DD, ISO datetime, 24h/7d.",
)  # fmt: skip
@click.option(
    "--until", type=When(end=True), help="Published before (a bare date includes that day)."
)
@click.option(
    "--by", type=click.Choice(DATE_BASES), default="published", show_default=True,
    help="Which time --since/--until and the order use: publication (else first seen) or "
    "when newswatch found the match.",
)  # fmt: skip
@click.option("--source", help="Only articles from this source name or outlet (site name).")
@click.option("--place", help="Only matches naming this place (state, county or city).")
@click.option("--language", help="Only articles in this language (e.g. en, es).")
@click.option(
    "--state", type=click.Choice([*MATCH_STATES, "all"]), default="matched", show_default=True,
    help="matched (alerted), possible (near misses), missed (reported) or all.",
)  # fmt: skip
@click.option("--status", type=click.Choice(STATUSES), help="Only this review status.")
@click.option("--min-score", type=float, help="Only matches scoring at least this.")
@click.option("--search", help="Case-insensitive text in the title, article text or snippet.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option(
    "--possible", is_flag=True, help="List possible matches (near misses, never alerted) instead."
)
@click.option("--missed", is_flag=True, help="List reported misses instead.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table",
    show_default=True, help="A table for people, JSON lines or CSV for scripts.",
)  # fmt: skip
@pass_app
@click.pass_context
def matches(
    ctx: click.Context,
    app: AppContext,
    topic: str | None,
    since: datetime | None,
    until: datetime | None,
    by: str,
    source: str | None,
    place: str | None,
    language: str | None,
    state: str,
    status: str | None,
    min_score: float | None,
    search: str | None,
    limit: int,
    possible: bool,
    missed: bool,
    fmt: str,
) -> None:
    """List stored matches, newest published first (and review them with the subcommands)."""
    if ctx.invoked_subcommand is not None:
        return
    state = "possible" if possible else "missed" if missed else state
    query = MatchQuery(
        topic, since, until, source, status, min_score, search, limit, by=by,
        state=None if state == "all" else state, language=language, place=place,
    )  # fmt: skip
    with app.db.session() as session:
        rows = list_matches(session, query)
    if fmt == "table":
        _print_table(app.console, rows, by)
    else:
        _write_rows(rows, fmt, sys.stdout)


def _require(detail: MatchDetail | None, match_id: int) -> MatchDetail:
    if detail is None:
        raise click.ClickException(f"there is no match with id {match_id}")
    return detail


def _marked_text(text: str, marks: list[tuple[int, int]]) -> Text:
    out = Text()
    for piece, is_marked in snippet_segments(text, marks):
        out.append(piece, style="bold black on yellow" if is_marked else "")
    return out


def _show_detail(console: Console, d: MatchDetail, packs: Sequence[Path] = ()) -> None:
    from crawler.review.web.render import entity_groups, plain  # the web page's wording, same rules

    a, m, x = d.article, d.row, d.explanation
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column(overflow="fold")
    for label, value in (
        ("Outlet", a.outlet or "—"), ("Source", a.source or "—"), ("Author", a.author or "—"),
        ("Published", _when(a.published_at)), ("First seen", _when(a.first_seen_at)),
        ("Matched", f"{_when(m.created_at)}  pack {d.pack_version}"), ("Link", a.url),
        ("Topic", f"{m.topic_label or m.topic} ({m.topic})"),
        ("Score", f"{m.score:.3f} (threshold {m.threshold:.3f})"),
        ("Review", m.review_status + (f" by {m.reviewed_by}, {_when(d.reviewed_at)}"
                                      if m.reviewed_by else "")
                   + (f": {d.review_note}" if d.review_note else "")),
    ):  # fmt: skip
        facts.add_row(label, Text(value))
    console.print(Panel(facts, title=Text(a.title or a.url, style="bold"), title_align="left"))
    if m.snippet:
        console.print(Panel(_marked_text(m.snippet, m.snippet_marks), title="Snippet"))
    why = Table.grid(padding=(0, 2))
    why.add_column(overflow="fold")
    for text, _ident in explain_rules(x.get("rules") or [], rule_descriptions(packs)):
        why.add_row(Text(f"• {text}"))
    console.print(Panel(why, title="Why it matched"))
    # ids, score parts and offsets are for whoever tunes the rules: a details panel, and JSON
    details = Table.grid(padding=(0, 2))
    details.add_column(style="dim")
    details.add_column(overflow="fold")
    if x.get("rules"):
        details.add_row("Rule ids", Text(plain(x["rules"])))
    parts = x.get("score_parts")
    for name, value in (parts if isinstance(parts, dict) else {}).items():
        details.add_row(f"score: {name}", Text(plain(value)))
    for span in x.get("spans") or []:
        if isinstance(span, dict):
            where = f"{span.get('field', '?')} {span.get('start', '?')}–{span.get('end', '?')}"
            details.add_row(
                f"span {span.get('group', '')}", Text(f"{span.get('text')!s}  ({where})")
            )
    if x.get("near_misses"):
        details.add_row("Near misses", Text(plain(x["near_misses"])))
    console.print(Panel(details, title="Details", border_style="dim"))
    entities = Table.grid(padding=(0, 2))
    entities.add_column(style="dim")
    entities.add_column(overflow="fold")
    groups = entity_groups(d.entities)
    for kind, names in groups:
        entities.add_row(kind, Text(", ".join(names)))
    if groups:  # no empty "where"
        console.print(Panel(entities, title="Entities"))
    cluster = [Text(f"#{c.id} {c.title or c.url}  [{c.outlet or '—'}]  {c.url}") for c in d.cluster]
    console.print(
        Panel(Group(*cluster) if cluster else Text("no other article"), title="Story cluster")
    )
    alerts = [
        Text(f"#{al.id} {al.kind} → {al.channel}: {al.status}"
             + (f", sent {_when(al.sent_at)} ts {al.slack_ts}" if al.sent_at else "")
             + (f", error: {al.last_error}" if al.last_error else ""))
        for al in d.alerts
    ]  # fmt: skip
    console.print(Panel(Group(*alerts) if alerts else Text("none"), title="Alerts"))


@matches.command("show")
@click.argument("match_id", type=MatchRef())
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_app
def show(app: AppContext, match_id: int, fmt: str) -> None:
    """Show one match: article, explanation, entities, story cluster and alerts."""
    with app.db.session() as session:
        detail = _require(get_match(session, match_id), match_id)
    if fmt == "json":
        from dataclasses import asdict

        click.echo(json.dumps(asdict(detail), default=str, ensure_ascii=False, indent=2))
        return
    _show_detail(app.console, detail, app.settings.matching.topic_packs)


@matches.command("label")
@click.argument("match_id", type=MatchRef())
@click.argument("label", type=click.Choice(LABELS))
@click.option("--note", help="Why (kept with the review).")
@click.option(
    "--by", "reviewer", help="Who reviews (default: $NEWSWATCH_REVIEWER, else login name)."
)
@pass_app
def label(
    app: AppContext, match_id: int, label: str, note: str | None, reviewer: str | None
) -> None:
    """Label one (article, topic) pair — a match — relevant, irrelevant or duplicate.

    The label says nothing about the article's other topics (label their matches too).
    """
    who = (reviewer or "").strip() or default_reviewer()
    with app.db.session() as session:
        review = label_match(session, match_id, label, reviewer=who, note=note)
    if review is None:
        raise click.ClickException(f"there is no match with id {match_id}")
    app.console.print(f"match {match_id} labelled [bold]{label}[/] by {escape(who)}")


@matches.command("export")
@click.option("--labelled", is_flag=True, help="Export the reviewed matches (required).")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)  # fmt: skip
@pass_app
def export(app: AppContext, labelled: bool, output: Path | None) -> None:
    """Write reviewed (article, topic) pairs as JSON lines for `newswatch eval`, one per article.

    Each record lists `labels` (topics reviewed relevant) and `reviewed_topics` (every topic
    reviewed relevant or irrelevant); eval scores it on those topics only. Duplicates go in
    `duplicate_topics` and are not scored. Ids are `match-<id>`, as `matches show` takes them.
    """
    if not labelled:
        raise click.UsageError("say --labelled: only reviewed matches carry labels to export")
    with app.db.session() as session:
        result = labelled_examples(session)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in result.records)
    if output is None:
        sys.stdout.write(lines)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(lines, encoding="utf-8")
    count = len(result.records)
    click.echo(
        f"exported {count} article{'' if count == 1 else 's'}: {result.relevant} relevant and "
        f"{result.irrelevant} irrelevant (article, topic) pairs; {result.duplicates} duplicate "
        "labels kept apart, unreviewed topics left out",
        err=True,
    )


@click.command("web")
@click.option("--host", help="Address to bind (default: web.host from the config, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: web.port, 8080).")
@pass_app
def web(app: AppContext, host: str | None, port: int | None) -> None:
    """Serve the review web page (login required unless bound to loopback)."""
    from crawler.review.web import create_app
    from crawler.review.web.security import WebSecrets, check_exposure
    from crawler.review.web.server import bind, server_name

    settings = app.settings
    host = host or settings.web.host
    port = settings.web.port if port is None else port
    secrets_ = WebSecrets.from_env()
    check_exposure(host, secrets_)
    flask_app = create_app(
        app.db, settings, token=secrets_.token, password=secrets_.password,
        secret_key=secrets_.secret_key,
    )  # fmt: skip
    serve_forever = bind(flask_app, host, port)  # a busy port fails here, before "serving on"
    shown = f"[{host}]" if ":" in host else host
    login = "token/password login" if secrets_.token or secrets_.password else "no login (loopback)"
    click.echo(f"serving the review page on http://{shown}:{port}/ with {server_name()}, {login}")
    sys.stdout.flush()
    serve_forever()


commands: list[click.Command] = [matches, web]
