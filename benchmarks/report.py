"""Targets (PASS/MISS) and the rich table printed at the end of `make bench`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table


def _get(data: dict[str, Any], *path: str) -> Any:
    node: Any = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _target(
    name: str, value: float | None, goal: str, ok: Callable[[float], bool], note: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "goal": goal,
        "passed": None if value is None else bool(ok(value)),
        "note": note,
    }


def _peak_pss(results: dict[str, Any]) -> float | None:
    peaks = [
        _get(results, "crawl", name, "newswatch", "peak_pss_mb") for name in ("real", "relevant")
    ]
    measured = [p for p in peaks if p]
    return max(measured) if measured else None


def _percent(value: float | None) -> float | None:
    return None if value is None else value * 100


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issues' targets, each PASS (True), MISS (False) or not measured (None). Issue 16's
    crawl targets are steps: the goal beyond them is in the note."""
    targets = [
        _target(
            "crawl throughput (real corpus) vs naive baseline",
            _get(results, "crawl", "real", "ratio_vs_naive"),
            "≥ 3×",
            lambda v: v >= 3,
            "goal beyond: 5×",
        ),
        _target(
            "crawl throughput (real corpus) vs bare-Scrapy fetch",
            _get(results, "crawl", "real", "ratio_vs_fetch_only"),
            "≥ 0.3×",
            lambda v: v >= 0.3,
            "goal beyond: 0.5×",
        ),
        _target(
            "crawl throughput (all-relevant corpus) vs naive baseline",
            _get(results, "crawl", "relevant", "ratio_vs_naive"),
            "≥ 1.0×",
            lambda v: v >= 1.0,
            "goal beyond: 1.5×",
        ),
        _target(
            "peak memory of a crawl's process tree (PSS, the larger crawl)",
            _peak_pss(results),
            "≤ 300 MB",
            lambda v: v <= 300,
        ),
        _target(
            "prefilter pass rate on general news",
            _percent(_get(results, "matching", "prefilter_real", "pass_rate")),
            "≤ 5 %",
            lambda v: v <= 5,
        ),
        _target(
            "prefilter CPU per average page",
            _get(results, "matching", "prefilter_real", "ms_per_page"),
            "≤ 1.5 ms",
            lambda v: v <= 1.5,
        ),
        _target(
            "clustering CPU per matched page (fingerprint + joining a story)",
            _get(results, "stages", "relevant", "clustering_ms_per_matched_page"),
            "≤ 1.5 ms",
            lambda v: v <= 1.5,
        ),
        _target(
            "matcher CPU per document",
            _get(results, "matching", "matcher", "ms_per_doc"),
            "≤ 1 ms",
            lambda v: v <= 1,
        ),
    ]
    interval = _get(results, "alert", "poll_interval_s")
    targets.append(
        _target(
            "median time to alert (s)",
            _get(results, "alert", "median_s"),
            f"< {interval + 3:g} s" if interval else "< poll interval + 3 s",
            lambda v: interval is not None and v < interval + 3,
        )
    )
    urls = _get(results, "storage", "urls")
    targets.append(
        _target(
            "seen-URL checks/s on SQLite (batched)",
            _get(results, "storage", "sqlite", "seen_batched_per_s"),
            "≥ 20,000/s at 1M URLs",
            lambda v: v >= 20_000,
            "" if urls is None or urls >= 1_000_000 else f"measured at {urls:,} URLs, not 1M",
        )
    )
    memory = results.get("memory") or {}
    samples = list((memory.get("samples") or {}).values())
    growth = memory.get("growth")
    note = ""
    if len(samples) >= 2:
        note = f"after {samples[0]['runs']} vs after {samples[-1]['runs']} runs"
    if memory.get("error"):
        note = f"{note}; {memory['error']}" if note else str(memory["error"])
    target = _target(
        "daemon memory growth, 20 → 200 crawl runs",
        None if growth is None else growth * 100,
        "≤ 10 %",
        lambda v: v <= 10,
        note,
    )
    if not memory.get("complete"):
        target["passed"] = None  # not measured over the full range: no verdict
    targets.append(target)
    return targets


