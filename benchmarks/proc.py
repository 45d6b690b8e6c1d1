"""Run a command as a measured child: wall time, CPU of the whole process tree, peak memory."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

MB = 1024 * 1024


@dataclass
class Measured:
    """What one measured command did."""

    returncode: int | None
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    peak_rss_largest_mb: float
    timed_out: bool
    stdout: str
    stderr: str

    def tail(self, lines: int = 15) -> str:
        """The last lines of stderr (else stdout), for error messages."""
        text = self.stderr.strip() or self.stdout.strip()
        return "\n".join(text.splitlines()[-lines:])


def _pss(proc: psutil.Process, rss: int) -> int:
    """Proportional set size (shared pages split between sharers), RSS where unavailable."""
    try:
        return int(getattr(proc.memory_full_info(), "pss", rss))
    except (psutil.Error, OSError):
        return rss


def tree_memory(proc: psutil.Process) -> tuple[int, int, int]:
    """(RSS sum, PSS sum, largest RSS) of a process and all its descendants, in bytes.

    The RSS sum counts pages that forked workers share with their parent once per process;
    the PSS sum splits them, so it is the tree's real footprint.
    """
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0, 0
    total = pss = largest = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            rss = p.memory_info().rss
            total += rss
            pss += _pss(p, rss)
            largest = max(largest, rss)
    return total, pss, largest


def kill_group(pid: int, grace: float = 5.0) -> None:
    """SIGTERM a process group, then SIGKILL whatever is left after `grace` seconds."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_measured(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600.0,
    poll: float = 0.2,
) -> Measured:
    """Run `cmd` to completion, polling the RSS of its process tree every `poll` seconds.

    CPU time comes from `getrusage(RUSAGE_CHILDREN)`, which counts every descendant that was
    waited for (crawl subprocesses, extraction workers); run one measured command at a time.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            list(cmd),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        peak = [0, 0, 0]
        done = threading.Event()

        def watch() -> None:
            try:
                proc = psutil.Process(child.pid)
            except psutil.Error:
                return
            while not done.is_set():
                sample = tree_memory(proc)
                peak[:] = [max(a, b) for a, b in zip(peak, sample, strict=True)]
                done.wait(poll)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        timed_out = False
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(child.pid)
            child.wait()
        finally:
            done.set()
            watcher.join()
        wall = time.perf_counter() - started
        # Reap anything left in the group (it would otherwise escape the CPU accounting).
        kill_group(child.pid, grace=1.0)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(
        child.returncode,
        wall,
        cpu,
        peak[0] / MB,
        peak[1] / MB,
        peak[2] / MB,
        timed_out,
        stdout,
        stderr,
    )
