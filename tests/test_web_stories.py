"""The story list, story pages, labelling from the list and the exports (Flask test client)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from flask import Blueprint
from flask.testing import FlaskClient
from test_review_factory import Sample, add_article, add_match, page

from crawler.config import Settings
from crawler.review.web import NavEntry, create_app
from crawler.storage.db import Database
from crawler.storage.models import Match, Review, Source


def story_keys(html: str) -> list[str]:
    return re.findall(r'<li class="story[^"]*" id="story-([ca]\d+)"', html)


def csrf(client: FlaskClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page(client, "/"))
    assert found is not None
    return found.group(1)


def test_one_card_per_story_newest_published_first(client: FlaskClient, sample: Sample) -> None:
    html = page(client, "/")
    # a1 and a2 are one story, dated by its earliest copy (a2, first seen 3 days ago)
    assert story_keys(html) == [
        f"a{sample.a4}", f"c{sample.cluster}", f"a{sample.a3}", f"a{sample.a5}"
    ]  # fmt: skip
    assert "4 stories" in html and "(first seen)" in html
    assert "County Wire, Metro Times" in html  # both outlets on one card
    assert "1 more copy of this story" in html
    card = html[html.index(f'id="story-c{sample.cluster}"') :]
    card = card[: card.index("</li>\n  <li") if "</li>\n  <li" in card else None]
    assert "Courthouse arrests <b>0.91</b>" in card and "Sanctuary policy <b>0.55</b>" in card
    assert "Minneapolis" in card and "Hennepin County courthouse" in card
    assert 'class="original"' in card


def test_sort_by_score(client: FlaskClient, sample: Sample) -> None:
    keys = story_keys(page(client, "/?sort=score"))
    assert keys[0] == f"c{sample.cluster}"  # best score 0.91


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("place=Minneapolis", {"cluster"}),
        ("topic=sanctuary_policy", {"cluster", "a3"}),
        ("status=unreviewed", {"cluster", "a4"}),
        ("status=relevant", {"a3"}),
        ("language=es", {"a3"}),
        ("source=county-wire", {"cluster"}),
        ("source=Metro+Times", {"cluster", "a3", "a4", "a5"}),
        # a story is in a date range when one of its articles was published in it
        ("since=2d", {"cluster", "a4"}),
        ("until=2d", {"cluster", "a3", "a5"}),  # a2: no publication time, first seen 3 days ago
        ("since=11d&until=2d", {"cluster"}),  # a3 was published 12 days ago ...
        ("since=11d&until=2d&by=found", {"cluster", "a3"}),  # ... and found 10 days ago
        ("q=ordinance", {"a3"}),
    ],
)
def test_story_filters(client: FlaskClient, sample: Sample, query: str, expected: set[str]) -> None:
    names = {
        f"c{sample.cluster}": "cluster",
        f"a{sample.a3}": "a3",
        f"a{sample.a4}": "a4",
        f"a{sample.a5}": "a5",
    }
    assert {names[k] for k in story_keys(page(client, f"/?{query}"))} == expected


def test_place_filter_offers_places_by_kind(database: Database, client: FlaskClient) -> None:
    with database.session() as s:
        for place in ("Texas", "Travis County", "Austin"):
            add_match(s, add_article(s, None, f"In {place}"), "t", entities={"place": [place]})
    html = page(client, "/")
    assert html.index('<optgroup label="States">') < html.index('value="Texas"')
    assert html.index('<optgroup label="Counties">') < html.index('value="Travis County"')
    assert html.index('<optgroup label="Cities">') < html.index('value="Austin"')
    assert len(story_keys(page(client, "/?place=Travis+County"))) == 1


def test_label_from_the_list_labels_the_topic_on_every_copy(
    client: FlaskClient, sample: Sample, database: Database
) -> None:
    token = csrf(client)
    response = client.post(
        f"/stories/c{sample.cluster}/label",
        data={
            "csrf_token": token, "topic": "courthouse_arrests", "label": "relevant",
            "reviewer": "pat", "from": "list", "f_status": "unreviewed",
        },
    )  # fmt: skip
    assert response.status_code == 303
    # back to the same filter, pointing at the next unreviewed story
    assert response.location.endswith(f"next=a{sample.a4}#story-a{sample.a4}")
    assert "status=unreviewed" in response.location
    with database.session() as s:
        statuses = {m.id: (m.review_status, m.reviewed_by) for m in s.query(Match)}
        assert s.query(Review).count() == 2
    assert statuses[sample.m1] == statuses[sample.m3] == ("relevant", "pat")
    assert statuses[sample.m2] == ("unreviewed", None)  # the other topic is not touched
    html = page(client, response.location)
    assert "Open the next unreviewed story" in html and "Story labelled relevant" in html


def test_label_on_the_story_page_opens_the_next_story(client: FlaskClient, sample: Sample) -> None:
    token = csrf(client)
    response = client.post(
        f"/stories/a{sample.a4}/label",
        data={"csrf_token": token, "topic": "courthouse_arrests", "label": "irrelevant",
              "from": "story"},
    )  # fmt: skip
    assert response.status_code == 303
    assert f"/stories/c{sample.cluster}" in response.location


def test_label_rejects_bad_input(client: FlaskClient, sample: Sample) -> None:
    token = csrf(client)
    key = f"c{sample.cluster}"
    data = {"csrf_token": token, "topic": "courthouse_arrests", "label": "maybe"}
    assert client.post(f"/stories/{key}/label", data=data).status_code == 400
    data = {"csrf_token": token, "topic": "no_such_topic", "label": "relevant"}
    assert client.post(f"/stories/{key}/label", data=data).status_code == 404
    data = {"csrf_token": token, "topic": "courthouse_arrests", "label": "relevant"}
    assert client.post("/stories/x1/label", data=data).status_code == 404
    no_token = {"topic": "courthouse_arrests", "label": "relevant"}
    assert client.post(f"/stories/{key}/label", data=no_token).status_code in (400, 403)


def test_story_page_explains_in_words_with_ids_in_details(
    client: FlaskClient, sample: Sample
) -> None:
    html = page(client, f"/stories/c{sample.cluster}")
    assert "Why it matched" in html and "<li>ice agency</li>" in html
    details = html[html.index('<details class="fold">') :]
    assert "<code>ice_agency</code>" in details and "Offsets" in details
    assert "Read the original at County Wire" in html
    assert page(client, "/stories/c999999", status=404)
    assert page(client, "/stories/zz", status=404)


def test_exports_follow_the_filter_and_defuse_formulas(
    database: Database, client: FlaskClient, sample: Sample
) -> None:
    with database.session() as s:
        add_match(
            s, add_article(s, None, '=HYPERLINK("http://evil.example")'), "courthouse_arrests"
        )
    response = client.get("/stories.csv?topic=courthouse_arrests")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 4
    assert next(r for r in rows if "HYPERLINK" in r["title"])["title"].startswith("'=")
    cluster = next(r for r in rows if r["story"] == f"c{sample.cluster}")
    assert cluster["outlets"] == "County Wire; Metro Times"
    assert "Courthouse arrests 0.91 (unreviewed)" in cluster["topics"]
    lines = client.get("/stories.jsonl?place=Minneapolis").get_data(as_text=True).splitlines()
    [story] = [json.loads(line) for line in lines]
    assert story["story"] == f"c{sample.cluster}" and story["places"] == ["Minneapolis"]
    assert client.get("/stories.csv?since=nonsense").status_code == 400


def test_empty_state_says_why(database: Database, client: FlaskClient, sample: Sample) -> None:
    with database.session() as s:
        for source in s.query(Source):
            source.health_status = "failing"
        s.query(Match).update({Match.state: "possible"})
    html = page(client, "/")
    assert "Every source is failing" in html and 'href="/sources"' in html


def test_empty_state_when_everything_is_reviewed(
    database: Database, client: FlaskClient, sample: Sample
) -> None:
    with database.session() as s:
        s.query(Match).update({Match.review_status: "relevant"})
    assert "All caught up" in page(client, "/?status=unreviewed")
    assert "No stories with these filters." in page(client, "/?q=nothing-like-this")


def test_other_pages_add_their_navigation(database: Database) -> None:
    extra = Blueprint("extra", __name__)

    @extra.get("/possible")
    def possible() -> str:
        return "possible matches"

    app = create_app(
        database, Settings(), blueprints=[(extra, [NavEntry("Possible", "extra.possible", 25)])]
    )
    html = app.test_client().get("/").get_data(as_text=True)
    nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
    links = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav)
    hrefs = [href for href, _label in links]
    assert links[:2] == [("/", "Stories"), ("/matches", "Matches")]
    # the extra entry (order 25) sits between the built-in Matches (20) and Timeline (30)
    assert hrefs.index("/matches") < hrefs.index("/possible") < hrefs.index("/timeline")
    assert app.test_client().get("/possible").get_data(as_text=True) == "possible matches"


def test_found_time_is_an_explicit_option(client: FlaskClient, sample: Sample) -> None:
    published = page(client, "/?since=11d&until=2d")
    found = page(client, "/?since=11d&until=2d&by=found")
    assert f"story-a{sample.a3}" not in published and f"story-a{sample.a3}" in found
    assert '<input type="hidden" name="by" value="found">' in found
    assert ">Found" in found and "time found</a>" in found
