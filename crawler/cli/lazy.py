"""The `newswatch` group's commands, imported when first used: `newswatch crawl` then loads only
its own module, not the Slack SDK, the daemon's logging or the review queries (~5 MB less in a
process that waits for its crawls, and a faster start for every command).

Each command module exports `commands: list[click.Command]`; a module that is absent is
skipped. Asking for one command imports the modules the table names for it (a group another
module adds subcommands to names both); any other use of the mapping (iterating it, listing
the commands for --help, an unknown name) imports every module first.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping, Sequence

import click


class LazyCommands(MutableMapping[str, click.Command]):
    """A click group's `commands` that imports command modules on demand."""

    def __init__(self, modules: Sequence[str], where: Mapping[str, Sequence[str]]) -> None:
        self._commands: dict[str, click.Command] = {}
        self._modules = tuple(modules)
        self._where = where
        self._loaded: set[str] = set()

    def _load(self, modules: Sequence[str]) -> None:
        for name in modules:
            if name in self._loaded:
                continue
            self._loaded.add(name)
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name == name:
                    continue
                raise
            for command in module.commands:
                self._commands[command.name or ""] = command

    def _load_all(self) -> None:
        self._load(self._modules)

    def get(self, name: str, default: click.Command | None = None) -> click.Command | None:  # type: ignore[override]
        """The command called `name`, importing only its modules when the table knows it."""
        if name not in self._commands:
            self._load(self._where.get(name, ()))
        if name not in self._commands:
            self._load_all()
        return self._commands.get(name, default)

    def __getitem__(self, name: str) -> click.Command:
        self._load_all()
        return self._commands[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._commands[name] = command

    def __delitem__(self, name: str) -> None:
        self._load_all()
        del self._commands[name]

    def __iter__(self) -> Iterator[str]:
        self._load_all()
        return iter(dict(self._commands))

    def __len__(self) -> int:
        self._load_all()
        return len(self._commands)
