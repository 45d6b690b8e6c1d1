"""The `newswatch` command: every library error becomes a one-line message and an exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from crawler import __version__
from crawler.cli.context import AppContext
from crawler.cli.lazy import LazyCommands
from crawler.errors import NewswatchError

# Every module with commands, in registration order, and where each top-level command lives
# (crawler.cli.lazy: a command's modules are imported when it is used).
COMMAND_MODULES = (
    "crawler.cli.core",
    "crawler.cli.matching",
    "crawler.cli.alerts",
    "crawler.cli.review",
    "crawler.cli.daemon",
    "crawler.cli.workers",
    "crawler.cli.sources",
    "crawler.cli.feedback",
    "crawler.cli.incidents",
)
_FEEDBACK = "crawler.cli.feedback"  # adds `matches promote|dismiss` and `sources mute`
COMMAND_WHERE: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("config", "db", "crawl", "rematch"), ("crawler.cli.core",)),
    **dict.fromkeys(("check", "eval"), ("crawler.cli.matching",)),
    **dict.fromkeys(("alerts", "slack"), ("crawler.cli.alerts",)),
    "matches": ("crawler.cli.review", _FEEDBACK),
    "web": ("crawler.cli.review",),
    **dict.fromkeys(("run", "status"), ("crawler.cli.daemon",)),
    "worker": ("crawler.cli.workers",),
    "sources": ("crawler.cli.sources", _FEEDBACK),
    "missed": (_FEEDBACK,),
    "incidents": ("crawler.cli.incidents",),
}


ENV_DEBUG = "NEWSWATCH_DEBUG"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(message: str, code: int) -> NoReturn:
    click.secho(f"error: {_one_line(message)}", fg="red", err=True)
    sys.exit(code)


class NewswatchGroup(click.Group):
    """A click group that turns every error into one-line messages and an exit code, never a
    traceback (set $NEWSWATCH_DEBUG=1 to see the traceback of an unexpected error)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Parse the global options; a usage error there is one line too."""
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
            _fail(exc.format_message() + where, exc.exit_code)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewswatchError as exc:
            for line in exc.lines():
                click.secho(f"error: {_one_line(line)}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.NoArgsIsHelpError:
            raise  # a group called alone: click prints its help (exit 2)
        except click.UsageError as exc:
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
            _fail(exc.format_message() + where, exc.exit_code)
        except click.ClickException as exc:
            for line in getattr(exc, "error_lines", [])[:-1]:
                click.secho(f"error: {_one_line(line)}", fg="red", err=True)
            last = getattr(exc, "error_lines", [exc.format_message()])[-1:] or [""]
            _fail(last[0], exc.exit_code)
        except (click.exceptions.Exit, click.Abort, KeyboardInterrupt, EOFError):
            raise
        except Exception as exc:
            if os.environ.get(ENV_DEBUG):
                raise
            detail = _one_line(str(exc))[:300] or "no message"
            kind = getattr(exc, "type_name", type(exc).__name__)  # forked.ChildFailure's own
            _fail(
                f"unexpected {kind}: {detail} (a bug in newswatch: please report "
                f"it; ${ENV_DEBUG}=1 shows the traceback)",
                1,
            )
        finally:
            app = ctx.find_object(AppContext)
            if app is not None:
                app.close()


@click.group(cls=NewswatchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False, readable=False),
    help="Config file (default: $NEWSWATCH_CONFIG, else ./newswatch.toml, else built-in defaults).",
)
@click.version_option(__version__, prog_name="newswatch")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """newswatch: watch the news for courthouse ICE arrests and sanctuary-policy disputes."""
    ctx.obj = AppContext(config_path=config_path)


main.commands = LazyCommands(COMMAND_MODULES, COMMAND_WHERE)
