"""Crawl processes die with the process that started them, and carry a mark saying whose they are.

Linux's `prctl(PR_SET_PDEATHSIG, SIGKILL)` makes the kernel kill a child when its parent
*thread* exits; it is set in the child (via ctypes, no extra dependency). Where it is missing
(other systems) the mark still lets a restarted daemon find and stop the leftovers: every crawl
process is started with `NEWSWATCH_CRAWL_MARK=<database key>` in its environment.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import signal

MARK_ENV = "NEWSWATCH_CRAWL_MARK"
PARENT_ENV = "NEWSWATCH_CRAWL_PARENT"
PR_SET_PDEATHSIG = 1
_LIBC: list[ctypes.CDLL | None] = []  # resolved once, before any fork (find_library forks)


def _libc() -> ctypes.CDLL | None:
    if not _LIBC:
        name = ctypes.util.find_library("c")
        handle = None
        if name:
            with contextlib.suppress(OSError):
                handle = ctypes.CDLL(name, use_errno=True)
        _LIBC.append(handle)
    return _LIBC[0]


def database_mark(safe_url: str) -> str:
    """A short key for one database (its URL without the password), put in crawl processes' env."""
    return hashlib.sha256(safe_url.encode()).hexdigest()[:16]


def die_with_parent(expected_parent: int | None = None) -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies; exit if it already has.

    `expected_parent` (e.g. from $NEWSWATCH_CRAWL_PARENT) closes the race of a parent that died
    before the call: the process was re-parented already and exits at once.
    """
    libc, ok = _libc(), False
    if libc is not None:
        with contextlib.suppress(AttributeError):
            ok = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    # The parent may have died before prctl took effect: then we were re-parented already.
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)
    return ok


def process_mark(pid: int) -> str | None:
    """The NEWSWATCH_CRAWL_MARK of a live process on this host (None if absent/unreadable)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read()
    except OSError:
        return None
    prefix = MARK_ENV.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode("ascii", "replace")
    return None


def parent_from_env() -> int | None:
    """The pid of the daemon/worker that started this crawl process ($NEWSWATCH_CRAWL_PARENT)."""
    raw = os.environ.get(PARENT_ENV, "")
    return int(raw) if raw.isdigit() else None
