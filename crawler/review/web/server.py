"""Serve the review app with waitress when it is installed, else Werkzeug's threaded server."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from flask import Flask


def server_name() -> str:
    """'waitress' when the production WSGI server is installed, else 'werkzeug'."""
    return "waitress" if importlib.util.find_spec("waitress") is not None else "werkzeug"


def serve(app: Flask, host: str, port: int) -> None:
    """Serve `app` on host:port until interrupted."""
    if server_name() == "waitress":
        waitress: Any = importlib.import_module("waitress")
        waitress.serve(app, host=host, port=port, threads=8, ident="newswatch")
        return
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
