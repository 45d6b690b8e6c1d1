"""Run one source's crawl in its own process, with a hard timeout, and record what happened.

Twisted's reactor cannot be restarted inside a process, and a hung or leaking crawl must never
take the daemon down: so every crawl is `python -m scrapy crawl <spider> -a source=… -a run_id=…`.
The parent creates the CrawlRun row first, so a child that crashes or is killed still leaves a
record, which the parent closes with the reason.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crawler.config import Settings
from crawler.lifetime import MARK_ENV, PARENT_ENV, database_mark
from crawler.sources import SourceConfig
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import CrawlRun, Source

log = logging.getLogger(__name__)
KILL_GRACE = 5.0


@dataclass
class RunOutcome:
    """How a crawl process ended and the run record it left."""

    source: str
    run_id: int
    status: str
    exit_code: int | None
    summary: dict[str, object]


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a crawl log, to record why a crawl died."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8192))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def crawl_command(source: SourceConfig, run_id: int) -> list[str]:
    """The command line of a crawl process."""
    return [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        source.spider,
        "-a",
        f"source={source.name}",
        "-a",
        f"run_id={run_id}",
    ]


def crawl_env(settings: Settings) -> dict[str, str]:
    """The environment of a crawl process: the same config file and database."""
    env = dict(os.environ)
    env["SCRAPY_SETTINGS_MODULE"] = "crawler.settings"
    if settings.path is not None:
        env["NEWSWATCH_CONFIG"] = str(Path(settings.path).resolve())
    env.setdefault("NEWSWATCH_DATABASE_URL", settings.database_url)
    return env


class CrawlProcess:
    """A started crawl subprocess for one source."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        source: SourceConfig,
        *,
        trigger: str = "manual",
        log_file: Path | None = None,
    ) -> None:
        self.db, self.settings, self.source = db, settings, source
        with db.session() as session:
            row = repo.upsert_source(session, source)
            run = repo.create_run(session, row.id, trigger=trigger, pid=None)
            run.hostname, run.owner_pid = socket.gethostname(), os.getpid()
            self.run_id = run.id
        # The crawl's own log goes to a file: kept when the crawl ends badly (its tail is
        # recorded on the run), removed when it ends well unless the caller asked for it.
        self.keep_log = log_file is not None
        if log_file is None:
            handle, name = tempfile.mkstemp(prefix=f"newswatch-{source.name}-", suffix=".log")
            os.close(handle)
            log_file = Path(name)
        self.log_file = log_file
        self._log = open(log_file, "ab")  # noqa: SIM115 (closed in finish)
        env = crawl_env(settings)
        env[MARK_ENV], env[PARENT_ENV] = database_mark(db.safe_url), str(os.getpid())
        self.proc = subprocess.Popen(
            crawl_command(source, self.run_id),
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.killed_reason: str | None = None
        log.info(
            "event=crawl_started source=%s run_id=%s pid=%s",
            source.name,
            self.run_id,
            self.proc.pid,
        )

    @property
    def pid(self) -> int:
        """The crawl process id."""
        return self.proc.pid

    def poll(self) -> int | None:
        """The exit code, or None while running."""
        return self.proc.poll()

    def terminate(self, reason: str, grace: float = KILL_GRACE) -> None:
        """SIGTERM the crawl's process group, then SIGKILL after `grace` seconds."""
        self.killed_reason = self.killed_reason or reason
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait()

    def reap(self) -> None:
        """Kill what is left of the finished crawl's process group (extraction workers)."""
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float | None, stop: threading.Event | None = None) -> RunOutcome:
        """Wait for the crawl (killing it at `timeout`), then close its run record."""
        deadline_hit = False
        try:
            if stop is None:
                self.proc.wait(timeout)
            else:
                waited = 0.0
                while self.proc.poll() is None:
                    if stop.wait(0.2):
                        self.terminate("stopped")
                        break
                    waited += 0.2
                    if timeout is not None and waited >= timeout:
                        raise subprocess.TimeoutExpired(self.proc.args, timeout)
        except subprocess.TimeoutExpired:
            deadline_hit = self.killed_reason is None  # a shutdown kill stays a kill
            self.terminate("timed_out")
        return self.finish(timed_out=deadline_hit)

    def finish(self, *, timed_out: bool = False) -> RunOutcome:
        """Record how the process ended if the crawl itself could not."""
        code = self.proc.wait()
        # Extraction workers outlive a SIGKILLed crawl otherwise: clear its process group.
        self._signal(signal.SIGKILL)
        self._log.close()
        if timed_out or self.killed_reason == "timed_out":
            status, message = "timed_out", "crawl exceeded its timeout and was killed"
        elif self.killed_reason:
            status, message = "killed", f"crawl stopped: {self.killed_reason}"
        elif code < 0:
            status, message = "killed", f"crawl process killed by signal {-code}"
        elif code != 0:
            status, message = "crashed", f"crawl process exited with code {code}"
        else:
            status, message = "crashed", "crawl process exited without recording a result"
        with self.db.session() as session:
            closed = repo.finish_run(
                session,
                self.run_id,
                status=status,
                message=message,
                exit_code=code,
                only_if_running=True,
            )
            if closed is None:
                run = session.get(CrawlRun, self.run_id)
                assert run is not None
                run.exit_code = code
                if status == "timed_out" and run.status == "killed":
                    # The crawl closed itself ("shutdown") on our SIGTERM; the cause was the
                    # timeout.
                    run.status, run.message = status, message
                    source = session.get(Source, run.source_id)
                    if source is not None:
                        source.last_error_kind = "timed_out"
            else:
                tail = log_tail(self.log_file)
                closed.message = f"{message}; log: {self.log_file}" + (f"\n{tail}" if tail else "")
                self.keep_log = True
                log.warning(
                    "event=crawl_abnormal source=%s run_id=%s status=%s exit_code=%s log=%s",
                    self.source.name,
                    self.run_id,
                    status,
                    code,
                    self.log_file,
                )
                run = closed
            summary = repo.run_summary(run)
        if not self.keep_log:
            self.log_file.unlink(missing_ok=True)
        return RunOutcome(self.source.name, self.run_id, str(summary["status"]), code, summary)


def run_crawl(
    db: Database,
    settings: Settings,
    source: SourceConfig,
    *,
    trigger: str = "manual",
    timeout: float | None = None,
    on_start: Callable[[CrawlProcess], None] | None = None,
) -> RunOutcome:
    """Crawl one source in a subprocess and wait for it."""
    proc = CrawlProcess(db, settings, source, trigger=trigger)
    if on_start:
        on_start(proc)
    return proc.wait(timeout if timeout is not None else settings.scheduler.crawl_timeout)
