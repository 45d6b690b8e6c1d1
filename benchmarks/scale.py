"""The scale benchmark: many feed sources on a compressed schedule, local executor vs workers.

A loopback site serves `sources` RSS feeds; every poll of a feed lists `new_per_poll` new items
(article pages of ~3 KB; one in `match_every` reports a courthouse ICE arrest, the rest is local
news the prefilter skips). For each mode the real processes run for a fixed window once warm:

* `local`       — `newswatch run`, warm crawl processes (the default), SQLite;
* `per_crawl`   — the same with a fresh `scrapy crawl` process per poll (the old start-up tax);
* `celery_N`    — `newswatch run` as leader plus N `newswatch worker` processes (own working
                  directory and process group each, as separate machines would be), PostgreSQL
                  (a fresh schema) and Redis (database 14, flushed).

Reported per mode: polls finished in the window, throughput (polls/s), CPU seconds per poll of
every process involved (psutil over the process trees: daemon/leader, workers, crawl processes,
extraction workers), the sources one core keeps at a 15-minute interval (900 s ÷ CPU per
poll), and the time to alert (feed served → Slack stand-in received the message; median, p90).
Goals: CPU overhead ≤ 0.3 s per poll, ≥ 2,000 sources per core, median time to alert ≤ 1.0 s.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

from benchmarks.common import PYTHON, child_env, load_avg, write_config
from benchmarks.slack import TOKEN, MiniStandin

MATCH = (
    "Federal immigration agents arrested a man outside the {county} County courthouse on "
    "{day} morning, minutes after he left a hearing on a traffic charge, according to his "
    "lawyer and two witnesses. Plainclothes ICE officers approached him on the courthouse steps "
    "and put him in an unmarked van, the legal aid office said. Immigration and Customs "
    "Enforcement confirmed arrest number {n} in a statement."
)
OTHER = (
    "The {county} County board approved a {n} million dollar plan on {day} to repave roads "
    "and extend library hours. Residents spoke for and against the measure at a meeting that "
    "ran past midnight, and the vote was five to two."
)
COUNTIES = ("Albany", "Erie", "Kings", "Monroe", "Nassau", "Onondaga", "Queens", "Suffolk")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
GOALS = {"cpu_per_poll_s": 0.3, "sources_per_core": 2000, "median_alert_s": 1.0}


@dataclass(frozen=True)
class ScaleSizes:
    """How big the scale run is."""

    sources: int = 1000
    new_per_poll: int = 3
    match_every: int = 12
    interval_s: float = 60.0
    window_s: float = 40.0
    workers: tuple[int, ...] = (1, 2, 3)
    concurrency: int = 4


QUICK = ScaleSizes(sources=40, window_s=10.0, workers=(1,), interval_s=20.0)
# Inside a whole `make bench` (10-minute budget): shorter windows, 1 and 3 workers only.
SHORT = ScaleSizes(window_s=15.0, workers=(1, 3))


class FeedSite:
    """Loopback feeds whose every poll lists new items; remembers when each item was served."""

    def __init__(self, sizes: ScaleSizes) -> None:
        self.sizes = sizes
        self.polls: dict[int, int] = {}
        self.served: dict[str, float] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def feed(self, i: int) -> bytes:
        with self.lock:
            polls = self.polls[i] = self.polls.get(i, 0) + 1
            count = polls * self.sizes.new_per_poll
            now = time.time()
            urls = [f"{self.base}/a/{i}/{n}.html" for n in range(max(0, count - 8), count)]
            for url in urls:
                self.served.setdefault(url, now)
        stamp = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        items = "".join(
            f"<item><title>{self.title(url)}</title><link>{url}</link><guid>{url}</guid>"
            f"<pubDate>{stamp}</pubDate></item>"
            for url in reversed(urls)
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {i}</title>'
            f"<link>{self.base}/</link><description>d</description>{items}</channel></rss>"
        ).encode()

    def matching(self, i: int, n: int) -> bool:
        return (i * 7 + n) % self.sizes.match_every == 0

    def title(self, url: str) -> str:
        i, n = (int(x) for x in re.findall(r"/a/(\d+)/(\d+)", url)[0])
        county = COUNTIES[(i + n) % len(COUNTIES)]
        if self.matching(i, n):
            return f"ICE arrest {i}-{n} at the {county} courthouse"
        return f"{county} board vote {i}-{n} on roads"

    def article(self, i: int, n: int) -> bytes:
        url = f"{self.base}/a/{i}/{n}.html"
        words = {"county": COUNTIES[(i + n) % len(COUNTIES)], "day": DAYS[n % 5], "n": i * 100 + n}
        body = (MATCH if self.matching(i, n) else OTHER).format(**words)
        filler = " ".join(OTHER.format(**{**words, "n": k}) for k in range(3))
        return (
            f"<!doctype html><html><head><title>{self.title(url)}</title>"
            '<meta property="og:type" content="article"></head><body><article>'
            f"<h1>{self.title(url)}</h1><p>{body}</p><p>{filler}</p></article></body></html>"
        ).encode()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(site: FeedSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            """Feeds, articles, 404 for anything else (robots.txt)."""
            feed = re.fullmatch(r"/feed/(\d+)\.xml", self.path)
            art = re.fullmatch(r"/a/(\d+)/(\d+)\.html", self.path)
            if feed:
                status, kind, body = 200, "application/rss+xml", site.feed(int(feed.group(1)))
            elif art:
                status, kind = 200, "text/html; charset=utf-8"
                body = site.article(int(art.group(1)), int(art.group(2)))
            else:
                status, kind, body = 404, "text/plain", b"not found"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class TimedStandin(MiniStandin):
    """The benchmark Slack stand-in, stamping when each message arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str]] = []

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """Record the arrival time of every posted message."""
        if method == "chat.postMessage":
            with self._lock:
                self.arrivals.append((time.time(), str(body)))
        return super().answer(method, body)


