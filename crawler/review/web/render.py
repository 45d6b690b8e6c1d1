"""Template helpers: safe links, highlighted text, dates and explanation values as text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from markupsafe import Markup, escape

from crawler.review.queries import snippet_segments

_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
_CSS_WORD = re.compile(r"[^a-z0-9_-]+")


def http_url(url: str | None) -> str | None:
    """The URL if it is a plain http(s) link with a host, else None (never javascript: …)."""
    if not url:
        return None
    cleaned = _CONTROL.sub("", url)
    if cleaned != url.strip():
        return None
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return cleaned


def marked(text: str | None, marks: Iterable[Sequence[int]] | None) -> Markup:
    """Escape `text` and wrap the marked ranges in <mark>."""
    out: list[str] = []
    for piece, is_marked in snippet_segments(text or "", marks):
        safe = str(escape(piece))
        out.append(f"<mark>{safe}</mark>" if is_marked else safe)
    return Markup("".join(out))  # noqa: S704 - built only from escaped pieces


def when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC timestamp for display, or an em dash."""
    if value is None:
        return "—"
    return value.strftime(fmt) + (" UTC" if "%H" in fmt else "")


def day_time(value: datetime | None, now: datetime | None = None) -> str:
    """ "Today 08:10", "Yesterday 22:40", else "Mon 30 Nov 09:15" (UTC, for a morning scan)."""
    if value is None:
        return "—"
    from crawler.storage.models import utcnow

    today = (now or utcnow()).date()
    day = value.date()
    clock = value.strftime("%H:%M UTC")
    if day == today:
        return f"Today {clock}"
    if (today - day).days == 1:
        return f"Yesterday {clock}"
    fmt = "%a %d %b" if day.year == today.year else "%d %b %Y"
    return f"{value.strftime(fmt)} {clock}"


def plain(value: Any) -> str:
    """Any explanation value (rule, near miss, entity) as one short line of text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        for key in ("name", "text", "label", "id", "rule"):
            head = value.get(key)
            if isinstance(head, str):
                rest = {k: v for k, v in value.items() if k != key}
                return head + (f" ({plain(rest)})" if rest else "")
        return ", ".join(f"{k}: {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    return json.dumps(value, default=str)


def as_list(value: Any) -> list[Any]:
    """A list of items from a list, a dict (its items) or a single value."""
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, dict):
        return [{"name": str(k), "value": v} for k, v in value.items()]
    return [value]


def entity_groups(entities: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Entities as (kind, names), agencies and courts first, empty kinds dropped."""
    order = ["agency", "court", "place", "official"]
    keys = sorted(entities, key=lambda k: (order.index(k) if k in order else len(order), k))
    groups = []
    for key in keys:
        names = [plain(item) for item in as_list(entities[key])]
        names = [n for n in dict.fromkeys(names) if n]
        if names:
            groups.append((key, names))
    return groups


def css_word(value: str | None) -> str:
    """A value reduced to characters safe inside a CSS class name."""
    return _CSS_WORD.sub("-", (value or "unknown").lower()).strip("-") or "unknown"


def register(app: Flask) -> None:
    """Make the helpers available as Jinja filters."""
    app.jinja_env.filters.update(
        http_url=http_url,
        marked=marked,
        when=when,
        day_time=day_time,
        plain=plain,
        as_list=as_list,
        css=css_word,
    )
    app.jinja_env.globals["entity_groups"] = entity_groups
