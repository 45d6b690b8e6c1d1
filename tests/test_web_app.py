"""The review web page's views through Flask's test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from test_review_factory import Sample, add_article, add_match, page

from crawler.review.web.charts import nice_ceiling, timeline_svg
from crawler.review.web.dashboards import Timeline
from crawler.storage.db import Database
from crawler.storage.models import Match, Review


def match_ids(html: str) -> set[int]:
    return {int(x) for x in re.findall(r'href="/matches/(\d+)"', html)}


def csrf(client: FlaskClient, match_id: int) -> str:
    html = page(client, f"/matches/{match_id}")
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_list_shows_every_match(client: FlaskClient, sample: Sample) -> None:
    html = page(client, "/matches")
    assert "6 matches" in html
    assert match_ids(html) == {sample.m1, sample.m2, sample.m3, sample.m4, sample.m5, sample.m6}
    assert "<mark>ICE officers</mark> waited outside <mark>courtroom</mark> 4B." in html
    assert '<option value="courthouse_arrests">Courthouse arrests</option>' in html
    assert '<option value="county-wire">county-wire</option>' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("topic=sanctuary_policy", {"m2", "m4"}),
        ("status=irrelevant", {"m6"}),
        ("source=county-wire", {"m3"}),
        ("since=24h", {"m1", "m2"}),
        ("since=14d&until=2d", {"m3", "m4"}),
        ("min_score=0.75", {"m1", "m4"}),
        ("q=hennepin", {"m1", "m2"}),
        ("q=Ordinance&topic=sanctuary_policy", {"m4"}),
        ("q=nothing+like+this", set()),
    ],
)
def test_list_filters(client: FlaskClient, sample: Sample, query: str, expected: set[str]) -> None:
    html = page(client, f"/matches?{query}")
    assert match_ids(html) == {getattr(sample, name) for name in expected}


def test_list_keeps_the_form_values(client: FlaskClient, sample: Sample) -> None:
    html = page(client, "/matches?topic=sanctuary_policy&status=relevant&q=council&since=30d")
    assert '<option value="sanctuary_policy" selected>' in html
    assert '<option value="relevant" selected>' in html
    assert 'value="council"' in html and 'value="30d"' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=yesterday-ish", "is not a date"),
        ("until=31/12/2024", "is not a date"),
        ("min_score=high", "is not a number"),
        ("status=maybe", "status must be one of"),
    ],
)
def test_list_reports_bad_filters(
    client: FlaskClient, sample: Sample, query: str, message: str
) -> None:
    html = page(client, f"/matches?{query}", status=400)
    assert message in html
    assert 'aria-invalid="true"' in html or "status" in query


def test_list_pages(client: FlaskClient, sample: Sample) -> None:
    first = page(client, "/matches?limit=25&topic=courthouse_arrests")
    assert "4 matches" in first and "page 1" not in first
    with_pages = page(client, "/matches?limit=1&topic=courthouse_arrests&page=2")
    assert "page 2 of 4" in with_pages
    assert match_ids(with_pages) == {sample.m5}  # newest published first
    assert 'href="/matches?page=1&amp;limit=1&amp;topic=courthouse_arrests"' in with_pages
    assert 'href="/matches?page=3&amp;limit=1&amp;topic=courthouse_arrests"' in with_pages


def test_detail_shows_everything(client: FlaskClient, sample: Sample) -> None:
    html = page(client, f"/matches/{sample.m1}")
    assert "<h1><mark>Agents</mark> arrest man at county courthouse</h1>" in html  # title span
    assert '<blockquote class="snippet"><mark>ICE officers</mark> waited outside' in html
    # the article text is highlighted from the explanation's spans
    assert "witnesses said. <mark>ICE officers</mark> waited outside courtroom 4B." in html
    for text in (
        "Hennepin County courthouse",
        "Mary Moriarty",
        "ice_agency",
        "keywords",
        "Dana Reporter",
        "Courthouse arrest draws protest",  # cluster sibling
        "1700000000.000100",  # the sent alert
        "The county attorney said the arrest disrupted a hearing.",
    ):
        assert text in html, text
    assert f'href="/matches/{sample.m2}">Sanctuary policy</a>' in html  # other topic
    assert re.search(r'<a class="external" href="https://news\.example/\w+"', html)
    assert "Next unreviewed" in html
    for label in ("relevant", "irrelevant", "duplicate"):
        assert f'name="label" value="{label}"' in html


def test_detail_of_an_unknown_match_is_404(client: FlaskClient, sample: Sample) -> None:
    html = page(client, "/matches/424242", status=404)
    assert "there is no match 424242" in html


def test_label_button_records_the_review(
    client: FlaskClient, sample: Sample, database: Database
) -> None:
    token = csrf(client, sample.m3)
    response = client.post(
        f"/matches/{sample.m3}/label",
        data={"csrf_token": token, "label": "relevant", "note": "good catch", "reviewer": "fay"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/matches/{sample.m3}")
    with database.session() as s:
        match = s.get(Match, sample.m3)
        assert match is not None
        assert (match.review_status, match.reviewed_by, match.review_note) == (
            "relevant",
            "fay",
            "good catch",
        )
        assert [r.label for r in s.query(Review).filter_by(match_id=sample.m3)] == ["relevant"]
    html = page(client, f"/matches/{sample.m3}")
    assert "labelled relevant by fay" in html
    assert 'name="reviewer" value="fay"' in html  # remembered for the next label
    assert '<span class="badge status-relevant" id="review-status">relevant</span>' in html


def test_label_rejects_bad_label_and_unknown_match(
    client: FlaskClient, sample: Sample, database: Database
) -> None:
    token = csrf(client, sample.m1)
    bad = client.post(f"/matches/{sample.m1}/label", data={"csrf_token": token, "label": "meh"})
    assert bad.status_code == 400
    missing = client.post("/matches/99999/label", data={"csrf_token": token, "label": "relevant"})
    assert missing.status_code == 404
    with database.session() as s:
        assert s.query(Review).count() == 0


def test_label_without_a_name_uses_env_or_web(
    client: FlaskClient, sample: Sample, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = csrf(client, sample.m1)
    client.post(f"/matches/{sample.m1}/label", data={"csrf_token": token, "label": "duplicate"})
    monkeypatch.setenv("NEWSWATCH_REVIEWER", "gus")
    other = client.application.test_client()
    token = csrf(other, sample.m2)
    other.post(f"/matches/{sample.m2}/label", data={"csrf_token": token, "label": "relevant"})
    with database.session() as s:
        assert s.get(Match, sample.m1).reviewed_by == "web"  # type: ignore[union-attr]
        assert s.get(Match, sample.m2).reviewed_by == "gus"  # type: ignore[union-attr]


def test_timeline_draws_bars_per_day_and_topic(client: FlaskClient, sample: Sample) -> None:
    html = page(client, "/timeline?days=30")
    assert "<svg" in html and "Matches per day per topic" in html
    today = datetime.now(UTC).date()
    assert f"{today.isoformat()} · Courthouse arrests: 1" in html
    assert f"{today.isoformat()} · Sanctuary policy: 1" in html
    assert html.count('<rect class="series-') == 6 + 2  # 6 bars + 2 legend swatches
    assert 'Courthouse arrests</a> <span class="muted">(4)</span>' in html
    short = page(client, "/timeline?days=7&topic=sanctuary_policy")
    assert "Sanctuary policy: 1" in short and "Courthouse arrests:" not in short


def test_timeline_escapes_topic_labels(database: Database, client: FlaskClient) -> None:
    with database.session() as s:
        article = add_article(s, None, "plain")
        add_match(s, article, "odd", topic_label='<b onmouseover="x()">Odd</b>')
    html = page(client, "/timeline")
    assert "<b onmouseover" not in html
    assert "&lt;b onmouseover=&#34;x()&#34;&gt;Odd&lt;/b&gt;" in html


def test_timeline_svg_scales_and_escapes() -> None:
    day = datetime(2025, 1, 2, tzinfo=UTC).date()
    data = Timeline(
        days=[day - timedelta(days=1), day], topics=[("t", "<T&>")], counts={(day, "t"): 7}
    )
    svg = str(timeline_svg(data))
    assert "2025-01-02 · &lt;T&amp;&gt;: 7" in svg
    assert ">10</text>" in svg  # the axis tops out at a round number
    assert [nice_ceiling(n) for n in (0, 1, 2, 3, 7, 10, 11, 260)] == [1, 1, 2, 5, 10, 10, 20, 500]


def test_sources_shows_health_and_runs(client: FlaskClient, sample: Sample) -> None:
    html = page(client, "/sources")
    assert html.index("county-wire") < html.index("metro-times")  # failing first
    assert "http_403" in html and "403 Forbidden from county.example" in html
    assert '<dd class="bad">3</dd>' in html
    assert html.count('<span class="badge run-failed"') == 2
    assert html.count('<span class="badge run-ok"') == 2
    assert "42 s" in html


def test_empty_database_pages_render(client: FlaskClient) -> None:
    assert "No matches with these filters." in page(client, "/matches")
    assert "No sources yet" in page(client, "/")
    assert "No matches in the last 30 days." in page(client, "/timeline")
    assert "No source has been crawled yet." in page(client, "/sources")


def test_match_list_dates_by_publication_or_found(client: FlaskClient, sample: Sample) -> None:
    published = page(client, "/matches?since=11d&until=2d")
    found = page(client, "/matches?since=11d&until=2d&by=found")
    assert match_ids(published) == {sample.m3} and match_ids(found) == {sample.m3, sample.m4}
    assert "(first seen)" in published  # a2 has no publication time
    assert "found " in found and '<option value="found" selected>' in found
