"""End to end: `python -m crawler run` as a real subprocess against the sample site and the
Slack stand-in, with schedules in seconds. Every wait polls the database or the stand-in
against a deadline; nothing sleeps and then asserts."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest
import slack_standin as standin_module
from click.testing import CliRunner
from slack_standin import TOKEN, SlackStandin
from sqlalchemy import select

from crawler.cli import main as cli
from crawler.sample_site.server import SampleSite
from crawler.storage.db import Database
from crawler.storage.models import Alert, CrawlRun, DaemonLock, Source

pytestmark = pytest.mark.slow
slack_standin = standin_module.slack_standin
T = TypeVar("T")
ALLOW = 'allow_private_hosts = ["127.0.0.1"]'
ARTICLE = "staten-island-courthouse-arrest"
TITLE = "arrest man outside Staten Island courthouse"
BUSY = ("pending", "sending")


class Daemon:
    """A `newswatch run` subprocess with its log file."""

    def __init__(self, config: Path, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = tmp / "daemon.log"
        self.config = config
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "--config", str(config), "run",
             "--crawl-logs", str(tmp / "crawls")],
            stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def wait_for(what: str, check: Callable[[], T | None], daemon: Daemon, timeout: float = 60) -> T:
    """Poll `check` until it returns something truthy; fail with the daemon's log tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if daemon.proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = "\n".join(daemon.log().splitlines()[-40:])
    raise AssertionError(f"timed out waiting for {what} (exit={daemon.proc.poll()})\n{tail}")


def write_config(tmp: Path, db_url: str, body: str, scheduler: str, slack_url: str = "") -> Path:
    config = tmp / "newswatch.toml"
    slack = f'[slack]\napi_url = "{slack_url}"\n' if slack_url else ""
    config.write_text(
        f"""
[database]
url = "{db_url}"
[crawl]
autothrottle = false
download_timeout = 60
retry_times = 0
extract_workers = 1
{slack}
[alerts]
per_channel_interval = 0
[scheduler]
jitter = 0
dispatch_interval = 0.5
health_interval = 1
max_concurrent_crawls = 2
{scheduler}
{body}
""",
        encoding="utf-8",
    )
    return config


def source(name: str, url: str, interval: float) -> str:
    return f'[[sources]]\nname = "{name}"\ninterval = {interval}\nurls = ["{url}"]\n{ALLOW}\n'


def newswatch(
    config: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(config), *args],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip


def runs(db: Database, name: str) -> list[CrawlRun]:
    with db.session() as session:
        return list(
            session.scalars(
                select(CrawlRun).join(Source).where(Source.name == name).order_by(CrawlRun.id)
            )
        )


def source_row(db: Database, name: str) -> Source:
    with db.session() as session:
        row = session.scalar(select(Source).where(Source.name == name))
        assert row is not None
        return row


def finished(db: Database, name: str, statuses: tuple[str, ...], after: int = 0) -> CrawlRun | None:
    return next((r for r in runs(db, name) if r.id > after and r.status in statuses), None)


@pytest.fixture
def site() -> Iterator[SampleSite]:
    with SampleSite(faults=True, slow_seconds=120) as server:
        yield server


def outbox_busy(db: Database) -> int:
    with db.session() as session:
        return len(session.scalars(select(Alert.id).where(Alert.status.in_(BUSY))).all())


def health_posts(standin: SlackStandin, name: str, state: str) -> list[Any]:
    return [
        r
        for r in standin.calls("chat.postMessage")
        if f"Source {name} is {state}" in r.text.replace("\\", "")
    ]


