"""Distributed mode parts on real PostgreSQL and Redis: per-source leases, the worker registry,
the broker-outage pause, the refusal of SQLite, `status` and `/metrics`."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REDIS_URL
from sqlalchemy import update

from crawler.cli import main as cli
from crawler.config import SchedulerConfig, Settings
from crawler.daemon import leases
from crawler.daemon.executors.celery import BrokerUnavailable, CeleryDispatch, visibility_timeout
from crawler.daemon.metrics import Metrics
from crawler.daemon.runner import RunOutcome
from crawler.sources import SourceConfig
from crawler.storage.db import Database
from crawler.storage.models import utcnow
from crawler.storage.models_scaleout import Worker

SOURCE = SourceConfig(name="metro", urls=["https://news.example/feed.xml"])


def test_one_lease_per_source_and_takeover_from_a_lost_worker(database: Database) -> None:
    """Two workers: one wins; the other gets it only once the holder stops heartbeating."""
    with database.session() as session:
        for wid in ("worker@a:1", "worker@b:2"):
            leases.heartbeat(session, wid, role="worker", concurrency=1, info={}, ttl=600)
    with database.session() as session:
        assert leases.acquire(session, "metro", "worker@a:1", ttl=600)
    with database.session() as session:
        assert not leases.acquire(session, "metro", "worker@b:2", ttl=600)
        assert leases.holder_of(session, "metro") == "worker@a:1"
    stale = utcnow() - timedelta(seconds=leases.WORKER_STALE_AFTER + 5)
    with database.session() as session:
        session.execute(update(Worker).where(Worker.id == "worker@a:1").values(heartbeat_at=stale))
    with database.session() as session:
        assert leases.acquire(session, "metro", "worker@b:2", ttl=600)
        states = {w["id"]: w["state"] for w in leases.list_workers(session)}
    assert states == {"worker@a:1": "lost", "worker@b:2": "alive"}
    with database.session() as session:
        leases.release(session, "metro", "worker@b:2")
        assert leases.holder_of(session, "metro") is None


def test_concurrent_acquires_let_exactly_one_worker_win(pg_url: str) -> None:
    db = Database(pg_url)
    wins: list[str] = []
    barrier = threading.Barrier(6)

    def attempt(n: int) -> None:
        barrier.wait()
        with db.session() as session:
            if leases.acquire(session, "metro", f"worker@h:{n}", ttl=600):
                wins.append(f"worker@h:{n}")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.dispose()
    assert len(wins) == 1


def test_visibility_timeout_is_above_the_crawl_timeout() -> None:
    for timeout in (5.0, 600.0, 3600.0):
        settings = Settings(scheduler=SchedulerConfig(crawl_timeout=timeout))
        assert visibility_timeout(settings) > timeout


def test_celery_mode_refuses_sqlite_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "n.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "n.db"}"\n[scheduler]\nexecutor = "celery"\n',
        encoding="utf-8",
    )
    env = {"NEWSWATCH_BROKER_URL": "redis://127.0.0.1:6379/15"}
    for command in (["run"], ["worker"]):
        result = CliRunner().invoke(cli, ["--config", str(config), *command], env=env)
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "needs PostgreSQL" in lines[0]
        assert "Traceback" not in result.output


class Switch:
    """A loopback TCP forwarder to Redis that can be cut and restored (a broker outage)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.up = target, True
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        self.up = False
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.conns = []


@pytest.fixture
def redis_target() -> Iterator[tuple[str, int]]:
    import redis

    url = REDIS_URL.rsplit("/", 1)[0] + "/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:  # any failure means: skip
        pytest.skip(f"Redis not reachable at {url}: {str(exc).splitlines()[0]}")
    yield ("127.0.0.1", int(url.split(":")[-1].split("/")[0]))


