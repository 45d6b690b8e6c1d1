"""The review web page: a small Flask app over the newswatch database (no front-end build)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from flask import Blueprint, Flask

from crawler.config import Settings
from crawler.review.web import feedback, incidents, nav, render, security, story_views, views
from crawler.review.web.nav import NavEntry, add_nav
from crawler.review.web.security import WebSecrets
from crawler.storage.db import Database

__all__ = ["NavEntry", "WebSecrets", "add_nav", "create_app"]


def create_app(
    db: Database,
    settings: Settings,
    *,
    token: str | None = None,
    password: str | None = None,
    secret_key: str | None = None,
    blueprints: Iterable[tuple[Blueprint, Sequence[NavEntry]]] = (),
) -> Flask:
    """Build the review app; `token`/`password` turn on login, `secret_key` signs sessions.

    `blueprints` are more pages (another feature's views), each with its navigation entries.
    """
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or security.PROCESS_SECRET,
        SESSION_COOKIE_NAME="newswatch_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=256 * 1024,
    )
    app.extensions["newswatch"] = views.WebState(db=db, settings=settings)
    security.install(app, WebSecrets(token=token, password=password))
    render.register(app)
    app.register_blueprint(story_views.bp)
    app.register_blueprint(views.bp)
    nav.install(app)
    for blueprint, entries in blueprints:
        app.register_blueprint(blueprint)
        for entry in entries:
            add_nav(app, entry.label, entry.endpoint, order=entry.order, active=entry.active)
    app.register_blueprint(feedback.bp)
    add_nav(app, "Possible", "feedback.possible", order=25)
    add_nav(app, "Report a miss", "feedback.missed", order=45)
    app.register_blueprint(incidents.bp)
    add_nav(
        app, "Incidents", "incidents.incident_list", order=35,
        active=("incidents.incident_map", "incidents.incident_detail"),
    )  # fmt: skip
    return app