def test_daemon_alerts_once_backs_off_and_stops_cleanly(
    tmp_path: Path, site: SampleSite, slack_standin: SlackStandin
) -> None:
    """A new article → exactly one alert; 500s → backoff, one failing notice and one recovery
    notice; conditional requests across cycles; a second daemon refuses; status shows the
    schedule; SIGTERM → exit 0; afterwards `run --once` crawls the due sources and exits 0."""
    db_url = f"sqlite:///{tmp_path / 'daemon.db'}"
    body = source("metro", f"{site.base_url}/feeds/rss.xml", 2) + source(
        "flaky", f"{site.base_url}/feeds/atom.xml", 1
    )
    sched = "failure_alert_after = 2\nbackoff_max_factor = 4\ngrace_period = 20\ncrawl_timeout = 90"
    config = write_config(tmp_path, db_url, body, sched, slack_standin.api_url)
    site.set_fault("/feeds/atom.xml", 500)
    db = Database(db_url)
    env = {"SLACK_BOT_TOKEN": TOKEN}
    daemon = Daemon(config, tmp_path, env)
    try:
        first = wait_for("metro's first crawl", lambda: finished(db, "metro", ("ok",)), daemon)
        site.publish(ARTICLE)  # the first crawl is never alerted; this one must be, once

        second = newswatch(config, "run", "--once")
        assert second.returncode == 4, second.stderr
        assert "another newswatch daemon is already running" in second.stderr
        assert f"pid {daemon.proc.pid}" in second.stderr

        result = CliRunner().invoke(cli, ["--config", str(config), "status", "--json"])
        assert result.exit_code == 0, result.output
        status = json.loads(result.output)
        assert {"daemon", "database", "sources", "trouble", "alerts"} <= set(status)
        assert status["daemon"]["running"] is True and status["daemon"]["pid"] == daemon.proc.pid
        metro = next(s for s in status["sources"] if s["name"] == "metro")
        assert metro["next_run_at"] and metro["last_run"]["status"]

        wait_for("the failing notice", lambda: health_posts(slack_standin, "flaky", "failing"),
                 daemon)  # fmt: skip
        flaky = source_row(db, "flaky")
        assert flaky.health_status == "failing" and flaky.backoff_until is not None
        failed = [r for r in runs(db, "flaky") if r.status == "failed"]
        for n, (prev, nxt) in enumerate(itertools.pairwise(failed), start=1):
            assert prev.finished_at is not None
            gap = (nxt.started_at - prev.finished_at).total_seconds()
            assert gap >= min(2**n, 4) * 1.0 - 0.5, f"run {nxt.id} came {gap:.1f}s after a failure"
        # one request per run (no retry storm), and fewer runs than interval ticks
        window = (failed[-1].started_at - failed[0].started_at).total_seconds()
        atom_hits = sum(1 for _, p, _ in list(site.requests) if p == "/feeds/atom.xml")
        assert atom_hits <= len(runs(db, "flaky")) and len(failed) - 1 < window / 1.0
        site.clear_faults()

        wait_for("the article alert", lambda: slack_standin.posted_containing(TITLE), daemon)
        alerted = finished(db, "metro", ("ok",), after=first.id)
        assert alerted is not None and alerted.new_articles >= 1
        # the next cycle: one conditional request, a 304, no article fetched or parsed
        unchanged = wait_for("a not_modified metro run after the alert", lambda: finished(
            db, "metro", ("not_modified",), after=alerted.id), daemon)  # fmt: skip
        assert unchanged.pages_fetched == 0 and unchanged.new_articles == 0
        feed_hits = [h for _, p, h in list(site.requests) if p == "/feeds/rss.xml"]
        assert "If-None-Match" not in feed_hits[0] and "If-None-Match" in feed_hits[-1]

        wait_for("the recovery notice",
                 lambda: health_posts(slack_standin, "flaky", "recovered"), daemon)  # fmt: skip
        assert source_row(db, "flaky").backoff_until is None
        wait_for("an empty outbox", lambda: not outbox_busy(db), daemon)

        started = time.monotonic()
        assert daemon.stop(timeout=40) == 0, daemon.log()[-3000:]
        assert time.monotonic() - started < 20 + 5
    finally:
        daemon.kill()
    assert not [r for r in runs(db, "metro") + runs(db, "flaky") if r.status == "running"]
    with db.session() as session:
        lock = session.get(DaemonLock, "daemon")
        assert lock is not None and lock.active is False
    assert "event=daemon_stopped" in daemon.log()

    before = {name: len(runs(db, name)) for name in ("metro", "flaky")}
    # Warm crawl processes stop fast: let metro's 2 s interval pass so `--once` finds it due.
    last_start = max(r.started_at for r in runs(db, "metro"))
    deadline = time.monotonic() + 10
    while datetime.now(UTC) - last_start < timedelta(seconds=2.1) and time.monotonic() < deadline:
        time.sleep(0.1)
    once = newswatch(config, "run", "--once", "--log-format", "json", env=env)
    assert once.returncode == 0, once.stderr
    assert '"event": "once_started"' in once.stderr
    assert {name: len(runs(db, name)) for name in before} == {n: c + 1 for n, c in before.items()}
    # after all those cycles (and the --once one): each notice exactly once
    article_posts = [r for r in slack_standin.calls("chat.postMessage") if TITLE in r.everything]
    assert len(article_posts) == 1
    assert len(health_posts(slack_standin, "flaky", "failing")) == 1
    assert len(health_posts(slack_standin, "flaky", "recovered")) == 1
    db.dispose()


