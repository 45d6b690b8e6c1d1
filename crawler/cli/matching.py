"""`newswatch check` (explain one article) and `newswatch eval` (score a labelled set)."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from crawler.cli.context import AppContext, ErrorExit
from crawler.errors import NewswatchError
from crawler.matching import Document, Matcher, mark_snippet
from crawler.matching.evaluate import (
    EvalReport,
    breakdown,
    breakdown_lines,
    load_labelled,
    run_eval,
    summary_lines,
)
from crawler.matching.model import Span

FETCH_TIMEOUT = 15
FETCH_CAP = 5 * 1024 * 1024
USER_AGENT = "newswatch-check/0.1 (+https://github.com/newswatch)"


def _configured_matcher(packs: Sequence[Path], thresholds: dict[str, float]) -> Matcher:
    """The matcher the config describes, plus `--pack` files and `--threshold` overrides."""
    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(AppContext) if ctx is not None else None
    return (app or AppContext()).matcher(packs, thresholds)


def _parse_thresholds(values: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for value in values:
        topic, sep, number = value.partition("=")
        try:
            out[topic.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep or not topic.strip():
            raise click.UsageError(f"--threshold expects TOPIC=NUMBER, got {value!r}")
    return out


def fetch_url(url: str) -> tuple[bytes, str | None]:
    """GET an http(s) URL (15 s timeout, 5 MB cap); returns the body and declared charset."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise click.UsageError(f"only http and https URLs can be checked, got {url!r}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:  # noqa: S310
            body: bytes = response.read(FETCH_CAP + 1)
            charset = response.headers.get_content_charset()
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise click.ClickException(f"cannot fetch {url}: {reason}") from None
    if len(body) > FETCH_CAP:
        raise click.ClickException(f"{url} is larger than {FETCH_CAP / 1048576:g} MB")
    return body, charset


def _read_source(source: str) -> tuple[bytes, str | None, str | None]:
    """Raw bytes, charset and URL of a FILE or URL argument."""
    if "://" in source:
        body, charset = fetch_url(source)
        _refuse_binary(body, source)
        return body, charset, source
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise click.UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise click.UsageError(f"cannot decompress {source}: {exc}") from None
    _refuse_binary(data, source)
    return data, None, None


# Signatures of files people pass by mistake; anything else with NUL bytes is binary too.
MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "gzip-compressed data (name it .gz to have it decompressed)"),
    (b"SQLite format 3\x00", "a SQLite database"),
    (b"\x7fELF", "a program"),
)


def _refuse_binary(data: bytes, source: str) -> None:
    """UsageError when `data` is not text or HTML: matching binary data explains nothing."""
    kind = next((name for magic, name in MAGIC if data.startswith(magic)), None)
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if kind is None and not utf16 and b"\x00" in data[:8192]:
        kind = "binary data (it contains NUL bytes)"
    if kind is not None:
        raise click.UsageError(f"cannot check {source}: it is {kind}, not HTML or text")


def _looks_like_html(data: bytes) -> bool:
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"<meta"))


def _document(data: bytes, charset: str | None, url: str | None, console: Console) -> Document:
    if not _looks_like_html(data):
        text = data.decode(charset or "utf-8", "replace")
        console.print("[bold]Input[/]: plain text (no title)")
        return Document("", text, None, url)
    from crawler.extract import Extracted, extract_html

    result = extract_html(data, url, charset)
    if not isinstance(result, Extracted):
        raise click.ClickException(f"extraction failed: {result.reason}")
    console.print(
        f"[bold]Extracted[/]: {escape(result.title or '(no title)')} — "
        f"{len(result.text.split())} words, language {result.language or '?'}, "
        f"site {escape(result.sitename or '?')}"
    )
    return Document(result.title or "", result.text, result.language, url)


def _spans_text(spans: Sequence[Span], limit: int = 12) -> str:
    shown = [
        f"{escape(s.text)} [dim]({s.group}{', title' if s.field == 'title' else ''})[/]"
        for s in spans[:limit]
    ]
    more = f" … +{len(spans) - limit}" if len(spans) > limit else ""
    return "; ".join(shown) + more


