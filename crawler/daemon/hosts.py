"""Warm crawl processes fed jobs by the daemon or a worker: no start-up tax, crash isolation kept.

A `HostPool` keeps a few `python -m crawler.daemon.crawlhost` processes (each its own process
group) and hands each crawl to the least-loaded one. Per crawl the parent creates the CrawlRun
row, waits with the hard `crawl_timeout` and, when a crawl hangs, first asks the host to stop
it, then kills the host. When a host dies (crash, OOM kill, our kill) every run it carried is
closed with the reason, each under its own source, and the next crawl starts a fresh host.
A host is retired after `host_max_jobs` crawls, so a slow leak cannot grow without bound.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from crawler.config import Settings
from crawler.daemon.runner import KILL_GRACE, RunOutcome, crawl_env, log_tail
from crawler.lifetime import MARK_ENV, PARENT_ENV, database_mark
from crawler.logs import get_logger
from crawler.sources import SourceConfig
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import CrawlRun, Source

log = get_logger(__name__)


@dataclass
class Job:
    """One crawl carried by a host: set when the host reports it done (or dies)."""

    run_id: int
    source: str
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None
    host_died: bool = False


class CrawlHost:
    """One warm crawl process and the jobs it carries."""

    def __init__(
        self, db: Database, settings: Settings, log_file: Path, *, temporary_log: bool = False
    ) -> None:
        env = crawl_env(settings)
        env[MARK_ENV] = database_mark(db.safe_url)
        env[PARENT_ENV] = str(os.getpid())
        self.log_file, self.temporary_log = log_file, temporary_log
        self._log: IO[bytes] = open(log_file, "ab")  # noqa: SIM115 (closed when the host ends)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.daemon.crawlhost"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            start_new_session=True,
        )
        self.jobs: dict[int, Job] = {}
        self.started = 0
        self.exit_code: int | None = None
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, name=f"host-{self.pid}", daemon=True)
        self._reader.start()
        log.info("crawl_host_started", pid=self.pid, log=log_file)

    @property
    def pid(self) -> int:
        """The host's pid (also its process-group id)."""
        return self.proc.pid

    @property
    def alive(self) -> bool:
        """Whether the process still runs and reads jobs."""
        return self.exit_code is None and self.proc.poll() is None

    @property
    def load(self) -> int:
        """Crawls it carries now."""
        return len(self.jobs)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if message.get("event") == "ready":
                self.ready.set()
            elif message.get("event") == "done":
                with self._lock:
                    job = self.jobs.pop(int(message["run_id"]), None)
                if job is not None:
                    job.error = message.get("error")
                    job.done.set()
        self.exit_code = self.proc.wait()
        with self._lock:
            orphans, self.jobs = list(self.jobs.values()), {}
        for job in orphans:
            job.host_died, job.error = True, f"crawl process died (exit code {self.exit_code})"
            job.done.set()
        self._signal(signal.SIGKILL)  # extraction workers left in its group
        self._log.close()
        self.ready.set()
        if orphans:
            log.warning(
                "crawl_host_died",
                pid=self.pid,
                exit_code=self.exit_code,
                runs=",".join(str(j.run_id) for j in orphans),
            )

    def _write(self, message: dict[str, object]) -> bool:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()
            return True
        except (OSError, ValueError):
            return False

    def submit(self, run_id: int, source: SourceConfig) -> Job:
        """Give the host one crawl."""
        job = Job(run_id, source.name)
        with self._lock:
            self.jobs[run_id] = job
            self.started += 1
        if not self._write(
            {"op": "crawl", "run_id": run_id, "source": source.name, "spider": source.spider}
        ):
            with self._lock:
                self.jobs.pop(run_id, None)
            job.host_died, job.error = True, "crawl process is not accepting jobs"
            job.done.set()
        return job

    def stop_job(self, run_id: int) -> None:
        """Ask the host to close one crawl (it records itself as stopped)."""
        self._write({"op": "stop", "run_id": run_id})

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def kill(self, reason: str) -> None:
        """Kill the host and its group; its reader records the runs it carried."""
        log.warning("crawl_host_killed", pid=self.pid, reason=reason)
        self._signal(signal.SIGKILL)
        self.proc.wait()
        self._reader.join(10)

    def close(self) -> None:
        """Let an idle host go: closing stdin makes it exit."""
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(KILL_GRACE)
        except subprocess.TimeoutExpired:
            self.kill("did not exit when closed")
        self._reader.join(10)
        if self.temporary_log and not self.keep_log:
            self.log_file.unlink(missing_ok=True)

    @property
    def keep_log(self) -> bool:
        """A host that died carrying crawls keeps its log (the runs' messages point to it)."""
        return self.exit_code is not None and self.exit_code != 0


class HostedRun:
    """What the daemon holds while a hosted crawl runs (run id, pid, a way to stop it)."""

    def __init__(self, host: CrawlHost, job: Job, source: SourceConfig) -> None:
        self.host, self.job, self.source = host, job, source
        self.run_id = job.run_id
        self.killed_reason: str | None = None

    @property
    def pid(self) -> int:
        """The pid of the process carrying the crawl."""
        return self.host.pid

    def terminate(self, reason: str, grace: float = KILL_GRACE) -> None:
        """Stop this crawl; kill its host if the crawl does not close within `grace`."""
        self.killed_reason = self.killed_reason or reason
        self.host.stop_job(self.run_id)
        if not self.job.done.wait(grace):
            self.host.kill(f"{self.source.name}: did not stop ({reason})")


