"""Feedback commands: `missed`, `matches promote|dismiss`, `sources mute`, `eval --reviewed`."""

from __future__ import annotations

import json
from dataclasses import asdict

import click
from rich.markup import escape
from rich.table import Table

from crawler.cli.context import AppContext, pass_app
from crawler.cli.review import matches
from crawler.cli.sources import sources_group
from crawler.errors import ConfigError
from crawler.matching import Matcher
from crawler.matching.evaluate import format_rate
from crawler.review.queries import default_reviewer


def _who(reviewer: str | None) -> str:
    return (reviewer or "").strip() or default_reviewer()


def _app() -> AppContext:
    return click.get_current_context().ensure_object(AppContext)


_BY = click.option(
    "--by", "reviewer", help="Who reviews (default: $NEWSWATCH_REVIEWER, else login name)."
)


@matches.command("promote")
@click.argument("match_id", type=int)
@click.option("--alert", is_flag=True, help="Also send its alert now (once, through the outbox).")
@click.option("--note", help="Why (kept with the review).")
@_BY
@pass_app
def promote_cmd(
    app: AppContext, match_id: int, alert: bool, note: str | None, reviewer: str | None
) -> None:
    """Promote a possible match: label it relevant and make it a match."""
    from crawler.review.feedback import promote

    who = _who(reviewer)
    with app.db.session() as session:
        done = promote(
            session, match_id, reviewer=who, settings=app.settings, note=note, alert=alert
        )
    app.console.print(f"match {match_id} promoted (relevant) by {escape(who)}")
    for alert_id, status, why in zip(
        done.alert_ids, done.alert_statuses, done.alert_notes, strict=True
    ):
        extra = f": {why}" if why else ""
        app.console.print(f"alert {alert_id} {status}{escape(extra)}")


@matches.command("dismiss")
@click.argument("match_id", type=int)
@click.option("--note", help="Why (kept with the review).")
@_BY
@pass_app
def dismiss_cmd(app: AppContext, match_id: int, note: str | None, reviewer: str | None) -> None:
    """Dismiss a possible match: label it irrelevant (a hard negative for eval)."""
    from crawler.review.feedback import dismiss

    who = _who(reviewer)
    with app.db.session() as session:
        dismiss(session, match_id, reviewer=who, note=note)
    app.console.print(f"match {match_id} dismissed (irrelevant) by {escape(who)}")


@click.command("missed")
@click.argument("url")
@click.option("--topic", required=True, help="The topic the story belongs to.")
@click.option("--note", help="Why it belongs (kept with the review).")
@_BY
@click.option(
    "--allow-private-host",
    "allow_private",
    multiple=True,
    help="Allow this loopback/private host (tests, intranet sites).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def missed(
    app: AppContext,
    url: str,
    topic: str,
    note: str | None,
    reviewer: str | None,
    allow_private: tuple[str, ...],
    as_json: bool,
) -> None:
    """Report a story the topic missed: fetch, store, label, and say why it did not match."""
    from crawler.review.missed import report_missed

    who = _who(reviewer)
    matcher = app.matcher()
    if topic not in matcher.topics:  # a usage error, before the database is even opened
        known = ", ".join(matcher.topics)
        raise ConfigError(f"unknown topic {topic!r}; expected one of: {known}", field="--topic")
    with app.db.session() as session:
        report = report_missed(
            session, app.settings, matcher, url, topic, reviewer=who, note=note,
            allow_private=allow_private,
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps(asdict(report), ensure_ascii=False, indent=2))
        return
    console = app.console
    stored = "already stored" if report.reused_article else "fetched and stored"
    console.print(
        f"reported miss: match {report.match_id} ({escape(topic)}) for article "
        f"{report.article_id}, {stored}: {escape(report.title)}"
    )
    verdict = "match it now" if report.matched_now else "do not match it"
    console.print(
        f"score {report.score:.2f} of threshold {report.threshold:.2f}: the current rules {verdict}"
    )
    table = Table(title=f"Why {topic} did not match")
    for column in ("rule", "status", "why", "absent groups"):
        table.add_column(column, overflow="fold")
    for rule in report.rules:
        table.add_row(
            rule.rule_id, rule.status, escape(rule.reason), escape(", ".join(rule.missing_groups))
        )
    console.print(table)
    console.print(f"term groups present: {escape(', '.join(report.present_groups) or 'none')}")


@sources_group.command("mute")
@click.argument("source")
@click.option("--days", type=click.FloatRange(min=0.01), default=7.0, show_default=True)
@_BY
@pass_app
def mute(app: AppContext, source: str, days: float, reviewer: str | None) -> None:
    """Mute a source's alerts for some days (its articles are still stored and matched)."""
    from sqlalchemy import select

    from crawler.review.feedback import mute_source
    from crawler.storage.models import Source

    who = _who(reviewer)
    with app.db.session() as session:
        source_id = session.scalar(select(Source.id).where(Source.name == source))
        if source_id is None:
            raise click.ClickException(f"there is no source named {source!r} in the database")
        row = mute_source(session, source_id, by=who, days=days, reason="newswatch mute")
        until = row.until
    app.console.print(f"source {escape(source)} muted until {until:%Y-%m-%d %H:%M} UTC")


def print_reviewed_eval(matcher: Matcher, *, as_json: bool) -> None:
    """`newswatch eval --reviewed`: scores per topic and language, then the failing cases."""
    from crawler.review.feedback import eval_reviewed

    app = _app()
    with app.db.session() as session:
        report = eval_reviewed(session, matcher)
    if as_json:
        data = {
            "pack_version": report.pack_version,
            "pairs": report.pairs,
            "topics": {k: v.to_dict() for k, v in report.topics.items()},
            "by_language": {
                lang: {k: v.to_dict() for k, v in scores.items()}
                for lang, scores in report.by_language.items()
            },
            "failing": [asdict(c) for c in report.failing],
            "unreadable": report.unreadable,
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"{report.pairs} reviewed (article, topic) pairs, pack {report.pack_version}")
    rows = [("all", t, s) for t, s in report.topics.items()]
    rows += [(lang, t, s) for lang, sc in sorted(report.by_language.items()) for t, s in sc.items()]
    for lang, topic, s in rows:
        click.echo(
            f"{topic} [{lang}]: precision {format_rate(s.precision)} recall "
            f"{format_rate(s.recall)} f1 {format_rate(s.f1)} "
            f"(tp {s.tp}, fp {s.fp}, fn {s.fn}, tn {s.tn})"
        )
    if not report.failing:
        click.echo("no reviewed case fails with the current rules")
    for c in report.failing:
        what = "missed" if c.kind == "false_negative" else "wrongly matched"
        click.echo(
            f"FAIL {what}: match {c.match_id} {c.topic} [{c.lang}] {c.state}/{c.label} "
            f"score {c.score:.2f}/{c.threshold:.2f} {c.title} <{c.url}>"
        )
    if report.unreadable:
        click.echo(f"{len(report.unreadable)} reviewed articles have no stored text (pruned)")


commands: list[click.Command] = [missed]
