"""What every command gets: the `--config` path, settings loaded once, the database opened once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console

from crawler.config import Settings, load_settings
from crawler.storage.db import Database


@dataclass
class AppContext:
    """Lazily loaded settings and database for one CLI invocation."""

    config_path: Path | None = None
    console: Console = field(default_factory=lambda: Console(highlight=False))
    _settings: Settings | None = None
    _db: Database | None = None

    @property
    def settings(self) -> Settings:
        """The validated settings (ConfigError on a bad file)."""
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    @property
    def db(self) -> Database:
        """The migrated database named by the settings."""
        if self._db is None:
            self._db = Database(self.settings.database_url)
        return self._db

    def close(self) -> None:
        """Dispose of the database pool."""
        if self._db is not None:
            self._db.dispose()


pass_app = click.make_pass_decorator(AppContext, ensure=True)
