"""Click parameter types shared by the commands."""

from __future__ import annotations

from typing import Any

import click

from crawler.durations import parse_duration


class Duration(click.ParamType):  # type: ignore[type-arg]
    """Seconds, or a duration such as 90s, 15m, 24h or 7d."""

    name = "DURATION"

    def __init__(self, minimum: float = 0.0) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse the value into seconds."""
        if isinstance(value, float):
            return value
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if seconds <= 0 or seconds < self.minimum:
            least = f"at least {self.minimum:g} seconds" if self.minimum else "more than zero"
            self.fail(f"must be {least}, got {value!r}", param, ctx)
        return seconds


DURATION = Duration()
