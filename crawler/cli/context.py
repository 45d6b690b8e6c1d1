"""What every command gets: the `--config` path, settings loaded once, the database opened once."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import update_wrapper
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from crawler.config import ENV_DATABASE_URL, Settings, load_settings
from crawler.errors import ConfigError, NewswatchError
from crawler.storage.db import Database

if TYPE_CHECKING:
    from crawler.matching import Matcher

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppContext:
    """Lazily loaded settings and database for one CLI invocation.

    The database is opened without creating it (a missing SQLite file is "database not
    found", exit 3) unless the command is marked with `@creates_database`, and migrated unless
    `schema_checked` says a child process of this command migrated it already.
    """

    config_path: Path | None = None
    console: Console = field(default_factory=lambda: Console(highlight=False))
    may_create_db: bool = False
    schema_checked: bool = False
    _settings: Settings | None = None
    _db: Database | None = None

    @property
    def settings(self) -> Settings:
        """The validated settings (ConfigError on a bad file)."""
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    @property
    def database_origin(self) -> str | None:
        """Where the database URL comes from: the environment variable or the config file."""
        if os.environ.get(ENV_DATABASE_URL):
            return f"${ENV_DATABASE_URL}"
        return str(self.settings.path) if self.settings.path else None

    @property
    def db(self) -> Database:
        """The migrated database named by the settings."""
        if self._db is None:
            self._db = Database(
                self.settings.database_url,
                migrate=not self.schema_checked,
                create=self.may_create_db,
                origin=self.database_origin,
            )
        return self._db

    def matcher(
        self, extra_packs: Sequence[Path] = (), thresholds: Mapping[str, float] | None = None
    ) -> Matcher:
        """The matcher the config describes (plus extra packs and threshold overrides).

        Unknown topics in `[matching] thresholds` / `disabled_topics` are reported with the
        config file and field, every one at once.
        """
        from crawler.matching import load_matcher
        from crawler.matching.pack import load_pack

        cfg = self.settings.matching
        packs = [*cfg.topic_packs, *extra_packs]
        topics = set(load_pack(packs).topics)
        where = str(self.settings.path) if self.settings.path else None
        problems = [
            ConfigError(_unknown_topic(name, topics), path=where, field=f"matching.{key}.{name}")
            for key, names in (
                ("thresholds", cfg.thresholds),
                ("disabled_topics", cfg.disabled_topics),
            )
            for name in names
            if name not in topics
        ]
        problems += [
            ConfigError(_unknown_topic(name, topics), field=f"--threshold {name}")
            for name in thresholds or {}
            if name not in topics
        ]
        if problems:
            raise ConfigError.combine(problems)
        merged = {**cfg.thresholds, **(thresholds or {})}
        return load_matcher(packs, merged, cfg.disabled_topics)

    def close(self) -> None:
        """Dispose of the database pool."""
        if self._db is not None:
            self._db.dispose()
            self._db = None


def _unknown_topic(name: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f" — did you mean {close[0]!r}?" if close else ""
    return f"unknown topic {name!r}{hint} (known topics: {', '.join(sorted(known))})"


pass_app = click.make_pass_decorator(AppContext, ensure=True)


def creates_database(func: F) -> F:
    """Mark a command that may create (and migrate) a missing SQLite database."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        click.get_current_context().ensure_object(AppContext).may_create_db = True
        return func(*args, **kwargs)

    return update_wrapper(wrapper, func)  # type: ignore[return-value]


class ErrorExit(click.ClickException):
    """A NewswatchError as click sees it, for commands run outside the `newswatch` group."""

    def __init__(self, error: NewswatchError) -> None:
        self.error_lines = error.lines()
        super().__init__("; ".join(self.error_lines))
        self.exit_code = error.exit_code  # type: ignore[misc]  # click reads it per instance

    def show(self, file: Any = None) -> None:
        """One `error: …` line per problem."""
        for line in self.error_lines:
            click.echo(f"error: {line}", file=file, err=True)
