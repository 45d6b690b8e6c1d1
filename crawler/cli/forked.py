"""Run a heavy step of a command in a forked child, so what it loads leaves with the child.

`newswatch crawl` spends most of its life waiting for crawl processes, yet its checks before
starting them (compiling the topic matcher, loading Alembic and every migration script) would
leave ~17 MB in it for good: Python never gives imported modules back. A child forked for the
step does the work and exits; the parent keeps only the outcome. A NewswatchError in the child
is raised again in the parent with the same lines and exit code.

The step runs in this process instead where a fork is unsafe or unwanted: no `os.fork`, other
threads running (a fork copies none of them, and a lock one of them held stays held in the
child), or $NEWSWATCH_DEBUG set (tracebacks then come from where the error happened).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any, NoReturn

from crawler.errors import NewswatchError

ENV_DEBUG = "NEWSWATCH_DEBUG"


class ForwardedError(NewswatchError):
    """A NewswatchError raised in the forked child, with its lines and exit code."""

    def __init__(self, lines: list[str], exit_code: int) -> None:
        super().__init__(lines[0] if lines else "")
        self._lines = lines
        self.exit_code = exit_code

    def lines(self) -> list[str]:
        """The child error's lines."""
        return self._lines


class ChildFailure(Exception):
    """An unexpected error in the forked child (a bug), under the name of its own type."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name


def can_fork() -> bool:
    """Whether a step may run in a forked child here (see the module docstring)."""
    return hasattr(os, "fork") and threading.active_count() == 1 and not os.environ.get(ENV_DEBUG)


def run_forked(step: Callable[[], None], *, cleanup: Callable[[], None] | None = None) -> bool:
    """Run `step` in a forked child; True if it did, False if it ran here instead.

    Errors of the step are raised here either way. `cleanup` runs after the step in the child
    only (e.g. closing the database connections it opened before it exits).
    """
    if not can_fork():
        step()
        return False
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(step, cleanup, write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise ChildFailure("ChildProcessError", f"the step ended without a result ({_how(status)})")
    outcome = json.loads(data)
    if outcome is None:
        return True
    if outcome[0] == "error":
        raise ForwardedError(outcome[1], outcome[2])
    raise ChildFailure(outcome[1], outcome[2])


def _child(step: Callable[[], None], cleanup: Callable[[], None] | None, out: int) -> NoReturn:
    """Run the step, write its outcome to `out` as JSON and exit (never return to the caller)."""
    code = 0
    try:
        outcome: Any = None
        try:
            step()
        except NewswatchError as exc:
            outcome = ("error", exc.lines(), exc.exit_code)
        except Exception as exc:
            outcome = ("bug", type(exc).__name__, str(exc))
        finally:
            if cleanup is not None:
                cleanup()
        with os.fdopen(out, "wb") as pipe:
            pipe.write(json.dumps(outcome).encode())
    except BaseException:  # an interrupt, or a failure to report: the parent gets no result
        code = 1
    finally:
        os._exit(code)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
