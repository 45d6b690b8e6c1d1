"""`newswatch incidents …`: the tracker in the terminal (list, show, export, merge, split)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from crawler.cli.context import AppContext, pass_app
from crawler.incidents.model import INCIDENT_KINDS
from crawler.review.incidents import (
    EXPORT_FORMATS,
    IncidentQuery,
    export_lines,
    get_incident,
    list_incidents,
    timeline,
)
from crawler.review.queries import default_reviewer
from crawler.storage.incidents import merge_incidents, split_article


def _date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}", param_hint=name) from None


def _query(
    kind: str | None,
    state: str | None,
    county: str | None,
    court: str | None,
    since: str | None,
    until: str | None,
    limit: int,
) -> IncidentQuery:
    return IncidentQuery(
        kind=kind,
        state=state,
        county=county,
        court=court,
        since=_date(since, "--since"),
        until=_date(until, "--until"),
        limit=limit,
    )


def _filters(fn: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(
        [
            click.option("--kind", type=click.Choice(INCIDENT_KINDS), help="Incident kind."),
            click.option("--state", help="State name, e.g. 'New York'."),
            click.option("--county", help="County name, e.g. 'Kings County'."),
            click.option("--court", help="Part of the court's name."),
            click.option("--since", metavar="YYYY-MM-DD", help="Last development on or after."),
            click.option("--until", metavar="YYYY-MM-DD", help="First development on or before."),
            click.option(
                "--limit", type=click.IntRange(1, 100_000), default=200, show_default=True
            ),
        ]
    ):
        fn = option(fn)
    return fn


@click.group("incidents", invoke_without_command=True)
@click.pass_context
def incidents(ctx: click.Context) -> None:
    """The incident tracker: courthouse arrests and sanctuary disputes built from matches."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd)


@incidents.command("list")
@_filters
@pass_app
def list_cmd(
    app: AppContext,
    kind: str | None = None,
    state: str | None = None,
    county: str | None = None,
    court: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 200,
) -> None:
    """List incidents, latest development first."""
    query = _query(kind, state, county, court, since, until, limit)
    with app.db.session() as session:
        rows = list_incidents(session, query)
        table = Table(header_style="bold")
        for name in ("ID", "Kind", "Dates", "Latest", "Place", "Court", "Articles", "Title"):
            table.add_column(name, overflow="fold")
        for i in rows:
            dates = f"{i.first_date or '?'} → {i.last_date or '?'}"
            place = ", ".join(p for p in (i.city, i.county, i.state) if p) or "—"
            table.add_row(
                str(i.id),
                i.kind,
                dates,
                i.development or "—",
                Text(place),
                Text(i.court or "—"),
                str(i.article_count),
                Text(i.title or ""),
            )
    app.console.print(table)
    app.console.print(f"{len(rows)} incident{'' if len(rows) == 1 else 's'}", style="dim")


@incidents.command("show")
@click.argument("incident_id", type=int)
@pass_app
def show_cmd(app: AppContext, incident_id: int) -> None:
    """One incident: its fields with their source sentences and its timeline."""
    console = app.console
    with app.db.session() as session:
        incident = get_incident(session, incident_id)
        if incident is None:
            raise click.ClickException(f"no incident {incident_id}")
        if incident.id != incident_id:
            console.print(f"incident {incident_id} was merged into {incident.id}", style="yellow")
        console.print(f"[bold]Incident {incident.id}[/] · {incident.kind}")
        console.print(Text(incident.title or ""))
        for name, found in (incident.fields or {}).items():
            if isinstance(found, dict) and found.get("value"):
                quote = str(found.get("quote") or "")
                console.print(
                    f"  [bold]{escape(name)}[/]: {escape(str(found['value']))}"
                    + (f"  [dim]“{escape(quote[:160])}”[/]" if quote else "")
                )
        console.print("[bold]Timeline[/]")
        for dev in timeline(session, incident.id):
            pinned = " (placed by a person)" if dev.decided_by == "person" else ""
            console.print(
                f"  {dev.event_date or '?'}  [bold]{escape(dev.development)}[/]  "
                f"{escape(dev.title)} — {escape(dev.outlet)}{pinned}"
            )
            console.print(f"      article {dev.article_id}  {escape(dev.url)}", style="dim")


@incidents.command("export")
@_filters
@click.option(
    "--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="csv", show_default=True
)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="File.")
@pass_app
def export_cmd(
    app: AppContext,
    fmt: str,
    output: Path | None,
    kind: str | None = None,
    state: str | None = None,
    county: str | None = None,
    court: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 200,
) -> None:
    """Write incidents as CSV, JSON Lines or GeoJSON (points at city or state centroids)."""
    query = _query(kind, state, county, court, since, until, limit)
    with app.db.session() as session:
        chunks = list(export_lines(session, list_incidents(session, query), fmt))
    try:
        if output is None:
            sys.stdout.write("".join(chunks))
        else:
            output.write_text("".join(chunks), encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from None


@incidents.command("merge")
@click.argument("target_id", type=int)
@click.argument("other_id", type=int)
@click.option("--by", "reviewer", help="Who decides (default $NEWSWATCH_REVIEWER or the user).")
@click.option("--note", help="Why.")
@pass_app
def merge_cmd(
    app: AppContext, target_id: int, other_id: int, reviewer: str | None, note: str | None
) -> None:
    """Fold incident OTHER_ID into TARGET_ID (kept across rematches)."""
    with app.db.session() as session:
        merged = merge_incidents(
            session, target_id, other_id, reviewer=reviewer or default_reviewer(), note=note
        )
        click.echo(f"incident {other_id} merged into {merged.id} ({merged.article_count} articles)")


@incidents.command("split")
@click.argument("incident_id", type=int)
@click.argument("article_id", type=int)
@click.option("--by", "reviewer", help="Who decides (default $NEWSWATCH_REVIEWER or the user).")
@click.option("--note", help="Why.")
@pass_app
def split_cmd(
    app: AppContext, incident_id: int, article_id: int, reviewer: str | None, note: str | None
) -> None:
    """Move ARTICLE_ID out of INCIDENT_ID into an incident of its own (kept across rematches)."""
    with app.db.session() as session:
        fresh = split_article(
            session, incident_id, article_id, reviewer=reviewer or default_reviewer(), note=note
        )
        click.echo(f"article {article_id} now forms incident {fresh.id}")


commands: list[click.Command] = [incidents]