class HostPool:
    """Warm crawl processes shared by every crawl thread of one daemon or worker."""

    def __init__(
        self, db: Database, settings: Settings, *, log_dir: Path | None = None, hosts: int = 1
    ) -> None:
        self.db, self.settings = db, settings
        self.size = max(1, hosts)
        self.max_jobs = settings.scheduler.host_max_jobs
        self.log_dir = log_dir
        self.hosts: list[CrawlHost] = []
        self._lock = threading.Lock()
        self.hostname, self.owner = socket.gethostname(), os.getpid()
        # PR_SET_PDEATHSIG fires when the *thread* that started a host exits: start them all
        # from one thread that lives as long as the pool, not from short-lived crawl threads.
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="host-spawner")

    def _log_file(self) -> Path:
        if self.log_dir is not None:
            return self.log_dir / f"crawl-host-{len(self.hosts)}-{time.time_ns()}.log"
        handle, name = tempfile.mkstemp(prefix="newswatch-host-", suffix=".log")
        os.close(handle)
        return Path(name)

    def _host(self) -> CrawlHost:
        """The least-loaded live host; starts or replaces hosts as needed."""
        with self._lock:
            for host in [h for h in self.hosts if not h.alive or h.started >= self.max_jobs]:
                if not host.alive or host.load == 0:
                    self.hosts.remove(host)
                    if host.alive:  # retired after max_jobs: let it go
                        threading.Thread(target=host.close, daemon=True).start()
            usable = [h for h in self.hosts if h.started < self.max_jobs]
            if len(usable) < self.size:
                host = self._spawner.submit(
                    CrawlHost,
                    self.db,
                    self.settings,
                    self._log_file(),
                    temporary_log=self.log_dir is None,
                ).result()
                self.hosts.append(host)
                usable.append(host)
            return min(usable, key=lambda h: h.load)

    def run(
        self,
        source: SourceConfig,
        *,
        trigger: str = "schedule",
        timeout: float | None = None,
        on_start: Callable[[HostedRun], None] | None = None,
    ) -> RunOutcome:
        """Crawl one source in a warm host and wait for it (killing it at `timeout`)."""
        host = self._host()
        with self.db.session() as session:
            row = repo.upsert_source(session, source)
            run = repo.create_run(session, row.id, trigger=trigger, pid=host.pid)
            run.hostname, run.owner_pid = self.hostname, self.owner
            run_id = run.id
        job = host.submit(run_id, source)
        handle = HostedRun(host, job, source)
        log.info("crawl_started", source=source.name, run_id=run_id, pid=host.pid)
        if on_start is not None:
            on_start(handle)
        limit = timeout if timeout is not None else self.settings.scheduler.crawl_timeout
        timed_out = False
        if not job.done.wait(limit):
            timed_out = handle.killed_reason is None
            handle.terminate("timed_out")
        return self.finish(handle, timed_out=timed_out)

    def finish(self, handle: HostedRun, *, timed_out: bool) -> RunOutcome:
        """Close the run record if the crawl could not; the outcome as the daemon reports it."""
        job, source = handle.job, handle.source
        if timed_out:
            status, message = "timed_out", "crawl exceeded its timeout and was stopped"
        elif handle.killed_reason:
            status, message = "killed", f"crawl stopped: {handle.killed_reason}"
        elif job.host_died:
            code = handle.host.exit_code
            if code is not None and code < 0:
                status, message = "killed", f"crawl process killed by signal {-code}"
            else:
                status, message = "crashed", str(job.error)
            message += f"; log: {handle.host.log_file}"
            tail = log_tail(handle.host.log_file)
            message += f"\n{tail}" if tail else ""
        else:
            status = "crashed"
            message = f"crawl ended without recording a result: {job.error or 'no reason given'}"
        with self.db.session() as session:
            closed = repo.finish_run(
                session,
                job.run_id,
                status=status,
                message=message,
                exit_code=handle.host.exit_code,
                only_if_running=True,
            )
            if closed is None:
                run = session.get(CrawlRun, job.run_id)
                assert run is not None
                if status == "timed_out" and run.status == "killed":
                    run.status, run.message = status, message  # closed itself on our stop
                    row = session.get(Source, run.source_id)
                    if row is not None:
                        row.last_error_kind = "timed_out"
            else:
                log.warning(
                    "crawl_abnormal",
                    source=source.name,
                    run_id=job.run_id,
                    status=status,
                    reason=message.splitlines()[0],
                )
                run = closed
            summary = repo.run_summary(run)
        return RunOutcome(
            source.name, job.run_id, str(summary["status"]), handle.host.exit_code, summary
        )

    def close(self) -> None:
        """Stop every host (running crawls are recorded by their waiters)."""
        with self._lock:
            hosts, self.hosts = list(self.hosts), []
        for host in hosts:
            host.close()
        self._spawner.shutdown(wait=False)