class TreeCPU:
    """CPU seconds of process trees (user + system, and of waited children) between marks."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.start = self._snapshot()

    def _snapshot(self) -> dict[int, float]:
        out: dict[int, float] = {}
        for root in self.roots:
            try:
                proc = psutil.Process(root)
                procs = [proc, *proc.children(recursive=True)]
            except psutil.Error:
                continue
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    out[p.pid] = t.user + t.system + t.children_user + t.children_system
        return out

    def seconds(self) -> float:
        """CPU used since construction by processes alive now (new ones count whole)."""
        end = self._snapshot()
        return sum(v - self.start.get(pid, 0.0) for pid, v in end.items())


def _start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cwd.mkdir(parents=True, exist_ok=True)
    log = (cwd / "out.log").open("ab")
    return subprocess.Popen(
        [PYTHON, "-m", "crawler", *args],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _finished_runs(db_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM crawl_runs WHERE status <> 'running'")
                ).scalar()
                or 0
            )
    except Exception:  # the schema does not exist yet
        return 0
    finally:
        engine.dispose()


def run_mode(
    name: str,
    sizes: ScaleSizes,
    work: Path,
    db_url: str,
    *,
    scheduler: dict[str, Any],
    workers: int = 0,
    extra_env: dict[str, str] | None = None,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """One mode: start it, wait until warm, measure a window, stop it."""
    site, standin = FeedSite(sizes), TimedStandin().start()
    work.mkdir(parents=True, exist_ok=True)
    sources = [
        {
            "name": f"s{i:04d}",
            "urls": [f"{site.base}/feed/{i}.xml"],
            "interval": sizes.interval_s,
            "allow_private_hosts": ["127.0.0.1"],
        }
        for i in range(sizes.sources)
    ]
    config = write_config(
        work / "newswatch.toml",
        {
            "database": {"url": db_url},
            "crawl": {
                "autothrottle": False,
                "retry_times": 0,
                "extract_workers": 1,
                "obey_robots_txt": False,
            },
            "slack": {"api_url": standin.api_url},
            "alerts": {
                "alert_first_crawl": True,
                "per_channel_interval": 0.0,
                "hourly_cap": 100000,
            },
            "scheduler": {
                "jitter": 0.5,
                "dispatch_interval": 0.5,
                "health_interval": 60.0,
                "crawl_timeout": 60.0,
                **scheduler,
            },
            "logging": {"level": "WARNING"},
        },
        sources,
    )
    env = child_env({"SLACK_BOT_TOKEN": TOKEN, **(extra_env or {})})
    procs = [_start(["--config", str(config), "run"], work / "leader", env)]
    procs += [
        _start(
            ["--config", str(config), "worker", "--concurrency", str(sizes.concurrency)],
            work / f"worker{k}",
            env,
        )
        for k in range(workers)
    ]
    try:
        deadline = time.monotonic() + 120
        while _finished_runs(db_url) < min(10, sizes.sources) and time.monotonic() < deadline:
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                logs = sorted(work.glob("*/out.log"))
                tail = "\n".join(f.read_text(errors="replace")[-600:] for f in logs)
                raise RuntimeError(f"{name}: a process exited early:\n{tail}")
            time.sleep(0.5)
        cpu = TreeCPU([p.pid for p in procs])
        before, started = _finished_runs(db_url), time.time()
        time.sleep(sizes.window_s)  # the measured window: the system runs on its own
        polls, seconds = _finished_runs(db_url) - before, time.time() - started
        cpu_s = cpu.seconds()
        latencies = []
        for arrived, body in list(standin.arrivals):
            urls = re.findall(r"http://127\.0\.0\.1:\d+/a/\d+/\d+\.html", body)
            served = [site.served[u] for u in urls if u in site.served]
            if served and started <= arrived <= started + seconds:
                latencies.append(arrived - min(served))
    finally:
        _stop(procs)
        site.stop()
        standin.stop()
    per_poll = cpu_s / polls if polls else None
    out: dict[str, Any] = {
        "polls": polls,
        "window_s": round(seconds, 1),
        "polls_per_s": round(polls / seconds, 2),
        "cpu_s": round(cpu_s, 1),
        "cpu_per_poll_s": round(per_poll, 3) if per_poll else None,
        "sources_per_core_15min": round(900 / per_poll) if per_poll else None,
        "alerts": len(latencies),
        "median_alert_s": round(statistics.median(latencies), 2) if latencies else None,
        "p90_alert_s": round(sorted(latencies)[int(len(latencies) * 0.9)], 2)
        if latencies
        else None,
        "workers": workers,
    }
    log(f"scale: {name}: {out}")
    return out


def _pg_schema() -> tuple[str, str] | None:
    """A fresh PostgreSQL schema URL (and the schema) on the test server, or None."""
    base = os.environ.get("NEWSWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base.replace("+psycopg", ""), autocommit=True, connect_timeout=3) as c:
            c.execute(f'CREATE SCHEMA "{schema}"')
        return f"{base}?options=-csearch_path%3D{schema}", schema
    except Exception:
        return None


def _drop_schema(schema: str) -> None:
    import psycopg

    base = os.environ.get("NEWSWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with psycopg.connect(base.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _redis() -> str | None:
    url = os.environ.get("NEWSWATCH_TEST_REDIS", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    url += "/14"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()
        return url
    except Exception:
        return None


def run_scale(
    tmp: Path, *, quick: bool, log: Callable[[str], None], short: bool = False
) -> dict[str, Any]:
    """Every mode in one run; the figures and the goals."""
    sizes = QUICK if quick else SHORT if short else ScaleSizes()
    out: dict[str, Any] = {"sizes": sizes.__dict__, "load_avg_start": load_avg(), "modes": {}}
    work = tmp / "scale"
    modes = out["modes"]
    common = {"max_concurrent_crawls": 8, "crawl_hosts": 2}
    log(f"scale: {sizes.sources} sources, local executor (warm crawl processes) …")
    modes["local"] = run_mode(
        "local", sizes, work / "local", f"sqlite:///{work}/local.db", scheduler=common, log=log
    )
    log("scale: local executor, a fresh crawl process per poll (the old way) …")
    modes["per_crawl"] = run_mode(
        "per_crawl",
        sizes,
        work / "per_crawl",
        f"sqlite:///{work}/per_crawl.db",
        scheduler={**common, "crawl_processes": "per_crawl"},
        log=log,
    )
    broker, pg = _redis(), _pg_schema()
    if broker is None or pg is None:
        out["celery_skipped"] = "Redis or PostgreSQL not reachable on 127.0.0.1"
        log(f"scale: celery modes skipped: {out['celery_skipped']}")
    else:
        for n in sizes.workers:
            pg = pg or _pg_schema()
            assert pg is not None
            url, schema = pg
            try:
                log(f"scale: celery executor, {n} worker process(es) …")
                modes[f"celery_{n}"] = run_mode(
                    f"celery_{n}",
                    sizes,
                    work / f"celery_{n}",
                    url,
                    workers=n,
                    scheduler={"executor": "celery", "crawl_hosts": 1},
                    log=log,
                    extra_env={"NEWSWATCH_BROKER_URL": broker},
                )
            finally:
                _drop_schema(schema)
                _redis()
                pg = None
    local = modes["local"]
    for mode in modes.values():
        if local.get("polls_per_s"):
            mode["throughput_vs_local"] = round(mode["polls_per_s"] / local["polls_per_s"], 2)
    out["load_avg_end"] = load_avg()
    out["goals"] = GOALS
    shutil.rmtree(work, ignore_errors=True)
    return out


def scale_lines(result: dict[str, Any]) -> list[str]:
    """The scale figures as text lines, with MISS where a goal is missed."""
    if "modes" not in result:
        return [f"scale: {result.get('error') or result.get('skipped')}"]
    lines = [
        f"scale: {result['sizes']['sources']} feed sources, {result['sizes']['new_per_poll']} "
        f"new items per poll, interval {result['sizes']['interval_s']:g} s, window "
        f"{result['sizes']['window_s']:g} s; load {result['load_avg_start']} → "
        f"{result['load_avg_end']}"
    ]
    for name, m in result["modes"].items():
        lines.append(
            f"  {name:10} polls {m['polls']:5}  {m['polls_per_s']:6.2f}/s "
            f"(×{m.get('throughput_vs_local', 1):.2f} local)  CPU/poll {m['cpu_per_poll_s']} s  "
            f"sources/core@15min {m['sources_per_core_15min']}  alert median "
            f"{m['median_alert_s']} s p90 {m['p90_alert_s']} s ({m['alerts']} alerts)"
        )
    if result.get("celery_skipped"):
        lines.append(f"  celery modes skipped: {result['celery_skipped']}")
    for name in [n for n in result["modes"] if n != "per_crawl"]:
        m = result["modes"][name]
        checks = [
            ("CPU per poll ≤ 0.3 s", m["cpu_per_poll_s"], lambda v: v <= 0.3),
            ("sources per core ≥ 2,000", m["sources_per_core_15min"], lambda v: v >= 2000),
            ("median time to alert ≤ 1.0 s", m["median_alert_s"], lambda v: v <= 1.0),
        ]
        for label, value, ok in checks:
            verdict = "n/a" if value is None else ("ok" if ok(value) else "MISS")
            lines.append(f"  {verdict:4} {name}: {label} (measured {value})")
    return lines
