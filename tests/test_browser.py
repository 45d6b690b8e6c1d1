"""End to end in a real headless Chromium: filter, open a match, label it, see the database change.

Uses Debian's /usr/bin/chromium through the Playwright Python client (never a downloaded
browser) and leaves a screenshot in test-artifacts/review-page.png.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_review_factory import Sample, populate
from werkzeug.serving import WSGIRequestHandler, make_server

from crawler.config import Settings
from crawler.review.web import create_app
from crawler.storage.db import Database
from crawler.storage.models import Match, Review

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "test-artifacts" / "review-page.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the per-request log line."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, or skip saying what is missing."""
    if not CHROMIUM.is_file():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"the playwright Python package is not installed: {exc}")
    try:
        playwright = sync_playwright().start()
    except Exception as exc:  # the bundled node driver could not start
        pytest.skip(f"the playwright driver cannot start: {exc}")
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except Exception as exc:
        playwright.stop()
        pytest.skip(f"{CHROMIUM} cannot be launched by playwright: {str(exc).splitlines()[0]}")
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def live_url(db: Database) -> Iterator[str]:
    """The real review app served on a free loopback port from a thread."""
    app = create_app(db, Settings())
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="review-web", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_review_in_a_real_browser(browser: Any, live_url: str, db: Database) -> None:
    sample: Sample = populate(db)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{live_url}/")
    assert page.locator("li.match").count() == 6
    assert page.locator("p.count").inner_text() == "6 matches"

    page.select_option("select[name=topic]", "courthouse_arrests")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/?*topic=courthouse_arrests*")
    assert page.locator("li.match").count() == 4

    page.get_by_role("link", name="Agents arrest man at county courthouse").click()
    page.wait_for_url(f"**/matches/{sample.m1}")
    assert page.locator("#review-status").inner_text() == "unreviewed"
    assert page.locator("blockquote.snippet mark").all_inner_texts() == [
        "ICE officers",
        "courtroom",
    ]

    page.get_by_label("Your name").fill("browser-test")
    page.get_by_label("Note").fill("seen in chromium")
    page.get_by_role("button", name="Relevant", exact=True).click()
    page.wait_for_selector("p.flash")
    assert "labelled relevant by browser-test" in page.locator("p.flash").inner_text()
    assert page.locator("#review-status").inner_text() == "relevant"

    with db.session() as s:
        match = s.get(Match, sample.m1)
        assert match is not None
        assert (match.review_status, match.reviewed_by, match.review_note) == (
            "relevant",
            "browser-test",
            "seen in chromium",
        )
        assert s.query(Review).filter_by(match_id=sample.m1).count() == 1

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
    assert problems == []  # no script errors and no Content-Security-Policy violations
