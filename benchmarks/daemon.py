"""The daemon benchmarks: time to alert (feed item → Slack message) and memory over cycles.

Both run the real `python -m crawler --config … run` against the local sample news site.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from benchmarks.common import PYTHON, REPO, child_env, write_config
from benchmarks.proc import MB, kill_group
from benchmarks.slack import TOKEN, start_standin, wait_for_message


def daemon_available() -> str | None:
    """None when `newswatch run` exists, else why the daemon benchmarks cannot run."""
    try:
        import crawler.daemon.scheduler  # noqa: F401
    except Exception as exc:
        return f"crawler.daemon.scheduler not importable: {type(exc).__name__}: {exc}"
    probe = subprocess.run(
        [PYTHON, "-m", "crawler", "run", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=child_env(),
        timeout=60,
        check=False,
    )
    if probe.returncode != 0:
        return f"`newswatch run` is not available: {(probe.stderr or probe.stdout).strip()[-300:]}"
    return None


def start_daemon(
    config: Path, work: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `newswatch run` in its own process group, logging to work/daemon.log."""
    log = (work / "daemon.log").open("ab")
    try:
        return subprocess.Popen(
            [PYTHON, "-m", "crawler", "--config", str(config), "run",
             "--crawl-logs", str(work / "crawls")],
            cwd=REPO,
            env=child_env(extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()


def stop_daemon(proc: subprocess.Popen[bytes], grace: float = 40.0) -> int | None:
    """SIGTERM the daemon's process group (it stops gracefully), SIGKILL it after `grace` s."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    kill_group(proc.pid, grace=2.0)  # crawl processes left behind, if any
    return proc.returncode


def _runs(db: Any, source: str | None = None) -> tuple[int, int]:
    """(crawl runs started, runs finished) for a source (or all sources)."""
    from sqlalchemy import func, select

    from crawler.storage.models import CrawlRun, Source

    with db.session() as session:
        query = select(func.count(CrawlRun.id), func.count(CrawlRun.finished_at))
        if source is not None:
            query = query.join(Source).where(Source.name == source)
        started, finished = session.execute(query).one()
    return int(started), int(finished)


def _daemon_log_tail(work: Path, lines: int = 12) -> str:
    path = work / "daemon.log"
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _wait(predicate: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if predicate():
            return True
        time.sleep(0.2)
    return False


def bench_alert(
    tmp: Path, items: int, interval: float, log: Callable[[str], None], timeout: float = 60.0
) -> dict[str, Any]:
    """Median and max seconds from an item appearing in the feed to its Slack message."""
    from crawler.sample_site.content import ArticleSpec, load_specs
    from crawler.sample_site.server import SampleSite
    from crawler.storage.db import Database

    work = tmp / "alert"
    work.mkdir(parents=True, exist_ok=True)
    specs = [s for s in load_specs() if s.site == "main" and s.expected_topics and not s.hidden]
    if len(specs) < items:
        log(f"alert: only {len(specs)} positive sample articles; measuring {len(specs)} items")
        items = len(specs)
    standin, which = start_standin()
    site = SampleSite().start()
    proc: subprocess.Popen[bytes] | None = None
    db: Database | None = None
    try:
        fields = [f.name for f in dataclasses.fields(ArticleSpec)]
        for spec in specs[:items]:  # hidden until published, one at a time below
            site.add_article({k: getattr(spec, k) for k in fields} | {"hidden": True})
        db_url = f"sqlite:///{work / 'alert.db'}"
        config = write_config(
            work / "newswatch.toml",
            {
                "database": {"url": db_url},
                "crawl": {"autothrottle": False, "download_timeout": 10.0, "retry_times": 0},
                "alerts": {"default_channel": "#bench-alerts"},
                "slack": {"api_url": standin.api_url, "timeout": 5.0},
                "logging": {"level": "INFO"},
            },
            [
                {
                    "name": "alert-feed",
                    "kind": "feed",
                    "urls": [f"{site.base_url}/feeds/rss.xml"],
                    "interval": interval,
                    "allow_private_hosts": ["127.0.0.1"],
                }
            ],
        )
        db = Database(db_url)
        proc = start_daemon(config, work, {"SLACK_BOT_TOKEN": TOKEN})
        log(f"alert: daemon started (pid {proc.pid}); waiting for its first crawl …")
        db_ = db
        if not _wait(lambda: _runs(db_, "alert-feed")[1] >= 1, 90, proc):
            return {
                "error": "the daemon's first crawl did not finish",
                "log": _daemon_log_tail(work),
            }
        rng = random.Random(11)
        latencies: list[float] = []
        missed: list[str] = []
        timeline: list[tuple[str, float, float]] = []  # (url, published, received)
        for n, spec in enumerate(specs[:items], 1):
            time.sleep(rng.uniform(0, interval))  # a random phase against the poll schedule
            url = site.publish(spec.slug)
            published = time.time()
            path = url.split("://", 1)[-1].split("/", 1)[-1]
            arrived = wait_for_message(standin, [spec.title, path], timeout)
            if arrived is None:
                missed.append(spec.slug)
                log(f"alert: item {n}/{items} got no message within {timeout:g} s")
                continue
            latencies.append(arrived - published)
            timeline.append((url, published, arrived))
            log(f"alert: item {n}/{items} → {latencies[-1]:.2f} s")
        result: dict[str, Any] = {
            "items": items,
            "poll_interval_s": interval,
            "standin": which,
            "latencies_s": [round(x, 3) for x in latencies],
            "missed": missed,
        }
        if latencies:
            result |= {
                "median_s": statistics.median(latencies),
                "max_s": max(latencies),
                "min_s": min(latencies),
                "breakdown_median_s": _alert_breakdown(db, timeline),
            }
        else:
            result["error"] = "no alert arrived"
            result["log"] = _daemon_log_tail(work)
        return result
    finally:
        if proc is not None:
            stop_daemon(proc)
        if db is not None:
            db.dispose()
        site.stop()
        standin.stop()


def _sample(runs: int, rss: int, started: float) -> dict[str, Any]:
    return {
        "runs": runs,
        "rss_mb": round(rss / MB, 2),
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def _alert_breakdown(db: Any, timeline: list[tuple[str, float, float]]) -> dict[str, float]:
    """Median seconds of each step from publication to arrival, from the database's times."""
    from sqlalchemy import select

    from crawler.storage.models import Alert, Article, CrawlRun
    from crawler.urls import canonicalize

    steps: dict[str, list[float]] = {}
    with db.session() as session:
        for url, published, received in timeline:
            article = session.scalar(select(Article).where(Article.url == canonicalize(url)))
            if article is None or article.crawl_run_id is None:
                continue
            run = session.get(CrawlRun, article.crawl_run_id)
            sent = session.scalar(
                select(Alert.sent_at)
                .where(Alert.article_id == article.id, Alert.sent_at.is_not(None))
                .order_by(Alert.sent_at)
                .limit(1)
            )
            if run is None or run.finished_at is None or sent is None:
                continue
            marks = {
                "wait_for_poll": run.started_at.timestamp() - published,
                "crawl_start_to_article_stored": article.first_seen_at.timestamp()
                - run.started_at.timestamp(),
                "article_stored_to_crawl_end": run.finished_at.timestamp()
                - article.first_seen_at.timestamp(),
                "crawl_end_to_alert_sent": sent.timestamp() - run.finished_at.timestamp(),
                "sent_to_received": received - sent.timestamp(),
            }
            for key, value in marks.items():
                steps.setdefault(key, []).append(value)
    return {k: round(statistics.median(v), 3) for k, v in steps.items()}


MEMORY_FEEDS = ("/feeds/rss.xml", "/feeds/atom.xml", "/feeds/rdf.xml", "/feeds/courts.rss")


def bench_memory(
    tmp: Path,
    checkpoints: tuple[int, ...],
    interval: float,
    sources: int,
    log: Callable[[str], None],
    timeout: float,
) -> dict[str, Any]:
    """Daemon RSS (the daemon process alone) after each checkpoint number of crawl runs."""
    from crawler.sample_site.server import SampleSite
    from crawler.storage.db import Database

    work = tmp / "memory"
    work.mkdir(parents=True, exist_ok=True)
    site = SampleSite().start()
    proc: subprocess.Popen[bytes] | None = None
    db: Database | None = None
    try:
        db_url = f"sqlite:///{work / 'memory.db'}"
        config = write_config(
            work / "newswatch.toml",
            {
                "database": {"url": db_url},
                "crawl": {"autothrottle": False, "download_timeout": 10.0, "retry_times": 0},
                "scheduler": {"max_concurrent_crawls": 2},
                "logging": {"level": "WARNING"},
            },
            [
                {
                    "name": f"memory-{i}",
                    "kind": "feed",
                    "urls": [site.base_url + MEMORY_FEEDS[i % len(MEMORY_FEEDS)]],
                    "interval": interval,
                    "allow_private_hosts": ["127.0.0.1"],
                }
                for i in range(sources)
            ],
        )
        db = Database(db_url)
        proc = start_daemon(config, work)
        daemon = psutil.Process(proc.pid)
        started = time.monotonic()
        samples: dict[str, Any] = {}
        peak = 0
        pending = sorted(checkpoints)
        log(f"memory: daemon started (pid {proc.pid}), {sources} sources every {interval:g} s")
        finished, rss, error = 0, 0, None
        while pending:
            if proc.poll() is not None:
                error = "the daemon exited: " + _daemon_log_tail(work, 5)
                break
            _, finished = _runs(db)
            rss = daemon.memory_info().rss
            peak = max(peak, rss)
            if finished >= pending[0]:
                samples[str(pending.pop(0))] = _sample(finished, rss, started)
                log(f"memory: {finished} crawl runs → daemon RSS {rss / MB:.1f} MB")
                continue
            if time.monotonic() - started > timeout:
                error = f"reached {finished} of {checkpoints[-1]} crawl runs in {timeout:.0f} s"
                log(f"memory: {error}")
                last_runs = samples[next(reversed(samples))]["runs"] if samples else -1
                if finished > last_runs:
                    samples[str(finished)] = _sample(finished, rss, started)
                break
            time.sleep(0.25)
        result: dict[str, Any] = {
            "sources": sources,
            "interval_s": interval,
            "checkpoints": list(checkpoints),
            "samples": samples,
            "peak_rss_mb": round(peak / MB, 2),
            "complete": not pending,
        }
        if error:
            result["error"] = error
        if len(samples) >= 2:
            values = list(samples.values())
            result["growth"] = values[-1]["rss_mb"] / values[0]["rss_mb"] - 1
            result["runs_per_s"] = values[-1]["runs"] / max(values[-1]["elapsed_s"], 0.1)
        return result
    finally:
        if proc is not None:
            stop_daemon(proc)
        if db is not None:
            db.dispose()
        site.stop()