def test_a_broker_outage_pauses_scheduling_and_it_resumes_by_itself(
    redis_target: tuple[str, int],
    pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    switch = Switch(redis_target)
    monkeypatch.setenv("NEWSWATCH_BROKER_URL", f"redis://127.0.0.1:{switch.port}/15")
    db = Database(pg_url)
    settings = Settings(sources=[SOURCE, SourceConfig(name="b", urls=["https://b.example/f"])])
    dispatch = CeleryDispatch(db, settings)
    caplog.set_level(logging.INFO)
    try:
        assert dispatch.enqueue(SOURCE)
        assert not dispatch.enqueue(SOURCE)  # one is waiting already: not enqueued twice
        assert dispatch.queue_depth() is not None
        switch.cut()
        for _ in range(2):
            with pytest.raises(BrokerUnavailable):
                dispatch.enqueue(settings.source("b"))
        assert dispatch.paused_reason is not None
        assert caplog.text.count("event=broker_unavailable action=scheduling_paused") == 1
        switch.up = True
        assert dispatch.enqueue(settings.source("b"))
        assert dispatch.paused_reason is None
        assert "event=broker_recovered action=scheduling_resumed" in caplog.text
    finally:
        dispatch.app.connection_for_write().default_channel.client.delete("newswatch.crawl")
        dispatch.close()
        switch.server.close()
        db.dispose()


def test_status_shows_workers_queue_and_leader(pg_url: str, tmp_path: Path) -> None:
    db = Database(pg_url)
    with db.session() as session:
        leases.heartbeat(session, "worker@m1:7", role="worker", concurrency=3,
                         info={"running": {"metro": 12}}, ttl=600)  # fmt: skip
    config = tmp_path / "n.toml"
    config.write_text(f'[database]\nurl = "{pg_url}"\n[scheduler]\nexecutor = "celery"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "status", "--json"])
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.output)
    assert data["executor"] == "celery" and "queue_depth" in data
    assert data["workers"][0]["id"] == "worker@m1:7" and data["workers"][0]["state"] == "alive"
    assert data["workers"][0]["running"] == {"metro": 12}
    human = CliRunner().invoke(cli, ["--config", str(config), "status"])
    assert "worker worker@m1:7: alive" in human.output and "metro" in human.output
    assert "leader" in human.output
    db.dispose()


def test_metrics_endpoint_counts_crawls_pages_and_alerts() -> None:
    metrics = Metrics("worker")
    port = metrics.serve(0)
    summary = {"status": "ok", "pages_fetched": 4, "new_articles": 3, "matched": 1,
               "finished_at": utcnow().isoformat()}  # fmt: skip
    metrics.crawl_done(RunOutcome("metro", 1, "ok", 0, summary))
    metrics.crawl_done(RunOutcome("metro", 2, "failed", 0, {"status": "failed", "failed": 1}))
    metrics.set_alerts({"sent": 5, "pending": 2})
    metrics.queue_depth.set(7)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    metrics.server.shutdown()
    assert 'newswatch_crawls_total{outcome="ok"} 1.0' in body
    assert 'newswatch_crawls_total{outcome="failed"} 1.0' in body
    assert 'newswatch_pages_total{status="new_articles"} 3.0' in body
    assert 'newswatch_alerts{state="sent"} 5.0' in body
    assert "newswatch_queue_depth 7.0" in body
    assert 'newswatch_source_last_success_timestamp_seconds{source="metro"}' in body


def test_processes_starting_at_once_on_a_new_database_migrate_it_once(pg_url: str) -> None:
    """A leader and workers started together: one migrates, the others wait, none crashes."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def start() -> None:
        barrier.wait()
        try:
            Database(pg_url).dispose()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_redelivered_or_duplicated_job_crawls_nothing_twice(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's job body: crawl once; the same job again is a duplicate; a source leased by
    a live worker is deferred; nothing is stored twice."""
    from sqlalchemy import func, select

    from crawler.config import load_settings
    from crawler.daemon.worker import CrawlWorker
    from crawler.sample_site.server import SampleSite
    from crawler.storage.models import Article, CrawlRun

    with SampleSite() as site:
        config = tmp_path / "n.toml"
        config.write_text(
            f'[database]\nurl = "{pg_url}"\n[crawl]\nextract_workers = 1\nautothrottle = false\n'
            '[scheduler]\nexecutor = "celery"\n[[sources]]\nname = "metro"\n'
            f'urls = ["{site.base_url}/feeds/rss.xml"]\nallow_private_hosts = ["127.0.0.1"]\n',
            encoding="utf-8",
        )
        monkeypatch.setenv("NEWSWATCH_CONFIG", str(config))
        monkeypatch.setenv("NEWSWATCH_BROKER_URL", "redis://127.0.0.1:6379/15")
        settings = load_settings(config)
        db = Database(pg_url)
        worker = CrawlWorker(settings, db, concurrency=1, log_dir=tmp_path)
        worker._heartbeat({})
        enqueued = utcnow().isoformat()
        try:
            assert worker.handle("metro", enqueued, "job-1") == "ok"
            with db.session() as session:
                stored = session.scalar(select(func.count()).select_from(Article))
            assert stored and stored > 5
            assert worker.handle("metro", enqueued, "job-1") == "duplicate"  # redelivered
            with db.session() as session:
                leases.heartbeat(session, "worker@other:9", role="worker", concurrency=1,
                                 info={}, ttl=600)  # fmt: skip
                assert leases.acquire(session, "metro", "worker@other:9", ttl=600)
            assert worker.handle("metro", utcnow().isoformat(), "job-2") == "leased"
        finally:
            worker.hosts.close()
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(Article)) == stored
            assert session.scalar(select(func.count()).select_from(CrawlRun)) == 1
        db.dispose()


def test_a_busy_metrics_port_is_a_one_line_config_error() -> None:
    from crawler.errors import ConfigError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(ConfigError, match=r"cannot serve metrics on 127\.0\.0\.1"):
            Metrics("daemon").serve(busy.getsockname()[1])
