"""The crawl runner: a crash, a kill or a timeout of the crawl process is recorded on its run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import crawler.daemon.runner as runner
from crawler.config import Settings
from crawler.sources import SourceConfig
from crawler.storage.db import Database
from crawler.storage.models import CrawlRun, Source

SOURCE = SourceConfig(name="paper", urls=["https://paper.example/feed"])


def fake_crawl(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    monkeypatch.setattr(
        runner, "crawl_command", lambda source, run_id: [sys.executable, "-c", code]
    )


def outcome_run(db: Database, run_id: int) -> CrawlRun:
    with db.session() as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None
        return run


def test_crash_is_recorded_with_the_log_tail(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_crawl(monkeypatch, "import sys; print('Traceback: boom in spider'); sys.exit(3)")
    db = Database(sqlite_url)
    outcome = runner.run_crawl(db, Settings(), SOURCE, timeout=60)
    run = outcome_run(db, outcome.run_id)
    assert (outcome.status, outcome.exit_code) == ("crashed", 3)
    assert run.message and "boom in spider" in run.message and "exited with code 3" in run.message
    log_path = Path(run.message.split("log: ", 1)[1].split("\n", 1)[0])
    assert log_path.exists()  # kept for the post-mortem
    with db.session() as session:
        source = session.query(Source).one()
        assert source.consecutive_failures == 1 and source.last_error_kind == "crashed"
    log_path.unlink()


def test_hung_crawl_is_killed_at_its_timeout(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_crawl(monkeypatch, "import threading; threading.Event().wait()")
    db = Database(sqlite_url)
    outcome = runner.run_crawl(db, Settings(), SOURCE, timeout=0.5)
    assert outcome.status == "timed_out"
    assert outcome.exit_code is not None and outcome.exit_code < 0


def test_a_run_the_crawl_closed_itself_is_left_alone(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(sqlite_url)
    # The child closes its own run as a real crawl does, then exits 0.
    code = (
        "import os, sys; from crawler.storage.db import Database; from crawler.storage import repo;"
        "db = Database(os.environ['NEWSWATCH_DATABASE_URL']);"
        "s = db.sessions(); repo.finish_run(s, int(sys.argv[1]), status='ok'); s.commit()"
    )
    monkeypatch.setattr(
        runner, "crawl_command", lambda source, run_id: [sys.executable, "-c", code, str(run_id)]
    )
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", sqlite_url)
    outcome = runner.run_crawl(db, Settings(), SOURCE, timeout=60)
    assert (outcome.status, outcome.exit_code) == ("ok", 0)
    assert outcome_run(db, outcome.run_id).message is None