@click.command("check")
@click.argument("source")
@click.option(
    "--pack",
    "packs",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Extra topic-pack TOML file (repeatable).",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="TOPIC=X",
    help="Override a topic's score threshold (repeatable).",
)
def check(source: str, packs: tuple[Path, ...], thresholds: tuple[str, ...]) -> None:
    """Explain how FILE or URL matches: text summary, rules fired or nearly fired, spans."""
    console = Console(highlight=False)
    try:
        matcher = _configured_matcher(packs, _parse_thresholds(thresholds))
    except NewswatchError as exc:
        raise ErrorExit(exc) from None
    data, charset, url = _read_source(source)
    prefilter = matcher.prefilter.scan(data)
    doc = _document(data, charset, url, console)
    verdict = "[green]pass[/]" if prefilter.passed else "[red]skip[/]"
    console.print(f"[bold]Prefilter[/]: {verdict} ({escape(prefilter.reason)})")
    console.print(f"[bold]Text[/]: {escape(doc.text[:300])}{'…' if len(doc.text) > 300 else ''}")
    results, traces = matcher.trace(doc)
    table = Table(title=f"Topics (pack {matcher.pack_version})")
    for column in ("topic", "score", "threshold", "matched", "score parts"):
        table.add_column(column)
    for r in results:
        parts = ", ".join(f"{k} {v:g}" for k, v in r.score_parts.items()) or "-"
        table.add_row(
            r.topic,
            f"{r.score:g}",
            f"{r.threshold:g}",
            "[green]yes[/]" if r.matched else "no",
            escape(parts),
        )
    console.print(table)
    rules = Table(title="Rules that fired or nearly fired")
    for column in ("rule", "status", "evidence"):
        rules.add_column(column, overflow="fold")
    for t in traces:
        status = f"[green]fired ×{t.windows}[/]" if t.fired else f"[yellow]{escape(t.reason)}[/]"
        rules.add_row(t.rule_id, status, _spans_text(t.spans))
    console.print(rules if traces else "[dim]No rule fired or nearly fired.[/]")
    for r in results:
        if r.snippet:
            marked = mark_snippet(r.snippet, r.snippet_marks, escape, "[bold yellow]", "[/]")
            console.print(f"\n[bold]{r.topic}[/] snippet:\n{marked}")
    entities = results[0].entities if results else {}
    for kind, values in entities.items():
        if values:
            console.print(f"[bold]{kind}[/]: {escape(', '.join(values))}")


def _write_predictions(path: Path, report: EvalReport) -> None:
    try:
        with path.open("w", encoding="utf-8") as out:
            for ident, labels in report.predictions.items():
                out.write(json.dumps({"id": ident, "labels": labels}) + "\n")
    except OSError as exc:
        raise click.UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


@click.command("eval")
@click.argument("labelled", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option(
    "--reviewed",
    is_flag=True,
    help="Score the current rules on every reviewed match and reported miss in the database.",
)
@click.option(
    "--incidents",
    "incidents_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Score incident linking and fields on this labelled JSON Lines file instead.",
)
@click.option(
    "--predictions",
    type=click.Path(path_type=Path, dir_okay=False),
    help='Write {"id", "labels"} per item to this JSON Lines file.',
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="TOPIC=X",
    help="Override a topic's score threshold (repeatable).",
)
@click.option(
    "--pack",
    "packs",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Extra topic-pack TOML file (repeatable).",
)
@click.option(
    "--by",
    "by",
    multiple=True,
    metavar="FIELD",
    help="Also break the scores down by an item field: lang, kind, form, class… (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def eval_cmd(
    labelled: Path | None,
    reviewed: bool,
    incidents_file: Path | None,
    predictions: Path | None,
    thresholds: tuple[str, ...],
    packs: tuple[Path, ...],
    by: tuple[str, ...],
    as_json: bool,
) -> None:
    """Precision, recall and F1 per topic on LABELLED.jsonl (or --reviewed: the database; or
    --incidents FILE: incident linking and fields)."""
    if incidents_file is not None:
        _eval_incidents(incidents_file, as_json)
        return
    if reviewed == (labelled is not None):
        raise click.UsageError("give either a LABELLED.jsonl file, --reviewed or --incidents FILE")
    try:
        matcher = _configured_matcher(packs, _parse_thresholds(thresholds))
        if reviewed:
            from crawler.cli.feedback import print_reviewed_eval

            print_reviewed_eval(matcher, as_json=as_json)
            return
        assert labelled is not None
        items = load_labelled(labelled)
    except NewswatchError as exc:
        raise ErrorExit(exc) from None
    report = run_eval(matcher, items)
    if predictions is not None:
        _write_predictions(predictions, report)
    splits = {name: breakdown(report, items, name) for name in dict.fromkeys(by)}
    if as_json:
        data: dict[str, Any] = report.to_dict()
        data["pack_version"] = matcher.pack_version
        if splits:
            data["by"] = {
                name: {
                    value: {topic: s.to_dict() for topic, s in scores.items()}
                    for value, scores in groups.items()
                }
                for name, groups in splits.items()
            }
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{len(items)} items, pack {matcher.pack_version}")
    for line in summary_lines(report):
        click.echo(line)
    for name, groups in splits.items():
        for line in breakdown_lines(name, groups):
            click.echo(line)
    for name, score in report.topics.items():
        if score.false_positives:
            click.echo(f"{name} false positives: {', '.join(score.false_positives)}")
        if score.false_negatives:
            click.echo(f"{name} false negatives: {', '.join(score.false_negatives)}")
    for ident, error in report.errors.items():
        click.echo(f"unreadable {ident}: {error}", err=True)


def _eval_incidents(path: Path, as_json: bool) -> None:
    from crawler.incidents.evaluate import (
        incident_summary_lines,
        load_incident_items,
        run_incident_eval,
    )

    try:
        report = run_incident_eval(load_incident_items(path))
    except NewswatchError as exc:
        raise ErrorExit(exc) from None
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    for line in incident_summary_lines(report):
        click.echo(line)
    for a, b in report.wrongly_joined:
        click.echo(f"joined but different incidents: {a} {b}")
    for a, b in report.wrongly_split:
        click.echo(f"split but one incident: {a} {b}")
    for name, errors in report.field_errors.items():
        click.echo(f"{name} wrong: {'; '.join(errors)}")


commands: list[click.Command] = [check, eval_cmd]
