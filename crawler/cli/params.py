"""Click parameter types shared by the commands."""

from __future__ import annotations

from typing import Any

import click

from crawler.durations import parse_duration


class Duration(click.ParamType):
    """Seconds, or a duration such as 90s, 15m, 24h or 7d."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse the value into seconds."""
        if isinstance(value, float):
            return value
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if seconds <= 0:
            self.fail(f"must be more than zero, got {value!r}", param, ctx)
        return seconds


DURATION = Duration()
