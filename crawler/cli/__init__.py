"""The `newswatch` command: every library error becomes a one-line message and an exit code."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from crawler import __version__
from crawler.cli.context import AppContext
from crawler.errors import NewswatchError

# Each module exports `commands: list[click.Command]`; a module that is absent is skipped.
COMMAND_MODULES = (
    "crawler.cli.core",
    "crawler.cli.matching",
    "crawler.cli.alerts",
    "crawler.cli.review",
    "crawler.cli.daemon",
    "crawler.cli.workers",
    "crawler.cli.sources",
)


class NewswatchGroup(click.Group):
    """A click group that turns NewswatchError into a message instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewswatchError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(exc.exit_code)
        finally:
            app = ctx.find_object(AppContext)
            if app is not None:
                app.close()


@click.group(cls=NewswatchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: $NEWSWATCH_CONFIG, else ./newswatch.toml, else built-in defaults).",
)
@click.version_option(__version__, prog_name="newswatch")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """newswatch: watch the news for courthouse ICE arrests and sanctuary-policy disputes."""
    ctx.obj = AppContext(config_path=config_path)


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        for command in module.commands:
            main.add_command(command)


_register()
