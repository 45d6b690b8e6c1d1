"""`python -m benchmarks.run` (`make bench`): every benchmark, one table, bench-results.json.

    python -m benchmarks.run                       # the full run (under 10 minutes here)
    python -m benchmarks.run --quick               # tiny sizes (the smoke test uses this)
    python -m benchmarks.run --only crawl,storage  # some parts
    python -m benchmarks.run --corpus PATH         # another corpus (manifest.jsonl + pages)

A part that cannot run (no PostgreSQL, no daemon yet) says why and the rest carries on; the
exit code is non-zero only when the harness itself broke.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PARTS = ("crawl", "matching", "alert", "storage", "scale", "memory")
TOTAL_BUDGET_S = 570.0  # `make bench` must finish within 10 minutes on the 2-core machine


@dataclass(frozen=True)
class Sizes:
    """How big each part is."""

    corpus_pages: int | None  # None = the whole corpus
    copies: int
    cap_s: float
    relevant_stage_pages: int
    naive_sample: int
    match_rounds: int
    storage_urls: int
    storage_batch: int
    seen_checks: int
    seen_singles: int
    orm_inserts: int
    alert_items: int
    alert_interval: float
    memory_cycles: tuple[int, ...]
    memory_budget_s: float


FULL = Sizes(
    corpus_pages=None,
    copies=3000,
    cap_s=30.0,
    relevant_stage_pages=40,
    naive_sample=40,
    match_rounds=5,
    storage_urls=1_000_000,
    storage_batch=50_000,
    seen_checks=20_000,
    seen_singles=2_000,
    orm_inserts=500,
    alert_items=10,
    alert_interval=5.0,
    memory_cycles=(20, 200),
    memory_budget_s=150.0,
)
QUICK = Sizes(
    corpus_pages=10,
    copies=20,
    cap_s=10.0,
    relevant_stage_pages=5,
    naive_sample=5,
    match_rounds=2,
    storage_urls=2_000,
    storage_batch=1_000,
    seen_checks=1_000,
    seen_singles=100,
    orm_inserts=20,
    alert_items=1,
    alert_interval=5.0,
    memory_cycles=(2, 4),
    memory_budget_s=40.0,
)


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="Tiny sizes (seconds, not minutes).")
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"Comma-separated parts: {','.join(PARTS)}."
    )
    parser.add_argument("--corpus", type=Path, help="Corpus folder (default: ../shared/corpus).")
    parser.add_argument(
        "--output", type=Path, default=Path("bench-results.json"), help="Where the JSON goes."
    )
    parser.add_argument("--copies", type=int, help="Unique URLs per crawl page set.")
    parser.add_argument("--cap", type=float, help="Time cap of each crawl, seconds.")
    parser.add_argument("--storage-urls", type=int, help="URLs stored before the lookups.")
    parser.add_argument("--alert-items", type=int, help="Feed items for time to alert.")
    parser.add_argument(
        "--memory-cycles", help="Crawl-run checkpoints for daemon memory, e.g. 20,200."
    )
    parser.add_argument(
        "--memory-budget", type=float, help="Seconds the memory part may take at most."
    )
    parser.add_argument(
        "--no-budget", action="store_true", help="Do not shorten the memory part to fit 10 min."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; expected some of {', '.join(PARTS)}")
    args.parts = parts
    return args


def sizes_from(args: argparse.Namespace) -> Sizes:
    """The sizes for this run: --quick or full, with explicit overrides."""
    base = QUICK if args.quick else FULL
    changes: dict[str, Any] = {}
    if args.copies:
        changes["copies"] = args.copies
    if args.cap:
        changes["cap_s"] = args.cap
    if args.storage_urls:
        changes["storage_urls"] = args.storage_urls
        changes["storage_batch"] = min(base.storage_batch, max(1000, args.storage_urls // 10))
    if args.alert_items:
        changes["alert_items"] = args.alert_items
    if args.memory_cycles:
        changes["memory_cycles"] = tuple(int(x) for x in args.memory_cycles.split(","))
    if args.memory_budget:
        changes["memory_budget_s"] = args.memory_budget
    return Sizes(**{**base.__dict__, **changes})


def load_pages(args: argparse.Namespace, sizes: Sizes, meta: dict[str, Any]) -> list[Any]:
    """The corpus pages, or generated ones (with a note) where the corpus is absent."""
    from benchmarks.corpus import corpus_available, default_corpus_dir, generated_pages, load_corpus

    path = args.corpus or default_corpus_dir()
    if corpus_available(path):
        pages = load_corpus(path, sizes.corpus_pages)
        meta["corpus"] = {"path": str(path), "pages": len(pages), "generated": False}
    else:
        count = sizes.corpus_pages or 50
        pages = generated_pages(count)
        note = f"corpus not found at {path}: using {count} generated pages instead"
        _log(note)
        meta["corpus"] = {"path": str(path), "pages": count, "generated": True, "note": note}
    meta["corpus"]["avg_kb"] = round(sum(len(p.body) for p in pages) / max(len(pages), 1) / 1024, 1)
    return pages


def guarded(results: dict[str, Any], part: str, fn: Callable[[], Any]) -> None:
    """Run one part; an exception is recorded (with a traceback on stderr), not fatal."""
    started = time.monotonic()
    try:
        results[part] = fn()
    except Exception as exc:
        traceback.print_exc()
        results[part] = {"error": f"{type(exc).__name__}: {str(exc).strip()[:500]}"}
    if isinstance(results[part], dict):
        results[part]["part_seconds"] = round(time.monotonic() - started, 1)
    _log(f"{part}: done in {time.monotonic() - started:.0f} s")


def main(argv: list[str] | None = None) -> int:
    """Run the selected parts, print the table, write the JSON."""
    args = parse_args(argv)
    sizes = sizes_from(args)
    started = time.monotonic()
    from benchmarks.common import load_avg

    tmp = Path(tempfile.mkdtemp(prefix="newswatch-bench-"))
    meta: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "parts": args.parts,
        "sizes": {k: v for k, v in sizes.__dict__.items()},
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg_start": load_avg(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    results: dict[str, Any] = {"meta": meta}
    try:
        run_parts(args, sizes, tmp, results, started)
    finally:
        if args.keep:
            _log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    from benchmarks.report import evaluate_targets, print_report

    meta["load_avg_end"] = load_avg()
    meta["seconds"] = round(time.monotonic() - started, 1)
    targets = evaluate_targets(results)
    results["targets"] = targets
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print_report(results, targets)
    if "scale" in results:
        from benchmarks.scale import scale_lines

        print("\n".join(scale_lines(results["scale"])))
    print(
        f"wrote {args.output} in {meta['seconds']:.0f} s "
        f"(load average {meta['load_avg_start']} → {meta['load_avg_end']} on {meta['cpus']} CPUs)"
    )
    return 0


def run_parts(
    args: argparse.Namespace, sizes: Sizes, tmp: Path, results: dict[str, Any], started: float
) -> None:
    """Every selected part, in order; the memory part gets whatever time is left."""
    from benchmarks.corpus import inject_relevant

    parts = args.parts
    pages = load_pages(args, sizes, results["meta"]) if {"crawl", "matching"} & set(parts) else []
    relevant = [type(p)(p.id, p.url, inject_relevant(p.body)) for p in pages]
    stage_runs: dict[str, Any] = {}

    if "crawl" in parts or "matching" in parts:
        from benchmarks.stages import time_stages

        def stages() -> dict[str, Any]:
            _log(f"stages: timing each pipeline stage over {len(pages)} real pages …")
            stage_runs["real"] = time_stages(pages, tmp, "real", keep_texts=True)
            step = max(1, len(relevant) // max(sizes.relevant_stage_pages, 1))
            sample = relevant[::step][: sizes.relevant_stage_pages]
            _log(f"stages: … and over {len(sample)} all-relevant pages")
            stage_runs["relevant"] = time_stages(sample, tmp, "relevant")
            return {
                name: {
                    "pages": run.pages,
                    "statuses": dict(run.statuses),
                    "matched": run.matched,
                    "cpu_ms_per_page": {k: round(v, 3) for k, v in run.ms_per_page().items()},
                    "cpu_ms_per_call": {k: round(v, 3) for k, v in run.ms_per_call().items()},
                    "clustering_ms_per_matched_page": run.clustering_ms_per_matched(),
                    "errors": run.errors,
                }
                for name, run in stage_runs.items()
            }

        guarded(results, "stages", stages)

    if "crawl" in parts:
        from benchmarks.crawl import CrawlSizes, bench_crawl
        from benchmarks.site import BenchSite, PageSet

        def crawl() -> dict[str, Any]:
            crawl_sizes = CrawlSizes(copies=sizes.copies, cap_s=sizes.cap_s)
            sets = [
                PageSet("real", pages, [p.body for p in pages], sizes.copies),
                PageSet("relevant", relevant, [p.body for p in relevant], sizes.copies),
            ]
            step = max(1, len(pages) // max(sizes.naive_sample, 1))
            naive_sample = {"real": pages[::step][: sizes.naive_sample],
                            "relevant": relevant[::step][: sizes.naive_sample]}  # fmt: skip
            with BenchSite(sets, feed_size=crawl_sizes.feed_size) as site:
                out = bench_crawl(
                    site, ["real", "relevant"], tmp, crawl_sizes, stage_runs, naive_sample, _log
                )
                out["site"] = {"requests": site.requests, "mb_sent": round(site.bytes_sent / 2**20)}
            return out

        guarded(results, "crawl", crawl)

    if "matching" in parts:
        from benchmarks.matching import bench_matcher, bench_prefilter

        def matching() -> dict[str, Any]:
            run = stage_runs.get("real")
            texts = run.extracted if run is not None else []
            _log(f"matching: matcher over {len(texts)} extracted texts × {sizes.match_rounds} …")
            return {
                "matcher": bench_matcher(texts, sizes.match_rounds),
                "prefilter_real": bench_prefilter([p.body for p in pages], sizes.match_rounds),
                "prefilter_relevant": bench_prefilter(
                    [p.body for p in relevant], max(1, sizes.match_rounds // 2)
                ),
            }

        guarded(results, "matching", matching)

    if "storage" in parts:
        from benchmarks.storage import bench_storage

        guarded(
            results,
            "storage",
            lambda: bench_storage(
                tmp,
                sizes.storage_urls,
                batch=sizes.storage_batch,
                checks=sizes.seen_checks,
                singles=sizes.seen_singles,
                inserts=sizes.orm_inserts,
                log=_log,
            ),
        )

    if "scale" in parts:
        from benchmarks.scale import run_scale

        short = len(parts) > 1  # within a whole run: shorter, to keep the 10-minute budget
        guarded(results, "scale", lambda: run_scale(tmp, quick=args.quick, log=_log, short=short))

    daemon_reason: str | None = None
    if "alert" in parts or "memory" in parts:
        from benchmarks.daemon import daemon_available

        daemon_reason = daemon_available()
        if daemon_reason:
            _log(f"daemon benchmarks skipped: {daemon_reason}")

    if "alert" in parts:
        from benchmarks.daemon import bench_alert

        if daemon_reason:
            results["alert"] = {"skipped": daemon_reason}
        else:
            guarded(
                results,
                "alert",
                lambda: bench_alert(tmp, sizes.alert_items, sizes.alert_interval, _log),
            )

    if "memory" in parts:
        from benchmarks.daemon import bench_memory

        budget = sizes.memory_budget_s
        if not args.no_budget:
            left = TOTAL_BUDGET_S - (time.monotonic() - started) - 25  # daemon stop + report
            budget = min(budget, max(left, 30.0))
        if daemon_reason:
            results["memory"] = {"skipped": daemon_reason}
        else:
            _log(f"memory: up to {budget:.0f} s for {sizes.memory_cycles[-1]} crawl runs")
            guarded(
                results,
                "memory",
                lambda: bench_memory(tmp, sizes.memory_cycles, 1.0, 4, _log, timeout=budget),
            )


if __name__ == "__main__":
    sys.exit(main())
