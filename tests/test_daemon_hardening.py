"""Issue 17 items 3–5, the daemon's part: an unchanged broken feed stays failed, a restarted
daemon frees the dead one's alert claims at once, and crawl processes never outlive their
daemon (parent-death signal, and the restarted daemon stops leftovers of the same database)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select

from crawler.config import Settings, load_settings
from crawler.daemon.hosts import HostPool
from crawler.daemon.scheduler import Daemon
from crawler.daemon.worker import settle
from crawler.lifetime import MARK_ENV, database_mark
from crawler.sample_site.server import SampleSite
from crawler.sources import SourceConfig
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import Alert, CrawlRun, Source, utcnow

ALLOW = 'allow_private_hosts = ["127.0.0.1"]'


@pytest.fixture
def site() -> Iterator[SampleSite]:
    with SampleSite(faults=True, slow_seconds=60) as server:
        yield server


def write_settings(tmp_path: Path, site: SampleSite, **paths: str) -> Settings:
    sources = "".join(
        f'[[sources]]\nname = "{name}"\nurls = ["{site.base_url}{path}"]\n{ALLOW}\n'
        for name, path in paths.items()
    )
    config = tmp_path / "newswatch.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "n.db"}"\n'
        "[crawl]\nextract_workers = 1\nautothrottle = false\nretry_times = 0\n"
        f"[scheduler]\nfailure_alert_after = 2\n{sources}",
        encoding="utf-8",
    )
    return load_settings(config)


@pytest.fixture
def env_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "newswatch.toml"
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(path))
    return path


def test_an_unparseable_feed_stays_failed_when_unchanged(
    tmp_path: Path, site: SampleSite, env_config: Path
) -> None:
    """Item 3: the same broken body on the next crawl is judged again: failed, counted, alerted."""
    settings = write_settings(tmp_path, site, broken="/faults/binary.html")
    db = Database(settings.database_url)
    pool = HostPool(db, settings, log_dir=tmp_path)
    try:
        statuses = []
        for _ in range(3):
            outcome = pool.run(settings.source("broken"), timeout=60)
            statuses.append(outcome.status)
            settle(db, settings, settings.source("broken"))
    finally:
        pool.close()
    assert statuses == ["failed", "failed", "failed"]
    with db.session() as session:
        row = session.scalar(select(Source).where(Source.name == "broken"))
        assert row is not None
        assert row.consecutive_failures == 3 and row.health_status == "failing"
        assert row.last_error_kind == "unparseable_feed"
        health = session.scalars(select(Alert).where(Alert.kind == "health")).all()
        assert [a.payload["health"]["state"] for a in health] == ["failing"]
    db.dispose()


def test_the_restarted_daemon_releases_the_dead_daemons_claims_at_once(tmp_path: Path) -> None:
    """Item 4: rows `sending` under an earlier daemon go back at once; others' claims stay."""
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    now = utcnow()
    with db.session() as session:
        for key, owner in (("a", "daemon-oldhost-4242"), ("b", "daemon-oldhost-4242"),
                           ("c", "cli-elsewhere")):  # fmt: skip
            session.add(Alert(idempotency_key=key, channel="#x", status="sending", claimed_by=owner,
                              claimed_at=now, attempts=1, payload={}))  # fmt: skip
    daemon = Daemon(Settings(), db, crawl_fn=lambda s: None)
    assert daemon._start()
    try:
        with db.session() as session:
            rows = {a.idempotency_key: a for a in session.scalars(select(Alert))}
        assert rows["a"].status == rows["b"].status == "pending"
        assert rows["a"].attempts == 2 and rows["a"].next_attempt_at <= utcnow()
        assert rows["c"].status == "sending" and rows["c"].claimed_by == "cli-elsewhere"
    finally:
        daemon.lock.release()
        db.dispose()


def test_a_dispatcher_renews_its_short_leases_while_it_heartbeats(tmp_path: Path) -> None:
    """Item 4: the daemon's claims carry a short lease that its heartbeat keeps fresh."""
    from alerts.dispatcher import Dispatcher

    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    daemon = Daemon(Settings(), db, crawl_fn=lambda s: None)
    old = utcnow() - timedelta(seconds=50)
    with db.session() as session:
        session.add(Alert(idempotency_key="a", channel="#x", status="sending",
                          claimed_by=daemon.dispatcher_id, claimed_at=old, payload={}))  # fmt: skip
    daemon.dispatch_job()  # builds the daemon's dispatcher
    assert isinstance(daemon._dispatcher, Dispatcher)
    assert daemon._dispatcher.lease == timedelta(seconds=60)
    assert daemon._start()
    try:
        daemon.heartbeat_job()
        with db.session() as session:
            row = session.scalar(select(Alert))
            assert row is not None and row.status == "sending"
            assert row.claimed_at is not None and row.claimed_at > old + timedelta(seconds=40)
    finally:
        daemon.lock.release()
        db.dispose()


def _sleeper(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                            env=env, start_new_session=True)  # fmt: skip


