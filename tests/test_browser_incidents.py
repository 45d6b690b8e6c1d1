"""The incident tracker in a real headless Chromium: list, filter, map, one incident's timeline,
a split; screenshots in test-artifacts/ (incidents-list.png, incidents-map.png,
incident-timeline.png). Same set-up as tests/test_browser.py (Debian's chromium, Playwright).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_browser import browser, db, live_url  # noqa: F401 - the shared browser fixtures
from test_incidents_storage import store

from crawler.incidents.evaluate import load_incident_items
from crawler.storage.db import Database
from crawler.storage.models_incidents import IncidentArticle

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
LABELLED = REPO / "tests" / "fixtures" / "labelled" / "incidents.jsonl"


def populate(database: Database) -> None:
    """Every labelled article, stored and linked in publication order."""
    items = sorted(load_incident_items(LABELLED), key=lambda i: i.published)
    for item in items:
        url = f"https://news.test/{item.id}"
        store(database, url, item.title, item.text, item.published, item.kind)


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def test_incident_tracker_in_a_real_browser(
    browser: Any,  # noqa: F811
    live_url: str,  # noqa: F811
    db: Database,  # noqa: F811
) -> None:
    populate(db)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{live_url}/incidents")
    assert page.locator("nav a[aria-current=page]").inner_text() == "Incidents"
    total = page.locator("table.incident-list tbody tr").count()
    assert total >= 20
    shot(page, "incidents-list.png")

    page.select_option("select[name=state]", "Wisconsin")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/incidents?*state=Wisconsin*")
    rows = page.locator("table.incident-list tbody tr")
    assert rows.count() == 1 and "Dane County Circuit Court" in rows.first.inner_text()

    page.goto(f"{live_url}/incidents/map")
    tile = page.locator('svg.state-map a[aria-label^="New York:"]')
    assert tile.count() == 1
    shot(page, "incidents-map.png")
    tile.click()
    page.wait_for_url("**/incidents?state=New%20York")
    assert page.locator("table.incident-list tbody tr").count() >= 3

    page.goto(f"{live_url}/incidents?state=Wisconsin")
    page.locator("table.incident-list tbody tr td a").last.click()
    page.wait_for_url("**/incidents/*")
    steps = page.locator("ol.timeline-list li .dev").all_inner_texts()
    assert [s.lower() for s in steps] == ["arrest", "charge", "charge", "resignation", "trial",
                                           "ruling"]  # fmt: skip
    assert "Benítez" not in page.locator("article.detail").inner_text()  # redacted
    shot(page, "incident-timeline.png")

    page.get_by_role("button", name="Split into its own incident").last.click()
    page.wait_for_selector("p.flash")
    assert "now forms incident" in page.locator("p.flash").inner_text()
    with db.session() as s:
        assert s.query(IncidentArticle).filter_by(decided_by="person").count() == 1
    assert problems == []  # no script errors and no Content-Security-Policy violations
