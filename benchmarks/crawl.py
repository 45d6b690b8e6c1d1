"""Crawl throughput: the real `newswatch crawl` against the naive and the fetch-only baselines.

Every crawler reads the same feeds of the local bench site and is given the same time cap;
throughput is pages processed (stored) divided by the time from launching the command to the
last page processed, so process start-up counts against every crawler alike and a crawler that
hits its cap is still measured fairly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.baseline import naive_match, steady_rate
from benchmarks.common import PYTHON, REPO, child_env, write_config
from benchmarks.corpus import Page
from benchmarks.proc import Measured, run_measured
from benchmarks.site import BenchSite
from benchmarks.stages import StageRun


@dataclass(frozen=True)
class CrawlSizes:
    """How big the crawl benchmark is."""

    copies: int  # unique URLs per page set
    cap_s: float  # time cap of every crawl
    concurrency: int = 32
    feed_size: int = 500


def _result(measured: Measured, pages: int, elapsed: float, **extra: Any) -> dict[str, Any]:
    return {
        "pages": pages,
        "elapsed_s": round(elapsed, 3),
        "pages_per_s": pages / elapsed if elapsed > 0 and pages else 0.0,
        "wall_s": round(measured.wall_s, 3),
        "cpu_s": round(measured.cpu_s, 3),
        "cpu_ms_per_page": measured.cpu_s * 1000 / pages if pages else None,
        "peak_rss_mb": round(measured.peak_rss_mb, 1),
        "peak_pss_mb": round(measured.peak_pss_mb, 1),
        "peak_rss_largest_process_mb": round(measured.peak_rss_largest_mb, 1),
        "exit_code": measured.returncode,
        **extra,
    }


def run_newswatch(site: BenchSite, name: str, tmp: Path, sizes: CrawlSizes) -> dict[str, Any]:
    """`python -m crawler --config … crawl` over every feed of a page set."""
    from sqlalchemy import func, select

    from crawler.storage.db import Database
    from crawler.storage.models import Article, CrawlRun, Match

    work = tmp / f"newswatch-{name}"
    work.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{work / 'newswatch.db'}"
    config = write_config(
        work / "newswatch.toml",
        {
            "database": {"url": db_url},
            "crawl": {
                "autothrottle": False,
                "concurrent_requests": sizes.concurrency,
                "concurrent_requests_per_domain": sizes.concurrency,
                "obey_robots_txt": True,
                "retry_times": 0,
                "download_timeout": 60.0,
            },
            "logging": {"level": "WARNING"},
            "scheduler": {"crawl_timeout": sizes.cap_s + 120},
        },
        [
            {
                "name": f"bench-{name}",
                "kind": "feed",
                "urls": site.feed_urls(name),
                "max_articles": sizes.copies + 10,
                "allow_private_hosts": ["127.0.0.1"],
            }
        ],
    )
    started = time.time()
    measured = run_measured(
        [PYTHON, "-m", "crawler", "--config", str(config), "crawl", "--timeout", str(sizes.cap_s)],
        env=child_env(),
        cwd=REPO,
        timeout=sizes.cap_s + 180,
    )
    if not (work / "newswatch.db").is_file():
        return _result(measured, 0, measured.wall_s, error=measured.tail())
    db = Database(db_url, migrate=False)
    try:
        with db.session() as session:
            statuses = dict(
                session.execute(select(Article.status, func.count()).group_by(Article.status)).all()
            )
            times = [t.timestamp() for t in session.scalars(select(Article.first_seen_at))]
            last = session.scalar(select(func.max(Article.first_seen_at)))
            matched = session.scalar(select(func.count(func.distinct(Match.article_id)))) or 0
            run = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
            run_info: dict[str, Any] = (
                {
                    "status": run.status,
                    "pages_fetched": run.pages_fetched,
                    "skipped": run.skipped,
                    "matched": run.matched,
                    "failed": run.failed,
                    "errors": run.errors,
                }
                if run is not None
                else {}
            )
    except Exception as exc:  # e.g. the crawl died before creating the schema
        return _result(measured, 0, measured.wall_s, error=f"{exc!r}: {measured.tail()}")
    finally:
        db.dispose()
    pages = sum(int(v) for v in statuses.values())
    if last is not None:
        elapsed = last.replace(tzinfo=last.tzinfo or UTC).timestamp() - started
    else:
        elapsed = measured.wall_s
    if measured.returncode not in (0, 1) or not pages:
        run_info["error"] = measured.tail()
    return _result(
        measured,
        pages,
        elapsed,
        capped=run_info.get("status") in ("timed_out", "killed") or pages < sizes.copies,
        steady_pages_per_s=steady_rate(times),
        statuses=statuses,
        matched_articles=int(matched),
        run=run_info,
    )


def run_baseline(
    site: BenchSite, name: str, mode: str, tmp: Path, sizes: CrawlSizes
) -> dict[str, Any]:
    """The naive or fetch-only Scrapy spider over every feed of a page set."""
    work = tmp / f"{mode}-{name}"
    work.mkdir(parents=True, exist_ok=True)
    out = work / "result.json"
    started = time.time()
    measured = run_measured(
        [
            PYTHON,
            "-m",
            "benchmarks.baseline",
            "--mode",
            mode,
            "--db",
            str(work / "baseline.db"),
            "--out",
            str(out),
            "--concurrency",
            str(sizes.concurrency),
            "--timeout",
            str(sizes.cap_s),
            *site.feed_urls(name),
        ],
        env=child_env(),
        cwd=REPO,
        timeout=sizes.cap_s + 180,
    )
    if not out.is_file():
        return _result(measured, 0, measured.wall_s, error=measured.tail())
    data = json.loads(out.read_text(encoding="utf-8"))
    pages = int(data["stored"] if mode == "naive" else data["pages"])
    last = data.get("last_stored_at" if mode == "naive" else "last_page_at")
    elapsed = (float(last) - started) if last else measured.wall_s
    return _result(
        measured,
        pages,
        elapsed,
        capped=data.get("stats", {}).get("finish_reason") == "closespider_timeout"
        or pages < sizes.copies,
        matched_articles=int(data.get("matched", 0)),
        steady_pages_per_s=data.get("steady_pages_per_s"),
    )


def naive_stage_ms(pages: Sequence[Page]) -> dict[str, float]:
    """In-process CPU ms/page of the naive pipeline's steps on a sample of pages."""
    import sqlite3
    import tempfile

    import trafilatura
    from w3lib.encoding import html_to_unicode

    texts = [html_to_unicode(None, p.body)[1] for p in pages]
    start = time.process_time()
    extracted = [trafilatura.extract(t) or "" for t in texts]
    extract_s = time.process_time() - start
    start = time.process_time()
    for text in extracted:
        naive_match(text)
    match_s = time.process_time() - start
    with tempfile.TemporaryDirectory() as folder:
        conn = sqlite3.connect(Path(folder) / "naive.db")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, url TEXT UNIQUE, text TEXT)")
        start = time.process_time()
        for i, text in enumerate(extracted):
            conn.execute("INSERT INTO a (url, text) VALUES (?, ?)", (f"u{i}", text))
            conn.commit()
        store_s = time.process_time() - start
        conn.close()
    n = max(len(pages), 1)
    return {
        "extract": extract_s * 1000 / n,
        "match": match_s * 1000 / n,
        "store": store_s * 1000 / n,
    }


