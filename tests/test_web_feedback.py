"""The feedback blueprint via Flask's test client: possible list, promote, dismiss, miss form."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from test_feedback import FLAT_STORY, site  # noqa: F401 - the sample-site fixture
from test_review_factory import XSS_TITLE, add_article, add_match, add_source

from crawler.config import Settings
from crawler.review.web import create_app
from crawler.sample_site.server import SampleSite
from crawler.storage.db import Database
from crawler.storage.models import Alert, Match


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    try:
        yield database
    finally:
        database.dispose()


def _settings(server: SampleSite | None = None) -> Settings:
    sources = []
    if server is not None:  # the operator allowed the loopback sample site for one source
        sources = [
            {"name": "sample", "kind": "feed", "urls": [f"{server.base_url}/feed.xml"],
             "allow_private_hosts": ["127.0.0.1"]}
        ]  # fmt: skip
    return Settings.model_validate({"sources": sources})


def _token(client: FlaskClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(True))
    assert found
    return found.group(1)


def test_possible_page_lists_promotes_and_dismisses(db: Database) -> None:
    with db.session() as s:
        source = add_source(s, "metro")
        hostile = add_article(s, source, XSS_TITLE)
        calm = add_article(s, source, "A quiet council meeting")
        first = add_match(s, hostile, "courthouse_arrest", state="possible", score=0.6).id
        second = add_match(s, calm, "sanctuary_dispute", state="possible", score=0.5).id
        add_match(s, calm, "courthouse_arrest")  # matched: not on this page
    client = create_app(db, Settings()).test_client()
    html = client.get("/possible").get_data(True)
    assert "2 near misses waiting" in html
    assert XSS_TITLE not in html and "&lt;script&gt;" in html
    token = _token(client, "/possible")
    missing = client.post(f"/possible/{first}/promote", data={"alert": "1"})
    assert missing.status_code == 400  # no CSRF token
    done = client.post(
        f"/possible/{first}/promote",
        data={"csrf_token": token, "alert": "1", "reviewer": "web-rita"},
    )
    assert done.status_code == 303
    client.post(f"/possible/{second}/dismiss", data={"csrf_token": token, "reviewer": "web-rita"})
    assert "No possible matches waiting" in client.get("/possible").get_data(True)
    with db.session() as s:
        a, b = s.get(Match, first), s.get(Match, second)
        assert a is not None and b is not None
        assert (a.state, a.review_status, b.state, b.review_status) == (
            "matched", "relevant", "possible", "irrelevant",
        )  # fmt: skip
        assert [r.match_id for r in s.scalars(select(Alert))] == [first]


def test_miss_form_fetches_explains_and_records(db: Database, site: SampleSite) -> None:  # noqa: F811
    url = next(a.url for a in site.articles() if a.slug == FLAT_STORY["slug"])
    client = create_app(db, _settings(site)).test_client()
    token = _token(client, "/missed")
    form = {"csrf_token": token, "url": url, "topic": "sanctuary_dispute", "reviewer": "web-rita"}
    page = client.post("/missed", data=form)
    html = page.get_data(True)
    assert page.status_code == 200, html
    assert "Why it did not match" in html and "do not match it" in html
    with db.session() as s:
        [match] = s.scalars(select(Match)).all()
        assert (match.state, match.review_status, match.reviewed_by) == (
            "missed", "relevant", "web-rita",
        )  # fmt: skip


def test_miss_form_refuses_private_addresses_not_allowed(db: Database, site: SampleSite) -> None:  # noqa: F811
    url = next(a.url for a in site.articles() if a.slug == FLAT_STORY["slug"])
    client = create_app(db, _settings()).test_client()
    token = _token(client, "/missed")
    page = client.post(
        "/missed", data={"csrf_token": token, "url": url, "topic": "sanctuary_dispute"}
    )
    assert page.status_code == 400
    assert "non-public address" in page.get_data(True)
    with db.session() as s:
        assert s.scalars(select(Match)).all() == []
