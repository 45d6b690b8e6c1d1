"""One daemon per database (flock on SQLite, advisory lock on PostgreSQL) and `status`."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from crawler.cli import main as cli
from crawler.cli.daemon import STATUS_KEYS
from crawler.daemon.lock import DaemonLock, probe, read_row
from crawler.errors import DatabaseLocked
from crawler.storage.db import Database


def test_second_lock_is_refused_with_the_holder(database: Database) -> None:
    first = DaemonLock(database)
    first.acquire()
    try:
        assert probe(database) is True
        second = DaemonLock(Database(database.url))
        with pytest.raises(DatabaseLocked) as refused:
            second.acquire()
        message = str(refused.value)
        assert "another newswatch daemon is already running" in message
        assert f"pid {os.getpid()}" in message and first.hostname in message
        assert refused.value.exit_code == 4
        second.db.dispose()
    finally:
        first.release()
    assert probe(database) is False
    row = read_row(database)
    assert row is not None and row.active is False
    again = DaemonLock(database)
    again.acquire()
    again.release()


def test_heartbeat_writes_info(database: Database) -> None:
    lock = DaemonLock(database)
    lock.acquire()
    try:
        assert lock.heartbeat({"next_runs": {"crawl:metro": "2030-01-01T00:00:00+00:00"}})
        row = read_row(database)
        assert row is not None and row.info["next_runs"]["crawl:metro"].startswith("2030")
        assert row.active and row.pid == os.getpid()
    finally:
        lock.release()


@pytest.mark.postgres
def test_advisory_lock_is_taken_again_after_a_lost_connection(pg_url: str) -> None:
    db = Database(pg_url)
    lock = DaemonLock(db)
    lock.acquire()
    try:
        assert lock._conn is not None
        backend = lock._conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": backend})
        assert lock.ensure() is True  # reconnected and locked again
        assert probe(db) is True
        backend = lock._conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": backend})
        deadline = time.monotonic() + 10
        while probe(db) and time.monotonic() < deadline:  # the backend is still exiting
            time.sleep(0.05)
        thief = DaemonLock(Database(pg_url))
        thief.acquire()  # another daemon takes over while ours is disconnected
        with pytest.raises(DatabaseLocked, match="lost the daemon lock"):
            lock.ensure()
        thief.release()
        thief.db.dispose()
    finally:
        lock.release()
        db.dispose()


def write_config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "newswatch.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[[sources]]\nname = "metro"\nurls = ["https://x.example/f"]\n'
        '[[sources]]\nname = "off"\nenabled = false\nurls = ["https://y.example/f"]\n',
        encoding="utf-8",
    )
    return config


def test_status_json_has_the_documented_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'status.db'}"
    config = write_config(tmp_path, url)
    Database(url).dispose()  # `status` only reads: it never creates the database
    runner = CliRunner()
    idle = json.loads(runner.invoke(cli, ["--config", str(config), "status", "--json"]).output)
    assert set(idle) == set(STATUS_KEYS)
    assert idle["daemon"]["running"] is False

    db = Database(url)
    lock = DaemonLock(db)
    lock.acquire()
    try:
        lock.heartbeat({"next_runs": {"crawl:metro": "2030-01-01T00:00:00+00:00"}, "running": {}})
        result = runner.invoke(cli, ["--config", str(config), "status", "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        human = runner.invoke(cli, ["--config", str(config), "status"])
    finally:
        lock.release()
        db.dispose()
    assert set(data) == set(STATUS_KEYS)
    daemon = data["daemon"]
    assert daemon["running"] is True and daemon["pid"] == os.getpid()
    assert {"pid", "hostname", "started_at", "heartbeat_at", "reason"} <= set(daemon)
    by_name = {s["name"]: s for s in data["sources"]}
    assert by_name["metro"]["next_run_at"] == "2030-01-01T00:00:00+00:00"
    assert by_name["off"]["enabled"] is False and by_name["off"]["next_run_at"] is None
    assert {"last_run", "health", "consecutive_failures", "backoff_until"} <= set(by_name["metro"])
    assert set(data["alerts"]) >= {"pending", "failed"}
    assert data["trouble"] == []
    assert human.exit_code == 0 and "daemon: running" in human.output