def _num(value: Any, fmt: str = ",.1f", unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, int | float):
        return f"{value:{fmt}}{unit}"
    return str(value)


def _verdict(passed: bool | None) -> str:
    if passed is None:
        return "[yellow]n/a[/yellow]"
    return "[green]PASS[/green]" if passed else "[red]MISS[/red]"


def _crawler_row(table: Table, label: str, r: dict[str, Any] | None) -> None:
    if not r:
        return
    if r.get("error") and not r.get("pages"):
        table.add_row("", label, f"[red]failed[/red]: {str(r['error'])[-120:]}", "", "")
        return
    capped = " (capped)" if r.get("capped") else ""
    steady = r.get("steady_pages_per_s")
    steady_text = f" (steady {steady:.1f})" if steady else ""
    table.add_row(
        "",
        label,
        f"{_num(r.get('pages_per_s'))} pages/s{steady_text} · {r.get('pages')} pages{capped} · "
        f"{_num(r.get('cpu_ms_per_page'))} CPU ms/page · "
        f"peak memory {_num(r.get('peak_pss_mb'), ',.0f')} MB PSS "
        f"({_num(r.get('peak_rss_mb'), ',.0f')} MB RSS summed)",
        "",
        "",
    )


def _stages(r: dict[str, Any] | None) -> str:
    stages = (r or {}).get("stage_cpu_ms_per_page") or {}
    parts = [f"{k} {v:.2f}" for k, v in stages.items() if k != "total_measured"]
    return " · ".join(parts)


