"""In a real headless Chromium: report a missed story through the web form, see why it missed.

Same set-up as tests/test_browser.py (Debian's /usr/bin/chromium through Playwright; skips
saying what is missing); the story comes from the loopback sample site, which the configured
source explicitly allows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from test_browser import QuietHandler, browser  # noqa: F401 - the browser fixture
from test_feedback import FLAT_STORY, site  # noqa: F401 - the sample-site fixture
from werkzeug.serving import make_server

from crawler.config import Settings
from crawler.review.web import create_app
from crawler.sample_site.server import SampleSite
from crawler.storage.db import Database
from crawler.storage.models import Match, Review

pytestmark = pytest.mark.browser


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def live(db: Database, site: SampleSite) -> Iterator[str]:  # noqa: F811
    settings = Settings.model_validate(
        {"sources": [{"name": "sample", "kind": "feed", "urls": [f"{site.base_url}/feed.xml"],
                      "allow_private_hosts": ["127.0.0.1"]}]}
    )  # fmt: skip
    app = create_app(db, settings)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="review-web", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_report_a_miss_through_the_web_form(
    browser: Any,  # noqa: F811
    live: str,
    db: Database,
    site: SampleSite,  # noqa: F811
) -> None:
    url = next(a.url for a in site.articles() if a.slug == FLAT_STORY["slug"])
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{live}/")
    page.get_by_role("link", name="Report a miss").click()
    page.wait_for_url("**/missed")
    page.get_by_label("Story address").fill(url)
    page.select_option("select[name=topic]", "sanctuary_dispute")
    page.get_by_label("Your name").fill("browser-rita")
    page.get_by_label("Note").fill("a flat statement of the policy")
    page.get_by_role("button", name="Report the miss").click()
    page.wait_for_selector("#missed-result")
    result = page.locator("#missed-result").inner_text()
    assert FLAT_STORY["title"] in result and "do not match it" in result
    assert page.locator("#missed-result tbody tr").count() >= 1

    with db.session() as s:
        [match] = s.scalars(select(Match)).all()
        assert (match.state, match.topic, match.review_status) == (
            "missed", "sanctuary_dispute", "relevant",
        )  # fmt: skip
        [review] = s.scalars(select(Review)).all()
        assert (review.reviewer, review.note) == ("browser-rita", "a flat statement of the policy")
    assert problems == []
