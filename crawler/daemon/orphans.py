"""Leftover crawl processes of a dead daemon or worker are found and stopped before crawling.

A crawl run records the host it ran on, the crawl process' pid (its process-group leader) and
the pid of the daemon/worker that owned it. On start, and before each crawl of a source, a
daemon stops every `running` run's process group on its own host whose owner is gone and whose
environment carries this database's mark (so a recycled pid is never killed).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time

from sqlalchemy import select

from crawler.daemon.lock import pid_alive
from crawler.lifetime import database_mark, process_mark
from crawler.logs import get_logger
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import CrawlRun

log = get_logger(__name__)
ORPHAN_MESSAGE = "crawl process of a stopped daemon or worker; stopped by its successor"


def _stop_group(pgid: int, grace: float) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and pid_alive(pgid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pgid, os.WNOHANG)
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def stop_orphans(db: Database, *, source_id: int | None = None, grace: float = 2.0) -> list[int]:
    """Stop leftover crawl processes (of one source, or all) and close their runs; their ids."""
    host, me, mark = socket.gethostname(), os.getpid(), database_mark(db.safe_url)
    with db.session() as session:
        query = select(CrawlRun).where(CrawlRun.status == "running", CrawlRun.hostname == host)
        if source_id is not None:
            query = query.where(CrawlRun.source_id == source_id)
        runs = [(r.id, r.pid, r.owner_pid) for r in session.scalars(query)]
    stopped: list[int] = []
    for run_id, pid, owner in runs:
        if pid is None or owner == me or (owner is not None and pid_alive(owner)):
            continue
        if not pid_alive(pid) or process_mark(pid) != mark:
            continue
        log.warning("orphan_crawl_stopped", run_id=run_id, pid=pid, owner_pid=owner)
        _stop_group(pid, grace)
        with db.session() as session:
            repo.finish_run(
                session, run_id, status="killed", message=ORPHAN_MESSAGE, only_if_running=True
            )
        stopped.append(run_id)
    return stopped
