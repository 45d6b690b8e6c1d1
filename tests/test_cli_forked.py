"""A heavy step of a command runs in a forked child: what it loads never reaches the parent, its
errors do (same lines, same exit code), and it runs in-process where a fork is unsafe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.cli.forked import ChildFailure, ForwardedError, run_forked
from crawler.errors import ConfigError

# Each case runs in a fresh interpreter: a fork needs a process with no other threads.
SCRIPT = """
import json, sys, threading
from crawler.cli.forked import run_forked
from crawler.errors import ConfigError

def step():
    import wave  # stands for the matcher and Alembic: loaded only where the step runs
    if sys.argv[1] == "fail":
        problems = [ConfigError("bad pack", path="a.toml"), ConfigError("x", field="y")]
        raise ConfigError.combine(problems)
    if sys.argv[1] == "bug":
        raise KeyError("oops")

if sys.argv[2] == "thread":
    stop = threading.Event()
    threading.Thread(target=stop.wait).start()
cleaned = []
try:
    forked = run_forked(step, cleanup=lambda: cleaned.append(1))
    result = {"forked": forked}
except Exception as exc:
    result = {"error": type(exc).__name__, "lines": getattr(exc, "lines", lambda: [])(),
              "code": getattr(exc, "exit_code", None), "type_name": getattr(exc, "type_name", None)}
if sys.argv[2] == "thread":
    stop.set()
result.update(loaded_here="wave" in sys.modules, cleaned_here=bool(cleaned))
print(json.dumps(result))
"""


def run(case: str, threads: str = "alone") -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, case, threads],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_step_runs_in_a_child_and_leaves_nothing_here() -> None:
    assert run("ok") == {"forked": True, "loaded_here": False, "cleaned_here": False}


def test_an_error_of_the_step_is_raised_here_with_its_lines_and_exit_code() -> None:
    result = run("fail")
    assert result["error"] == "ForwardedError" and result["code"] == 2
    assert result["lines"] == ["a.toml: bad pack", "y: x"]
    assert result["loaded_here"] is False


def test_a_bug_in_the_step_keeps_its_type_name() -> None:
    result = run("bug")
    assert result["error"] == "ChildFailure" and result["type_name"] == "KeyError"


def test_with_other_threads_running_the_step_runs_here() -> None:
    result = run("ok", "thread")
    assert result == {"forked": False, "loaded_here": True, "cleaned_here": False}


def test_in_process_errors_are_the_steps_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_DEBUG", "1")  # no fork: tracebacks from where they happen

    def step() -> None:
        raise ConfigError("bad pack", path="a.toml")

    with pytest.raises(ConfigError, match=r"a\.toml: bad pack") as caught:
        run_forked(step)
    assert not isinstance(caught.value, ForwardedError | ChildFailure)
