"""Access control, CSRF protection and security headers for the review web page.

Bound to loopback the page needs no login. Bound anywhere else it needs a bearer token
($NEWSWATCH_WEB_TOKEN: `Authorization: Bearer …`, or `?token=…` once, then a session cookie)
or a password ($NEWSWATCH_WEB_PASSWORD: HTTP basic auth, any user name).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Flask, Response, abort, redirect, request, session
from werkzeug.wrappers import Response as BaseResponse

from crawler.errors import ConfigError

ENV_TOKEN = "NEWSWATCH_WEB_TOKEN"  # noqa: S105 - a variable name
ENV_PASSWORD = "NEWSWATCH_WEB_PASSWORD"  # noqa: S105 - a variable name
ENV_SECRET = "NEWSWATCH_WEB_SECRET"  # noqa: S105 - a variable name
PROCESS_SECRET = secrets.token_hex(32)
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass(frozen=True)
class WebSecrets:
    """The credentials and session key the web page runs with."""

    token: str | None = None
    password: str | None = None
    secret_key: str | None = None

    @classmethod
    def from_env(cls) -> WebSecrets:
        """Read $NEWSWATCH_WEB_TOKEN, $NEWSWATCH_WEB_PASSWORD and $NEWSWATCH_WEB_SECRET."""
        return cls(
            token=os.environ.get(ENV_TOKEN) or None,
            password=os.environ.get(ENV_PASSWORD) or None,
            secret_key=os.environ.get(ENV_SECRET) or None,
        )


def is_loopback_host(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, secrets_: WebSecrets) -> None:
    """Refuse (ConfigError) to serve on a non-loopback address without a token or password."""
    if is_loopback_host(host) or secrets_.token or secrets_.password:
        return
    raise ConfigError(
        f"refusing to serve the review page on {host}, which other machines can reach, without "
        f"a login: set ${ENV_TOKEN} (bearer token) or ${ENV_PASSWORD} (HTTP basic auth), "
        "or bind to 127.0.0.1",
        field="web.host",
    )


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _fingerprint(secret: str) -> str:
    # Stored in the session so that changing the token logs every browser out.
    return hashlib.sha256(b"newswatch-web:" + secret.encode("utf-8")).hexdigest()[:32]


def csrf_token() -> str:
    """This session's CSRF token (created on first use); templates put it in every form."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _unauthorised(password_enabled: bool) -> Response:
    response = Response(
        "Login required: open the link you were given (it carries ?token=…), send "
        "'Authorization: Bearer <token>', or sign in with the password.\n",
        status=401,
        mimetype="text/plain",
    )
    if password_enabled:
        response.headers["WWW-Authenticate"] = 'Basic realm="newswatch", charset="UTF-8"'
    return response


def install(app: Flask, secrets_: WebSecrets) -> None:
    """Register the access check, the CSRF check and the security headers on `app`."""
    token, password = secrets_.token, secrets_.password
    marker = _fingerprint(f"{token}\0{password}")

    @app.before_request
    def _check_access() -> BaseResponse | None:
        if request.endpoint == "static" or not (token or password):
            return None
        if session.get("auth") == marker:
            return None
        header = request.headers.get("Authorization", "")
        if token and header[:7].lower() == "bearer " and _same(header[7:].strip(), token):
            return None
        given = request.args.get("token")
        if token and given is not None and _same(given, token):
            session["auth"] = marker
            if request.method != "GET":
                return None
            # Drop the token from the address bar so it is not bookmarked or shared.
            rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
            path = "/" + request.path.lstrip("/")  # never "//host": no open redirect
            return redirect(path + ("?" + urlencode(rest) if rest else ""), code=303)
        auth = request.authorization
        if (
            password
            and auth is not None
            and auth.type == "basic"
            and _same(auth.password or "", password)
        ):
            session["auth"] = marker
            session["user"] = auth.username or ""
            return None
        return _unauthorised(bool(password))

    @app.before_request
    def _check_csrf() -> None:
        if request.method not in _UNSAFE_METHODS:
            return
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
        if not sent:
            abort(400, "the form is missing its CSRF token: reload the page and try again")
        expected = session.get("csrf")
        if not isinstance(expected, str) or not _same(sent, expected):
            abort(403, "the form's CSRF token does not match this session: reload the page")

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.jinja_env.globals["csrf_token"] = csrf_token
