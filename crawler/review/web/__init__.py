"""The review web page: a small Flask app over the newswatch database (no front-end build)."""

from __future__ import annotations

from flask import Flask

from crawler.config import Settings
from crawler.review.web import incidents, render, security, views
from crawler.review.web.security import WebSecrets
from crawler.storage.db import Database

__all__ = ["WebSecrets", "create_app"]


def create_app(
    db: Database,
    settings: Settings,
    *,
    token: str | None = None,
    password: str | None = None,
    secret_key: str | None = None,
) -> Flask:
    """Build the review app; `token`/`password` turn on login, `secret_key` signs sessions."""
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
    app.register_blueprint(views.bp)
    app.register_blueprint(incidents.bp)
    return app