def build_table(results: dict[str, Any], targets: list[dict[str, Any]]) -> Table:
    """One table: every figure, and each target with PASS/MISS beside it."""
    by_name = {t["name"]: t for t in targets}
    table = Table(title="newswatch benchmarks", show_lines=False, expand=False)
    table.add_column("part", style="bold")
    table.add_column("metric")
    table.add_column("value", overflow="fold")
    table.add_column("target")
    table.add_column("result")

    def target_row(part: str, name: str, fmt: str = ",.2f", unit: str = "") -> None:
        t = by_name[name]
        note = f" ({t['note']})" if t["note"] else ""
        table.add_row(
            part, name, _num(t["value"], fmt, unit) + note, t["goal"], _verdict(t["passed"])
        )

    crawl = results.get("crawl") or {}
    if crawl.get("skipped") or crawl.get("error"):
        table.add_row(
            "crawl", "crawl throughput", str(crawl.get("skipped") or crawl.get("error")), "", ""
        )
    for name, label in (("real", "real corpus"), ("relevant", "all-relevant corpus")):
        entry = crawl.get(name)
        if not entry:
            continue
        table.add_row(
            f"crawl: {label}", f"{entry['urls']:,} URLs, cap {entry['cap_s']:g} s", "", "", ""
        )
        _crawler_row(table, "newswatch crawl", entry.get("newswatch"))
        _crawler_row(table, "naive Scrapy + trafilatura", entry.get("naive"))
        _crawler_row(table, "bare Scrapy fetch-only", entry.get("fetch_only"))
        table.add_row("", "newswatch CPU ms/page by stage", _stages(entry.get("newswatch")), "", "")
        table.add_row("", "naive CPU ms/page by step", _stages(entry.get("naive")), "", "")
        if name == "real":
            target_row("", "crawl throughput (real corpus) vs naive baseline", ",.2f", "×")
            target_row("", "crawl throughput (real corpus) vs bare-Scrapy fetch", ",.2f", "×")
        else:
            target_row("", "crawl throughput (all-relevant corpus) vs naive baseline", ",.2f", "×")
    if crawl.get("real") or crawl.get("relevant"):
        target_row("crawl", "peak memory of a crawl's process tree (PSS, the larger crawl)",
                   ",.0f", " MB")  # fmt: skip
    stage_runs = results.get("stages") or {}
    if stage_runs.get("relevant"):
        target_row("stages", "clustering CPU per matched page (fingerprint + joining a story)",
                   ",.2f", " ms")  # fmt: skip

    matching = results.get("matching") or {}
    if matching:
        m = matching.get("matcher") or {}
        table.add_row(
            "matching",
            "full matcher on extracted texts",
            f"{_num(m.get('docs_per_s'), ',.0f')} docs/s · "
            f"{_num(m.get('ms_per_doc'), ',.3f')} ms/doc "
            f"over {m.get('docs')} docs × {m.get('rounds')} rounds · "
            f"{m.get('matched_docs')} matched "
            f"(naive substring: {_num(m.get('naive_substring_ms_per_doc'), ',.3f')} ms/doc)"
            if m and not m.get("skipped")
            else str(m.get("skipped") or matching.get("error") or "–"),
            "",
            "",
        )
        for key, label in (("prefilter_real", "prefilter, real corpus"),
                           ("prefilter_relevant", "prefilter, all-relevant corpus")):  # fmt: skip
            p = matching.get(key) or {}
            if p and not p.get("skipped"):
                table.add_row(
                    "",
                    label,
                    f"pass rate {p['pass_rate']:.1%} ({p['passed']}/{p['pages']}) · "
                    f"{p['ms_per_page']:.2f} ms/page (avg {p['avg_kb']:.0f} KB)",
                    "",
                    "",
                )
        target_row("", "matcher CPU per document", ",.3f", " ms")
        target_row("", "prefilter pass rate on general news", ",.1f", " %")
        target_row("", "prefilter CPU per average page", ",.2f", " ms")

    alert = results.get("alert") or {}
    if alert.get("skipped") or (alert.get("error") and "median_s" not in alert):
        table.add_row(
            "time to alert",
            "feed item → Slack message",
            str(alert.get("skipped") or alert.get("error")),
            "",
            "",
        )
    elif alert:
        table.add_row(
            "time to alert",
            f"{len(alert.get('latencies_s', []))} items, poll every {alert['poll_interval_s']:g} s",
            f"median {_num(alert.get('median_s'), '.2f')} s · "
            f"max {_num(alert.get('max_s'), '.2f')} s"
            + (f" · {len(alert['missed'])} missed" if alert.get("missed") else ""),
            "",
            "",
        )
        steps = alert.get("breakdown_median_s") or {}
        if steps:
            table.add_row(
                "",
                "median of each step (s)",
                " · ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in steps.items()),
                "",
                "",
            )
    if alert:
        target_row("", "median time to alert (s)", ".2f", " s")

    storage = results.get("storage") or {}
    if storage:
        for backend in ("sqlite", "postgresql"):
            s = storage.get(backend) or {}
            label = f"storage: {backend}"
            if s.get("skipped") or s.get("error"):
                table.add_row(label, "", str(s.get("skipped") or s.get("error")), "", "")
                continue
            if not s:
                continue
            table.add_row(
                label,
                f"{s.get('rows', 0):,} URLs stored",
                f"bulk insert {_num(s.get('bulk_insert_rows_per_s'), ',.0f')} rows/s · "
                f"seen-URL checks {_num(s.get('seen_batched_per_s'), ',.0f')}/s batched, "
                f"{_num(s.get('seen_single_per_s'), ',.0f')}/s one at a time · "
                f"article inserts {_num(s.get('orm_inserts_per_s'), ',.0f')}/s (commit each)",
                "",
                "",
            )
        target_row("", "seen-URL checks/s on SQLite (batched)", ",.0f", "/s")

    memory = results.get("memory") or {}
    if memory.get("skipped"):
        table.add_row("daemon memory", "", str(memory["skipped"]), "", "")
    elif memory:
        samples = memory.get("samples") or {}
        text = " · ".join(f"after {v['runs']} runs: {v['rss_mb']:.1f} MB" for v in samples.values())
        table.add_row("daemon memory", "RSS of the daemon process", text or "–", "", "")
    if memory and not memory.get("skipped"):
        target_row("", "daemon memory growth, 20 → 200 crawl runs", ".1f", " %")
    return table


def print_report(results: dict[str, Any], targets: list[dict[str, Any]]) -> None:
    """Print the table (wide enough not to wrap the figures)."""
    Console(width=200).print(build_table(results, targets))
