"""End to end, distributed mode on loopback: PostgreSQL, Redis, a leader with a hot standby,
two `newswatch worker` processes (own working directory and process group each), the sample
site and the Slack stand-in. One worker is SIGKILLed mid-crawl and the leader is killed; every
article is stored once, every alert sent once, and the killed worker's job is redelivered.
Every wait polls the database, the stand-in or a log against a deadline."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest
import slack_standin as standin_module
from conftest import REDIS_URL
from slack_standin import TOKEN, SlackStandin
from sqlalchemy import func, select

from crawler.sample_site.server import SampleSite
from crawler.storage.db import Database
from crawler.storage.models import Alert, Article, CrawlRun, Match, Source

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
slack_standin = standin_module.slack_standin
T = TypeVar("T")
ALLOW = 'allow_private_hosts = ["127.0.0.1"]'
SECTIONS = ("nyc", "immigration", "courts", "politics")
BROKER = REDIS_URL.rsplit("/", 1)[0] + "/15"  # a database of our own, flushed per test


def redis_or_skip() -> None:
    """Skip with the reason when Redis does not answer."""
    import redis

    try:
        client = redis.Redis.from_url(BROKER, socket_connect_timeout=2)
        client.flushdb()
    except Exception as exc:  # any failure means: skip
        pytest.skip(f"Redis not reachable at {BROKER}: {str(exc).splitlines()[0]}")


class Proc:
    """A newswatch subprocess in its own directory and process group, with its log."""

    def __init__(self, name: str, tmp: Path, config: Path, *args: str) -> None:
        self.name, self.cwd = name, tmp / name
        self.cwd.mkdir(exist_ok=True)
        self.log_path = self.cwd / "out.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        env = {**os.environ, "NEWSWATCH_BROKER_URL": BROKER, "SLACK_BOT_TOKEN": TOKEN}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "--config", str(config), *args],
            cwd=self.cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 60) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.proc.returncode


def wait_for(what: str, check: Callable[[], T | None], procs: list[Proc], timeout: float) -> T:
    """Poll `check` until truthy; fail with every process' log tail."""
    from sqlalchemy.exc import OperationalError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except OperationalError:  # the shared server restarting: the system must ride it out
            value = None
        if value:
            return value
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name}\n" + "\n".join(p.log().splitlines()[-25:]) for p in procs)
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