def stage_breakdown(total_ms: float | None, stages: dict[str, float]) -> dict[str, float]:
    """Per-stage ms/page plus the rest of the crawl's CPU (fetching, parsing, Scrapy itself)."""
    out = {k: round(v, 3) for k, v in stages.items()}
    if total_ms is not None:
        out["fetch_parse_framework_rest"] = round(total_ms - sum(stages.values()), 3)
        out["total_measured"] = round(total_ms, 3)
    return out


def bench_crawl(
    site: BenchSite,
    sets: Sequence[str],
    tmp: Path,
    sizes: CrawlSizes,
    stage_runs: dict[str, StageRun],
    naive_sample: dict[str, Sequence[Page]],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """All crawls of every page set, with ratios and per-stage CPU."""
    out: dict[str, Any] = {}
    for name in sets:
        entry: dict[str, Any] = {"urls": site.sets[name].copies, "cap_s": sizes.cap_s}
        log(f"crawl[{name}]: newswatch crawl …")
        entry["newswatch"] = run_newswatch(site, name, tmp, sizes)
        log(f"crawl[{name}]: naive baseline …")
        entry["naive"] = run_baseline(site, name, "naive", tmp, sizes)
        if name == "real":
            log(f"crawl[{name}]: fetch-only Scrapy …")
            entry["fetch_only"] = run_baseline(site, name, "fetch", tmp, sizes)
        nw, naive = entry["newswatch"], entry["naive"]
        entry["ratio_vs_naive"] = (
            nw["pages_per_s"] / naive["pages_per_s"] if naive["pages_per_s"] else None
        )
        if "fetch_only" in entry and entry["fetch_only"]["pages_per_s"]:
            entry["ratio_vs_fetch_only"] = nw["pages_per_s"] / entry["fetch_only"]["pages_per_s"]
        crawlers = [k for k in ("newswatch", "naive", "fetch_only") if k in entry]
        steady = {k: entry[k].get("steady_pages_per_s") for k in crawlers}
        if steady.get("newswatch") and steady.get("naive"):
            entry["steady_ratio_vs_naive"] = steady["newswatch"] / steady["naive"]
        if steady.get("newswatch") and steady.get("fetch_only"):
            entry["steady_ratio_vs_fetch_only"] = steady["newswatch"] / steady["fetch_only"]
        run = stage_runs.get(name)
        if run is not None:
            entry["newswatch"]["stage_cpu_ms_per_page"] = stage_breakdown(
                nw["cpu_ms_per_page"], run.ms_per_page()
            )
            entry["newswatch"]["stage_cpu_ms_per_call"] = {
                k: round(v, 3) for k, v in run.ms_per_call().items()
            }
            entry["stage_pass"] = {
                "pages": run.pages,
                "statuses": dict(run.statuses),
                "matched": run.matched,
                "errors": run.errors,
            }
        sample = naive_sample.get(name)
        if sample:
            entry["naive"]["stage_cpu_ms_per_page"] = stage_breakdown(
                naive["cpu_ms_per_page"], naive_stage_ms(sample)
            )
        out[name] = entry
    return out


def now_iso() -> str:
    """The current UTC time, ISO formatted."""
    return datetime.now(UTC).isoformat(timespec="seconds")