def test_daemon_records_killed_and_timed_out_crawls(tmp_path: Path, site: SampleSite) -> None:
    """SIGKILL of a crawl → `killed` and the next run happens; a hung crawl → `timed_out` at
    crawl_timeout; SIGTERM during a hung crawl kills it after grace_period and exits 0."""
    db_url = f"sqlite:///{tmp_path / 'daemon.db'}"
    body = source("victim", f"{site.base_url}/feeds/rss.xml", 1) + source(
        "hang", f"{site.base_url}/faults/slow", 1
    )
    config = write_config(tmp_path, db_url, body, "crawl_timeout = 12\ngrace_period = 2")
    db = Database(db_url)
    daemon = Daemon(config, tmp_path)
    killed: list[int] = []
    leftovers: list[psutil.Process] = []

    since = time.monotonic()

    def kill_a_running_victim() -> CrawlRun | None:
        """SIGKILL the victim's crawl, preferably while it has extraction workers."""
        if not killed:
            run = next((r for r in runs(db, "victim") if r.status == "running" and r.pid), None)
            if run is None or run.pid is None:
                return None
            try:
                children = psutil.Process(run.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                return None
            if not children and time.monotonic() - since < 20:
                return None
            leftovers.extend(children)
            os.kill(run.pid, signal.SIGKILL)
            killed.append(run.id)
        return next(
            (r for r in runs(db, "victim") if r.id == killed[0] and r.status != "running"), None
        )

    try:
        run = wait_for("a SIGKILLed victim crawl recorded", kill_a_running_victim, daemon)
        assert run.status == "killed" and "signal 9" in (run.message or "")

        hung = wait_for("a timed-out crawl",
                        lambda: finished(db, "hang", ("timed_out",)), daemon, 60)  # fmt: skip
        assert hung.finished_at is not None
        took = (hung.finished_at - hung.started_at).total_seconds()
        assert 12 <= took < 12 + 10, took
        assert source_row(db, "hang").last_error_kind == "timed_out"

        again = wait_for("the next hung crawl", lambda: next(
            (r for r in runs(db, "hang") if r.id > hung.id and r.status == "running"), None),
            daemon, 30)  # fmt: skip
        # the killed source was scheduled again (its outcome depends on this machine's load)
        assert [r for r in runs(db, "victim") if r.id > killed[0]]
        failures = source_row(db, "hang").consecutive_failures
        started = time.monotonic()
        assert daemon.stop(timeout=30) == 0, daemon.log()[-3000:]
        assert time.monotonic() - started < 2 + 3 + 5  # grace + kill grace + slack
    finally:
        daemon.kill()
    stopped = next(r for r in runs(db, "hang") if r.id == again.id)
    assert stopped.status == "killed" and "shutdown" in (stopped.message or "")
    assert source_row(db, "hang").consecutive_failures == failures  # not the source's fault
    _, alive = psutil.wait_procs(leftovers, timeout=10)
    assert not alive, f"extraction workers outlived their SIGKILLed crawl: {alive}"
    db.dispose()


def _can_restart_postgres() -> str | None:
    if shutil.which("pg_ctlcluster") is None:
        return "pg_ctlcluster is not installed"
    if os.geteuid() != 0:
        return "restarting the cluster needs root"
    return None


@pytest.mark.postgres
def test_daemon_survives_postgres_restart(tmp_path: Path, site: SampleSite, pg_url: str) -> None:
    """A PostgreSQL restart: jobs log and carry on, the advisory lock is taken again, crawls
    resume, and the daemon still stops with 0."""
    reason = _can_restart_postgres()
    if reason:
        pytest.skip(reason)
    _run_postgres_restart(tmp_path, site, pg_url)


def _run_postgres_restart(tmp_path: Path, site: SampleSite, pg_url: str) -> None:
    config = write_config(tmp_path, pg_url, source("metro", f"{site.base_url}/feeds/rss.xml", 2),
                          "grace_period = 10")  # fmt: skip
    db = Database(pg_url)
    daemon = Daemon(config, tmp_path)
    try:
        wait_for("the first crawl", lambda: finished(db, "metro", ("ok",)), daemon)
        restarted_at = datetime.now(UTC)
        done = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        wait_for("the lock taken again", lambda: "event=lock_reacquired" in daemon.log(), daemon)
        after = restarted_at + timedelta(seconds=1)

        def resumed() -> bool:
            try:
                fresh = [r for r in runs(db, "metro") if r.started_at > after]
                with db.session() as session:
                    lock = session.get(DaemonLock, "daemon")
            except Exception:  # our own connection may still be reconnecting
                return False
            return bool(
                lock and lock.heartbeat_at > after
                and any(r.status in ("ok", "not_modified") for r in fresh)
            )  # fmt: skip

        wait_for("crawls and heartbeats after the restart", resumed, daemon)
        assert daemon.proc.poll() is None
        assert daemon.stop(timeout=40) == 0, daemon.log()[-3000:]
    finally:
        daemon.kill()
        db.dispose()