def write_config(tmp: Path, db_url: str, site: SampleSite, slack_url: str) -> Path:
    feeds = [(s, f"{site.base_url}/feeds/{s}.rss") for s in SECTIONS]
    sources = "".join(
        f'[[sources]]\nname = "{name}"\ninterval = 600\nurls = ["{url}"]\n{ALLOW}\n'
        for name, url in feeds
    )
    # A crawl slow enough to be caught mid-way: a good feed plus a document that hangs.
    sources += (
        f'[[sources]]\nname = "slowpoke"\ninterval = 600\n'
        f'urls = ["{site.base_url}/feeds/rss.xml", "{site.base_url}/faults/slow"]\n{ALLOW}\n'
    )
    config = tmp / "newswatch.toml"
    config.write_text(
        f"""
[database]
url = "{db_url}"
[crawl]
autothrottle = false
retry_times = 0
extract_workers = 1
[slack]
api_url = "{slack_url}"
[alerts]
alert_first_crawl = true
per_channel_interval = 0
hourly_cap = 500
[scheduler]
executor = "celery"
jitter = 0
crawl_timeout = 15
dispatch_interval = 0.5
health_interval = 2
{sources}
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def site() -> Iterator[SampleSite]:
    with SampleSite(faults=True, slow_seconds=8) as server:
        yield server


def count(db: Database, query: Any) -> int:
    with db.session() as session:
        return int(session.scalar(query) or 0)


def test_distributed_mode_survives_a_killed_worker_and_leader(
    tmp_path: Path, pg_url: str, site: SampleSite, slack_standin: SlackStandin
) -> None:
    redis_or_skip()
    config = write_config(tmp_path, pg_url, site, slack_standin.api_url)
    db = Database(pg_url)
    leader = Proc("leader", tmp_path, config, "run")
    procs = [leader]
    try:
        wait_for("the leader to hold the lock", lambda: "lock_acquired" in leader.log(), procs, 60)
        standby = Proc("standby", tmp_path, config, "run")
        workers = [Proc(f"worker{i}", tmp_path, config, "worker", "--concurrency", "2")
                   for i in (1, 2)]  # fmt: skip
        procs += [standby, *workers]
        by_pid = {w.pid: w for w in workers}

        def slowpoke_mid_crawl() -> tuple[int, int] | None:
            with db.session() as session:
                run = session.scalar(select(CrawlRun).join(Source).where(
                    Source.name == "slowpoke", CrawlRun.status == "running"))  # fmt: skip
                if run is None or run.owner_pid not in by_pid or run.pages_fetched == 0:
                    return None
                return run.id, run.owner_pid

        killed_run, owner = wait_for("slowpoke's crawl under way", slowpoke_mid_crawl, procs, 90)
        victim = by_pid[owner]
        survivor = next(w for w in workers if w is not victim)
        with db.session() as session:
            host_pid = session.get(CrawlRun, killed_run).pid  # type: ignore[union-attr]
        victim.kill()
        started = re.findall(r"event=crawl_job_started source=slowpoke job_id=(\S+)", victim.log())
        job_id = started[-1]
        assert host_pid is not None
        _, alive = psutil.wait_procs([psutil.Process(host_pid)], timeout=10)
        assert not alive, "the killed worker's crawl process outlived it"

        def outbox_quiet() -> bool:
            busy = count(db, select(func.count()).select_from(Alert).where(
                Alert.status.in_(("pending", "sending"))))  # fmt: skip
            sent = count(db, select(func.count()).select_from(Alert).where(Alert.status == "sent"))
            return busy == 0 and sent > 0

        wait_for("the first alerts sent", outbox_quiet, procs, 60)
        leader.kill()
        wait_for("the standby to take over", lambda: "standby_taking_over" in standby.log(),
                 procs, 30)  # fmt: skip

        def recrawled() -> bool:
            with db.session() as session:
                runs = session.scalars(select(CrawlRun).join(Source).where(
                    Source.name == "slowpoke", CrawlRun.id > killed_run)).all()  # fmt: skip
                return any(r.owner_pid == survivor.pid and r.status == "partial" for r in runs)

        wait_for("slowpoke crawled by the other worker", recrawled, procs, 90)
        # The unacknowledged job itself comes back (visibility timeout): crawled, or dropped as
        # a duplicate when the new leader's job crawled the source first.
        came_back = re.compile(rf"event=crawl_(done|job_dropped) source=slowpoke job_id={job_id}")
        wait_for("the killed job redelivered", lambda: came_back.search(survivor.log()), procs, 60)
        wait_for("every alert sent", outbox_quiet, procs, 60)
    finally:
        codes = {proc.name: proc.stop() for proc in procs}
    assert codes["standby"] == 0 and codes[survivor.name] == 0, codes  # SIGTERM: clean stops
    with db.session() as session:
        killed = session.get(CrawlRun, killed_run)
        assert killed is not None and killed.status in ("crashed", "killed")
        left = session.scalars(select(CrawlRun).where(CrawlRun.status == "running")).all()
        assert not left, [(r.id, r.source_id, r.owner_pid, r.pid, r.started_at) for r in left]
        urls = list(session.scalars(select(Article.url)))
        assert len(urls) == len(set(urls)) and len(urls) >= 10
        pairs = session.execute(select(Match.article_id, Match.topic)).all()
        assert len(pairs) == len(set(pairs))
        sent = session.scalars(select(Alert).where(Alert.status == "sent")).all()
        keys = [a.idempotency_key for a in sent]
        recorded_ts = sorted(str(a.slack_ts) for a in sent)
        alerted = [a for a in sent if a.kind == "alert"]
    assert len(keys) == len(set(keys)) and len(alerted) >= 5
    # Every post is one outbox row and every sent row one post: a repeated send would leave a
    # post whose ts no row recorded.
    posts = [p for p in slack_standin.calls("chat.postMessage") if p.posted]
    assert sorted(str(p.ts) for p in posts) == recorded_ts
    assert "crawl_done source=slowpoke" in survivor.log()
    db.dispose()
