"""The scheduler with a stand-in crawl function: caps, no overlap, backoff, outages, --once.

Crawl processes are covered by test_daemon_e2e.py; here a crawl is a function that records a
run row, so schedules of a fraction of a second exercise the real APScheduler wiring.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from crawler.config import SchedulerConfig, Settings
from crawler.daemon.lock import read_row
from crawler.daemon.runner import RunOutcome
from crawler.daemon.scheduler import Daemon, backoff_delay
from crawler.errors import DatabaseLocked
from crawler.sources import SourceConfig
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import Source, utcnow


class FakeDispatcher:
    def __init__(self) -> None:
        self.calls = 0

    def run_once(self, limit: int = 100) -> None:
        self.calls += 1


class Recorder:
    """A crawl function: records calls and concurrency, writes a run with the wanted status."""

    def __init__(self, db: Database, duration: float = 0.0, status: str = "ok") -> None:
        self.db, self.duration, self.status = db, duration, status
        self.calls: dict[str, list[float]] = defaultdict(list)
        self.active: set[str] = set()
        self.max_active = 0
        self.overlaps = 0
        self._lock = threading.Lock()

    def __call__(self, source: SourceConfig) -> RunOutcome:
        with self._lock:
            self.overlaps += source.name in self.active
            self.active.add(source.name)
            self.max_active = max(self.max_active, len(self.active))
            self.calls[source.name].append(time.monotonic())
        time.sleep(self.duration)
        with self.db.session() as session:
            row = repo.upsert_source(session, source)
            run = repo.create_run(session, row.id, trigger="schedule", pid=None)
            repo.finish_run(session, run.id, status=self.status)
            run_id = run.id
        with self._lock:
            self.active.discard(source.name)
        return RunOutcome(source.name, run_id, self.status, 0, {})


def make_settings(tmp_path: Path, *intervals: float, **sched: Any) -> Settings:
    sources = [
        SourceConfig(name=f"s{i}", urls=[f"https://s{i}.example/feed"], interval=every)
        for i, every in enumerate(intervals)
    ]
    cfg: dict[str, Any] = {"jitter": 0.0, "dispatch_interval": 0.2, "health_interval": 0.5}
    return Settings(scheduler=SchedulerConfig(**(cfg | sched)), sources=sources)


def run_in_thread(daemon: Daemon) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def target() -> None:
        try:
            result.append(daemon.run())
        except BaseException as exc:
            result.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def wait_until(what: str, check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'sched.db'}")


def test_backoff_delay_doubles_up_to_the_cap() -> None:
    assert [backoff_delay(60, n, 8) for n in range(6)] == [0, 120, 240, 480, 480, 480]
    assert backoff_delay(60, 10_000, 8) == 480


def test_cap_no_overlap_and_graceful_stop(tmp_path: Path, db: Database) -> None:
    settings = make_settings(tmp_path, 0.2, 0.2, 0.2, max_concurrent_crawls=2)
    crawl = Recorder(db, duration=0.3)
    dispatcher = FakeDispatcher()
    daemon = Daemon(settings, db, crawl_fn=crawl, dispatcher=dispatcher)
    thread, result = run_in_thread(daemon)
    wait_until("three runs of every source", lambda: all(
        len(crawl.calls[f"s{i}"]) >= 3 for i in range(3)))  # fmt: skip
    row = read_row(db)
    assert row is not None and set(row.info["next_runs"]) >= {"crawl:s0", "dispatch", "health"}
    before = dispatcher.calls
    daemon.request_stop()
    thread.join(15)
    assert result == [0]
    assert crawl.max_active <= 2 and crawl.overlaps == 0
    assert dispatcher.calls > before  # flushed once more on the way out
    row = read_row(db)
    assert row is not None and row.active is False


def test_failing_source_backs_off_and_skips(tmp_path: Path, db: Database) -> None:
    settings = make_settings(tmp_path, 0.25, backoff_max_factor=4, failure_alert_after=50)
    crawl = Recorder(db, status="failed")
    daemon = Daemon(settings, db, crawl_fn=crawl, dispatcher=FakeDispatcher())
    thread, result = run_in_thread(daemon)
    wait_until("four failed runs", lambda: len(crawl.calls["s0"]) >= 4, timeout=30)
    with db.session() as session:
        row = session.scalar(select(Source).where(Source.name == "s0"))
        assert row is not None and row.backoff_until is not None
        assert row.backoff_until > utcnow() - timedelta(seconds=2)
    daemon.request_stop()
    thread.join(15)
    assert result == [0]
    times = crawl.calls["s0"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for n, gap in enumerate(gaps[:3], start=1):
        assert gap >= 0.25 * min(2**n, 4) - 0.05, gaps
    assert len(times) < 3 + 12 / 4  # far fewer than one per interval


def test_backoff_survives_a_restart_and_once_skips(
    tmp_path: Path, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, 60, 60)
    with db.session() as session:
        repo.sync_sources(session, settings.sources)
        row = session.scalar(select(Source).where(Source.name == "s0"))
        assert row is not None
        row.backoff_until = utcnow() + timedelta(hours=1)
    crawl = Recorder(db)
    caplog.set_level(logging.INFO, logger="crawler.daemon.scheduler")
    assert Daemon(settings, db, crawl_fn=crawl, dispatcher=FakeDispatcher()).run_once() == 0
    assert set(crawl.calls) == {"s1"}
    assert "event=crawl_skipped source=s0 reason=backoff" in caplog.text
    # s1 just ran: a second --once finds nothing due
    assert Daemon(settings, db, crawl_fn=crawl, dispatcher=FakeDispatcher()).run_once() == 0
    assert len(crawl.calls["s1"]) == 1


def test_database_outage_is_logged_and_survived(
    tmp_path: Path, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, 0.2)
    calls: list[float] = []

    def flaky_db(source: SourceConfig) -> RunOutcome:
        calls.append(time.monotonic())
        if len(calls) <= 2:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return Recorder(db)(source)

    caplog.set_level(logging.WARNING, logger="crawler.daemon.scheduler")
    daemon = Daemon(settings, db, crawl_fn=flaky_db, dispatcher=FakeDispatcher())
    thread, result = run_in_thread(daemon)
    wait_until("a crawl after the outage", lambda: len(calls) >= 3)
    daemon.request_stop()
    thread.join(15)
    assert result == [0]
    assert "event=db_unavailable job=crawl:s0 reason=server closed the connection" in caplog.text


def test_a_lost_lock_stops_the_daemon_with_an_error(tmp_path: Path, db: Database) -> None:
    settings = make_settings(tmp_path, 30)
    daemon = Daemon(settings, db, crawl_fn=Recorder(db), dispatcher=FakeDispatcher())
    real = daemon.lock.heartbeat

    def lost(info: dict[str, Any]) -> bool:
        real(info)
        raise DatabaseLocked("lost the daemon lock: another daemon took it")

    daemon.lock.heartbeat = lost  # type: ignore[method-assign]
    thread, result = run_in_thread(daemon)
    thread.join(15)
    assert len(result) == 1 and isinstance(result[0], DatabaseLocked)
    assert "lost the daemon lock" in str(result[0])
