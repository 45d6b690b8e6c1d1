"""Docs kept true: every CLI command has help text and appears in the README."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from crawler.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def walk(group: click.Group, prefix: str = "newswatch") -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from walk(command, path)


def test_every_command_has_help() -> None:
    missing = [path for path, cmd in walk(main) if not (cmd.help or "").strip()]
    assert not missing, f"commands without help text: {missing}"


def test_every_command_is_in_the_readme() -> None:
    missing = [path for path, _ in walk(main) if f"`{path}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_expected_commands_exist() -> None:
    names = {path for path, _ in walk(main)}
    for expected in (
        "newswatch crawl",
        "newswatch config check",
        "newswatch db upgrade",
        "newswatch rematch",
    ):
        assert expected in names


def test_quick_start_is_two_commands() -> None:
    assert "make demo" in README and "make test" in README
