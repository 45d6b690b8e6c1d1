"""End to end in a real headless Chromium: the story list, labelling, the next story, exports.

Uses Debian's /usr/bin/chromium through the Playwright Python client (never a downloaded
browser) and leaves screenshots in test-artifacts/ (review-stories.png, review-story.png,
review-page.png).
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_review_factory import Sample, add_article, add_match, add_source, now, populate
from werkzeug.serving import WSGIRequestHandler, make_server

from crawler.config import Settings
from crawler.review.web import create_app
from crawler.storage.db import Database
from crawler.storage.models import Match, Review

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
SCREENSHOT = ARTIFACTS / "review-page.png"
LIST_SHOT = ARTIFACTS / "review-stories.png"
STORY_SHOT = ARTIFACTS / "review-story.png"
# (title, outlet, place, topic, score, hours since publication, language)
MORE_STORIES = [
    (
        "Sheriff ends jail deal with immigration agency",
        "Valley Ledger",
        "Hennepin County",
        "sanctuary_policy",
        1.6,
        5,
        "en",
    ),
    (
        "Judge bars arrests at Minneapolis courthouse doors",
        "Star Courier",
        "Minneapolis",
        "courthouse_arrests",
        1.9,
        7,
        "en",
    ),
    (
        "Detienen a un hombre frente al juzgado de Phoenix",
        "La Voz",
        "Phoenix",
        "courthouse_arrests",
        1.3,
        9,
        "es",
    ),
    (
        "County board votes on detainer requests",
        "Metro Times",
        "Texas",
        "sanctuary_policy",
        1.1,
        26,
        "en",
    ),
    (
        '=HYPERLINK("http://evil.example","click") courthouse',
        "Metro Times",
        "Denver",
        "courthouse_arrests",
        1.2,
        30,
        "en",
    ),
    (
        "Lawyers describe hallway arrests in St. Paul",
        "Twin Cities Wire",
        "Saint Paul",
        "courthouse_arrests",
        1.4,
        50,
        "en",
    ),
]
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


def populate_more(db: Database) -> Sample:
    """The standard sample plus six one-article stories in several places and languages."""
    sample = populate(db)
    t = now()
    with db.session() as s:
        wire = add_source(s, "regional-wire", health_status="ok")
        for title, outlet, place, topic, score, hours, lang in MORE_STORIES:
            article = add_article(
                s, wire, title, site_name=outlet, language=lang,
                published_at=t - timedelta(hours=hours), first_seen_at=t - timedelta(hours=hours),
                text=f"{title}. Reporters followed the case for weeks.",
            )  # fmt: skip
            add_match(
                s, article, topic, score=score, created_at=t - timedelta(hours=hours),
                entities={"place": [place], "agency": ["ICE"]},
            )  # fmt: skip
    return sample


def test_stories_in_a_real_browser(browser: Any, live_url: str, db: Database) -> None:
    sample = populate_more(db)
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{live_url}/")
    cards = page.locator("li.story")
    assert cards.count() == 10  # 11 articles, two of them one story
    # the compact bar leaves at least five whole stories on the first screen at 1400x1000
    fifth = cards.nth(4).bounding_box()
    assert fifth is not None and fifth["y"] + fifth["height"] <= 1000, fifth
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(LIST_SHOT))
    # newest published first; the two-outlet story is dated by its earliest copy (first seen
    # three days ago, no publication time), so it comes after the last two days
    titles = page.locator("li.story h2 a:not(.original)").all_inner_texts()
    assert titles[0] == "Sheriff ends jail deal with immigration agency"
    story = cards.nth(7)
    assert story.locator("h2 a").first.inner_text() == "Courthouse arrest draws protest"
    assert story.locator(".outlets").inner_text() == "County Wire, Metro Times"
    assert "(first seen)" in story.locator("time").inner_text()
    assert [" ".join(t.split()) for t in story.locator(".chip").all_inner_texts()] == [
        "Courthouse arrests 0.91",
        "Sanctuary policy 0.55",
    ]
    assert cards.locator("a.original").count() == 9  # every card but the javascript: one

    # filter by place and topic
    page.select_option("select[name=place]", "Minneapolis")
    page.select_option("select[name=topic]", "courthouse_arrests")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/?*place=Minneapolis*")
    titles = page.locator("li.story h2 a:not(.original)").all_inner_texts()
    assert titles == [
        "Judge bars arrests at Minneapolis courthouse doors",
        "Courthouse arrest draws protest",
    ]

    # label the first story's topic from the list: one click, then the next unreviewed one
    page.get_by_role(
        "button",
        name="Relevant: Courthouse arrests — Judge bars arrests at Minneapolis courthouse doors",
        exact=True,
    ).click()
    page.wait_for_selector("p.next-banner")
    assert "labelled relevant for courthouse_arrests" in page.locator("p.flash").inner_text()
    page.get_by_role("link", name="Open the next unreviewed story →").click()
    page.wait_for_url(f"**/stories/c{sample.cluster}?*")
    assert page.locator("h1").inner_text() == "Courthouse arrest draws protest"
    # label its courthouse topic on the story page: both copies get it, the other topic not
    page.get_by_label("Your name").first.fill("paralegal")
    page.get_by_role("button", name="Relevant: Courthouse arrests", exact=True).click()
    page.wait_for_selector("p.flash")
    with db.session() as s:
        labelled = {m.id: (m.review_status, m.reviewed_by) for m in s.scalars(select(Match))}
    assert labelled[sample.m1] == labelled[sample.m3] == ("relevant", "paralegal")
    assert labelled[sample.m2] == ("unreviewed", None)
    page.goto(f"{live_url}/stories/c{sample.cluster}")
    assert page.locator("#status-courthouse_arrests").inner_text() == "relevant"
    page.screenshot(path=str(STORY_SHOT), full_page=True)

    # export what the list shows as CSV
    page.goto(f"{live_url}/?topic=courthouse_arrests")
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV").click()
    body = Path(info.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert (
        len(rows) == 7 and rows[0]["title"] == "Judge bars arrests at Minneapolis courthouse doors"
    )
    hostile = next(r for r in rows if "HYPERLINK" in r["title"])
    assert hostile["title"].startswith("'=")  # a spreadsheet shows it as text
    assert LIST_SHOT.stat().st_size > 10_000 and STORY_SHOT.stat().st_size > 10_000
    assert problems == []


def test_review_in_a_real_browser(browser: Any, live_url: str, db: Database) -> None:
    sample: Sample = populate(db)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{live_url}/matches")
    assert page.locator("li.match").count() == 6
    assert page.locator("p.count").inner_text() == "6 matches"

    page.select_option("select[name=topic]", "courthouse_arrests")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/matches?*topic=courthouse_arrests*")
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
