"""Escaping, CSRF, login and security headers of the review web page."""

from __future__ import annotations

import base64
import re
import sys
import types
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_review_factory import XSS_TITLE, Sample

from crawler.config import Settings
from crawler.errors import ConfigError
from crawler.review.web import create_app, server
from crawler.review.web.render import http_url
from crawler.review.web.security import WebSecrets, check_exposure, is_loopback_host
from crawler.storage.db import Database
from crawler.storage.models import Match, Review

PAGES = ("/", "/timeline", "/sources")


@pytest.fixture
def client(database: Database) -> FlaskClient:
    return create_app(database, Settings(), secret_key="test-secret").test_client()


class Elements(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    return parser.tags


def assert_inert(html: str) -> None:
    """No script, no event handler, no link that is not http(s) or same-site."""
    for tag, attrs in elements(html):
        assert tag not in ("script", "img", "iframe", "object", "embed"), tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("href", "src", "action", "formaction"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("/", "https://", "http://", "data:,")), (tag, value)


def csrf(client: FlaskClient, match_id: int) -> str:
    html = client.get(f"/matches/{match_id}").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_hostile_article_renders_as_text(client: FlaskClient, sample: Sample) -> None:
    for url in ("/", "/matches", f"/matches/{sample.m5}", f"/stories/a{sample.a4}", "/?q=script"):
        html = client.get(url).get_data(as_text=True)
        assert XSS_TITLE not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<img" not in html
        assert 'href="javascript:' not in html
        assert_inert(html)
    detail = client.get(f"/matches/{sample.m5}").get_data(as_text=True)
    assert "&lt;img src=x onerror=&#34;alert(3)&#34;&gt; <mark>ICE agents</mark> waited" in detail
    assert '<span class="unsafe">javascript:alert(2)</span>' in detail  # shown, not a link
    assert "&lt;b&gt;bold?&lt;/b&gt;" in detail  # article text is escaped too


def test_every_page_is_inert(client: FlaskClient, sample: Sample) -> None:
    stories = (f"/stories/c{sample.cluster}", f"/stories/a{sample.a4}", "/?status=unreviewed")
    for url in (*PAGES, *stories, *(f"/matches/{m}" for m in (sample.m1, sample.m3, sample.m6))):
        assert_inert(client.get(url).get_data(as_text=True))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example/a?b=1", "https://news.example/a?b=1"),
        ("HTTP://NEWS.example/", "HTTP://NEWS.example/"),
        ("  https://news.example/x  ", "https://news.example/x"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("  javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("java\nscript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox(1)", None),
        ("//evil.example/", None),
        ("/relative/path", None),
        ("https:/no-host", None),
        ("http://[bad", None),
        ("", None),
        (None, None),
    ],
)
def test_http_url_only_allows_http_links(url: str | None, expected: str | None) -> None:
    assert http_url(url) == expected


def test_security_headers_on_every_response(client: FlaskClient, sample: Sample) -> None:
    for url in (*PAGES, f"/matches/{sample.m1}", "/matches/0", "/static/style.css"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "default-src 'none'" in csp
        assert "unsafe-inline" not in csp and "script-src" not in csp  # no script at all
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"
    assert client.get("/").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"label": "relevant"}, 400),
        ({"label": "relevant", "csrf_token": ""}, 400),
        ({"label": "relevant", "csrf_token": "forged-token"}, 403),
    ],
)
def test_label_post_needs_the_sessions_csrf_token(
    client: FlaskClient, sample: Sample, database: Database, data: dict[str, str], status: int
) -> None:
    csrf(client, sample.m1)  # the session has a token, but the form does not carry it
    response = client.post(f"/matches/{sample.m1}/label", data=data)
    assert response.status_code == status
    assert "CSRF" in response.get_data(as_text=True)
    with database.session() as s:
        assert s.get(Match, sample.m1).review_status == "unreviewed"  # type: ignore[union-attr]
        assert s.query(Review).count() == 0


def test_csrf_token_of_another_session_is_refused(database: Database, sample: Sample) -> None:
    app = create_app(database, Settings(), secret_key="test-secret")
    alice, mallory = app.test_client(), app.test_client()
    stolen = csrf(alice, sample.m1)
    response = mallory.post(
        f"/matches/{sample.m1}/label", data={"csrf_token": stolen, "label": "irrelevant"}
    )
    assert response.status_code == 403
    with database.session() as s:
        assert s.query(Review).count() == 0


