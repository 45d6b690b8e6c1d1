"""The top navigation as data: each page (or another helper's blueprint) adds its own entry.

    from crawler.review.web.nav import add_nav
    app.register_blueprint(bp)
    add_nav(app, "Possible", "feedback.possible", order=25)

`create_app(..., blueprints=[(bp, [NavEntry(...)])])` does both at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from flask import Flask, request, url_for

NAV_KEY = "newswatch_nav"


@dataclass(frozen=True)
class NavEntry:
    """One link of the top navigation; `active` lists the endpoints that highlight it."""

    label: str
    endpoint: str
    order: int = 50
    active: Sequence[str] = field(default_factory=tuple)

    def is_current(self, endpoint: str | None) -> bool:
        """Whether the request's endpoint belongs to this entry."""
        return endpoint == self.endpoint or endpoint in self.active


def add_nav(
    app: Flask, label: str, endpoint: str, *, order: int = 50, active: Sequence[str] = ()
) -> None:
    """Add a navigation entry (lower `order` comes first; the built-in pages use 10-40)."""
    entries: list[NavEntry] = app.extensions.setdefault(NAV_KEY, [])
    entries.append(NavEntry(label, endpoint, order, tuple(active)))
    entries.sort(key=lambda e: e.order)


def nav_links() -> list[tuple[str, str, bool]]:
    """(label, url, current) for the template, in order."""
    from flask import current_app

    entries: list[NavEntry] = current_app.extensions.get(NAV_KEY, [])
    here = request.endpoint
    return [(e.label, url_for(e.endpoint), e.is_current(here)) for e in entries]


def install(app: Flask) -> None:
    """Register the template global and the built-in pages' entries."""
    app.jinja_env.globals["nav_links"] = nav_links
    add_nav(app, "Stories", "stories.index", order=10, active=("stories.story",))
    add_nav(app, "Matches", "review.match_list", order=20, active=("review.match_detail",))
    add_nav(app, "Timeline", "review.timeline", order=30)
    add_nav(app, "Sources", "review.sources", order=40)
