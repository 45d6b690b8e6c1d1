"""Serve the review app with waitress when it is installed, else Werkzeug's threaded server."""

from __future__ import annotations

import errno
import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

from flask import Flask

from crawler.errors import ConfigError


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


def bind(app: Flask, host: str, port: int) -> Callable[[], None]:
    """Listen on host:port now (ConfigError if that fails); returns the function that serves."""
    try:
        if server_name() == "waitress":
            waitress: Any = importlib.import_module("waitress")
            server = waitress.create_server(app, host=host, port=port, threads=8, ident="newswatch")
            return server.run  # type: ignore[no-any-return]
        from werkzeug.serving import make_server

        wsgi = make_server(host, port, app, threaded=True)
        return wsgi.serve_forever
    except OSError as exc:
        shown = f"[{host}]" if ":" in host else host
        reason = (
            "the address is already in use"
            if exc.errno == errno.EADDRINUSE
            else exc.strerror or str(exc)
        )
        raise ConfigError(
            f"cannot listen on {shown}:{port}: {reason} (choose another with --port or [web] port)"
        ) from None
