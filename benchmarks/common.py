"""Shared helpers: the repository root, child environments, config files, database reads."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# Never let the caller's real config, database or Slack secrets reach a benchmark child.
_SCRUB = (
    "NEWSWATCH_CONFIG",
    "NEWSWATCH_DATABASE_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_WEBHOOK_URL",
    "SCRAPY_SETTINGS_MODULE",
)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a benchmark child: scrubbed, with the repo importable."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def toml_value(value: Any) -> str:
    """A Python value as TOML (strings, numbers, booleans, lists of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_config(
    path: Path, sections: Mapping[str, Mapping[str, Any]], sources: list[dict[str, Any]]
) -> Path:
    """Write a newswatch config file: `[section]` tables and `[[sources]]` entries."""
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in values.items())
        lines.append("")
    for source in sources:
        lines.append("[[sources]]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in source.items())
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def load_avg() -> list[float]:
    """The 1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []
