"""Durations as people write them: `90` (seconds), `90s`, `15m`, `24h`, `7d`, `2w`, `1h30m`."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_WHOLE = re.compile(r"^(?:\s*\d+(?:\.\d+)?\s*[smhdw])+\s*$")


def parse_duration(value: str | float | int, *, unit: float = 1.0) -> float:
    """A duration in `unit` seconds: a bare number is already in that unit; ValueError if bad."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 90s, 15m, 24h or 7d, got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = value.strip().lower()
        try:
            number = float(text)
        except ValueError:
            if not _WHOLE.match(text):
                raise ValueError(
                    f"expected a duration such as 90s, 15m, 24h or 7d, got {value!r}"
                ) from None
            number = sum(float(n) * UNITS[u] for n, u in _PART.findall(text)) / unit
    if not math.isfinite(number):
        raise ValueError(f"expected a finite duration, got {value!r}")
    return number


def _seconds(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


def _hours(value: Any) -> Any:
    return parse_duration(value, unit=3600.0) if isinstance(value, str) else value


# A number of seconds in the config that may also be written "15m", "24h", "7d".
Seconds = Annotated[float, BeforeValidator(_seconds)]
# A number of hours in the config that may also be written "90m", "3d".
Hours = Annotated[float, BeforeValidator(_hours)]
