"""Commands are imported when used: `newswatch crawl` loads its own module only, and the table
saying where each command lives agrees with the modules (else a command would load whole)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from crawler.cli import COMMAND_MODULES, COMMAND_WHERE, main

CHECK = """
import sys
from crawler.cli import COMMAND_MODULES, main
from click.testing import CliRunner
result = CliRunner().invoke(main, [sys.argv[1], "--help"])
assert result.exit_code == 0, result.output
loaded = [m for m in COMMAND_MODULES if m in sys.modules]
print(" ".join(loaded), "slack_sdk" in sys.modules, "structlog" in sys.modules)
"""


def loaded_for(command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CHECK, command],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return done.stdout.strip()


def test_crawl_loads_only_its_own_module() -> None:
    assert loaded_for("crawl") == "crawler.cli.core False False"


def test_a_group_extended_by_another_module_loads_both() -> None:
    loaded = loaded_for("matches").split()
    assert {"crawler.cli.review", "crawler.cli.feedback"} <= set(loaded)
    assert "crawler.cli.daemon" not in loaded and loaded[-2:] == ["False", "False"]


def _modules(command: click.Command) -> set[str]:
    """The modules defining a command and (for a group) its subcommands, at any depth."""
    found = {command.callback.__module__} if command.callback else set()
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            found |= _modules(sub)
    return found


def test_the_table_names_every_module_of_every_command() -> None:
    commands = dict(main.commands.items())  # imports every module
    assert set(commands) == set(COMMAND_WHERE)
    for name, command in commands.items():
        assert _modules(command) <= set(COMMAND_WHERE[name]), name
    assert {m for where in COMMAND_WHERE.values() for m in where} == set(COMMAND_MODULES)