def test_csrf_token_in_a_header_is_accepted(
    client: FlaskClient, sample: Sample, database: Database
) -> None:
    token = csrf(client, sample.m1)
    response = client.post(
        f"/matches/{sample.m1}/label", data={"label": "relevant"}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 303
    with database.session() as s:
        assert s.get(Match, sample.m1).review_status == "relevant"  # type: ignore[union-attr]


def test_session_cookie_is_http_only_and_same_site(client: FlaskClient, sample: Sample) -> None:
    response = client.get(f"/matches/{sample.m1}")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("newswatch_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def test_token_login(database: Database, sample: Sample) -> None:
    client = create_app(database, Settings(), token="tok-123").test_client()
    refused = client.get("/")
    assert refused.status_code == 401 and "WWW-Authenticate" not in refused.headers
    assert client.get("/?token=wrong").status_code == 401
    assert client.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/static/style.css").status_code == 200  # styling needs no login
    assert client.get("/", headers={"Authorization": "Bearer tok-123"}).status_code == 200
    entered = client.get("/?token=tok-123&topic=sanctuary_policy")
    assert entered.status_code == 303
    assert entered.headers["Location"] == "/?topic=sanctuary_policy"  # token dropped from the URL
    assert client.get("/sources").status_code == 200  # the session cookie now carries the login
    sneaky = create_app(database, Settings(), token="tok-123").test_client()
    odd_path = sneaky.get(
        "/", query_string={"token": "tok-123"}, environ_overrides={"PATH_INFO": "//evil.example/"}
    )
    assert odd_path.headers["Location"] == "/evil.example/"  # not a redirect to another host
    token = csrf(client, sample.m1)
    posted = client.post(
        f"/matches/{sample.m1}/label", data={"csrf_token": token, "label": "relevant"}
    )
    assert posted.status_code == 303


def test_token_login_still_needs_csrf(database: Database, sample: Sample) -> None:
    client = create_app(database, Settings(), token="tok-123").test_client()
    response = client.post(
        f"/matches/{sample.m1}/label",
        data={"label": "relevant"},
        headers={"Authorization": "Bearer tok-123"},
    )
    assert response.status_code == 400


def test_changing_the_token_logs_sessions_out(database: Database) -> None:
    old = create_app(database, Settings(), token="old", secret_key="same").test_client()
    assert old.get("/?token=old").status_code == 303
    new = create_app(database, Settings(), token="new", secret_key="same")
    cookie = old.get_cookie("newswatch_session")
    assert cookie is not None
    client = new.test_client()
    client.set_cookie("newswatch_session", cookie.value)
    assert client.get("/").status_code == 401


def test_password_login(database: Database, sample: Sample) -> None:
    client = create_app(database, Settings(), password="pw-456").test_client()
    refused = client.get("/")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert client.get("/", headers=basic("ann", "nope")).status_code == 401
    assert client.get("/", headers=basic("ann", "pw-456")).status_code == 200
    html = client.get(f"/matches/{sample.m1}").get_data(as_text=True)  # cookie from now on
    assert 'name="reviewer" value="ann"' in html  # the login name is the default reviewer


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_login(host: str) -> None:
    assert is_loopback_host(host)
    check_exposure(host, WebSecrets())


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "news.example", "10.0.0.1"])
def test_other_addresses_need_a_token_or_password(host: str) -> None:
    assert not is_loopback_host(host)
    with pytest.raises(ConfigError, match="NEWSWATCH_WEB_TOKEN"):
        check_exposure(host, WebSecrets())
    check_exposure(host, WebSecrets(token="t"))
    check_exposure(host, WebSecrets(password="p"))


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_WEB_TOKEN", "a")
    monkeypatch.setenv("NEWSWATCH_WEB_PASSWORD", "b")
    monkeypatch.setenv("NEWSWATCH_WEB_SECRET", "c")
    assert WebSecrets.from_env() == WebSecrets(token="a", password="b", secret_key="c")
    for name in ("NEWSWATCH_WEB_TOKEN", "NEWSWATCH_WEB_PASSWORD", "NEWSWATCH_WEB_SECRET"):
        monkeypatch.setenv(name, "")
    assert WebSecrets.from_env() == WebSecrets()


def test_secret_key_is_generated_per_process(database: Database) -> None:
    first: Flask = create_app(database, Settings())
    second: Flask = create_app(database, Settings())
    assert first.secret_key == second.secret_key
    assert isinstance(first.secret_key, str) and len(first.secret_key) >= 32
    assert create_app(database, Settings(), secret_key="x").secret_key == "x"


def test_server_prefers_waitress(monkeypatch: pytest.MonkeyPatch, database: Database) -> None:
    calls: list[dict[str, Any]] = []
    fake = types.ModuleType("waitress")
    fake.serve = lambda app, **kw: calls.append(kw)  # type: ignore[attr-defined]
    fake.__spec__ = types.SimpleNamespace(name="waitress")  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "waitress", fake)
    assert server.server_name() == "waitress"
    server.serve(create_app(database, Settings()), "127.0.0.1", 8123)
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 8123


def test_server_falls_back_to_werkzeug(monkeypatch: pytest.MonkeyPatch, database: Database) -> None:
    monkeypatch.setattr(server.importlib.util, "find_spec", lambda name: None)
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr("werkzeug.serving.run_simple", lambda *a, **kw: calls.append(a))
    assert server.server_name() == "werkzeug"
    server.serve(create_app(database, Settings()), "127.0.0.1", 8124)
    assert calls[0][:2] == ("127.0.0.1", 8124)