def test_the_restarted_daemon_stops_leftover_crawls_of_its_database(tmp_path: Path) -> None:
    """Item 5: a running run whose owner is dead → its process group is stopped, run closed;
    a live process without this database's mark (a recycled pid) is left alone."""
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    dead_owner = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_owner.wait()
    orphan = _sleeper({**os.environ, MARK_ENV: database_mark(db.safe_url)})
    stranger = _sleeper({**os.environ, MARK_ENV: "another-database"})
    try:
        with db.session() as session:
            source = repo.upsert_source(session, SourceConfig(name="s", urls=["https://x.test/"]))
            ids = []
            for proc in (orphan, stranger):
                run = repo.create_run(session, source.id, trigger="schedule", pid=proc.pid)
                run.hostname, run.owner_pid = socket.gethostname(), dead_owner.pid
                session.flush()
                ids.append(run.id)
        daemon = Daemon(Settings(), db, crawl_fn=lambda s: None)
        assert daemon._start()
        daemon.lock.release()
        orphan.wait(10)  # it would sleep for two minutes (TimeoutExpired) if left running
        assert stranger.poll() is None
        with db.session() as session:
            assert session.get(CrawlRun, ids[0]).status == "killed"  # type: ignore[union-attr]
    finally:
        for proc in (orphan, stranger):
            proc.kill()
            proc.wait()
        db.dispose()


def test_a_crawl_process_dies_with_its_parent(tmp_path: Path) -> None:
    """Item 5: SIGKILL the process that started crawl processes: the kernel kills them too —
    a warm crawl process, and a bare child that only asked for the parent-death signal (no
    stdin pipe to notice EOF on, so only the signal can end it)."""
    db_url = f"sqlite:///{tmp_path / 'n.db'}"
    script = textwrap.dedent(f"""
        import subprocess, sys, time
        from pathlib import Path
        from crawler.config import Settings, DatabaseConfig
        from crawler.daemon.hosts import CrawlHost
        from crawler.storage.db import Database
        code = "import time; from crawler.lifetime import die_with_parent; die_with_parent()"
        code += "; time.sleep(120)"
        bare = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL)
        settings = Settings(database=DatabaseConfig(url={db_url!r}))
        log = Path({str(tmp_path)!r}) / "h.log"
        host = CrawlHost(Database(settings.database_url), settings, log)
        host.ready.wait(60)
        print(host.pid, bare.pid, flush=True)
        time.sleep(120)
    """)  # fmt: skip
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        children = [psutil.Process(pid) for pid in pids]
        assert all(c.is_running() for c in children)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"crawl processes outlived their parent: {alive}"
    finally:
        parent.kill()


def test_a_dead_crawl_process_is_recorded_for_each_source_it_carried(
    tmp_path: Path, site: SampleSite, env_config: Path
) -> None:
    """Crash isolation: kill the warm process carrying two hung crawls → both runs recorded,
    each under its own source; the next crawl gets a fresh process and succeeds."""
    import threading

    settings = write_settings(tmp_path, site, one="/faults/slow", two="/faults/slow",
                              good="/feeds/rss.xml")  # fmt: skip
    db = Database(settings.database_url)
    pool = HostPool(db, settings, log_dir=tmp_path)
    outcomes: dict[str, str] = {}

    def crawl(name: str) -> None:
        outcomes[name] = pool.run(settings.source(name), timeout=60).status

    threads = [threading.Thread(target=crawl, args=(n,)) for n in ("one", "two")]
    try:
        for t in threads:
            t.start()
        deadline = utcnow() + timedelta(seconds=30)
        while utcnow() < deadline:
            with db.session() as session:
                running = session.scalars(select(CrawlRun).where(CrawlRun.status == "running"))
                if len(running.all()) == 2 and pool.hosts and pool.hosts[0].load == 2:
                    break
        host = pool.hosts[0]
        os.kill(host.pid, signal.SIGKILL)
        for t in threads:
            t.join(30)
        assert outcomes == {"one": "killed", "two": "killed"}
        assert pool.run(settings.source("good"), timeout=60).status == "ok"
        assert pool.hosts[0].pid != host.pid
    finally:
        pool.close()
    with db.session() as session:
        runs = session.scalars(select(CrawlRun).join(Source).where(Source.name != "good")).all()
        assert sorted(r.status for r in runs) == ["killed", "killed"]
        assert all("signal 9" in (r.message or "") for r in runs)
    db.dispose()


def test_orphan_runs_are_judged_by_pid_only_on_their_own_host(tmp_path: Path) -> None:
    """A leader must not close a live crawl on a worker machine because the pid is not local."""
    from crawler.daemon.health import close_orphan_runs

    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    started = utcnow() - timedelta(minutes=1)
    with db.session() as session:
        source = repo.upsert_source(session, SourceConfig(name="s", urls=["https://x.test/"]))
        ids = {}
        for host in (socket.gethostname(), "worker-machine-7"):
            run = repo.create_run(session, source.id, trigger="schedule", pid=gone.pid)
            run.hostname, run.started_at = host, started
            session.flush()
            ids[host] = run.id
    with db.session() as session:
        closed = close_orphan_runs(session, set(), Settings())
    assert closed == [ids[socket.gethostname()]]
    db.dispose()
