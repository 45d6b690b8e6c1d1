"""Test data for the review tests: sources, articles, matches, alerts and runs inserted directly.

The other review/web test modules import `populate` from here; the tests at the bottom check
the factory itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.storage.db import Database
from crawler.storage.models import (
    Alert,
    Article,
    CrawlRun,
    Match,
    Source,
    StoryCluster,
)

XSS_TITLE = "<script>alert(1)</script>"
XSS_URL = "javascript:alert(2)"
XSS_SNIPPET = '<img src=x onerror="alert(3)"> ICE agents waited'

A1_TEXT = (
    "Federal immigration agents arrested a man inside the Hennepin County courthouse on "
    "Tuesday, witnesses said. ICE officers waited outside courtroom 4B.\n\n"
    "The county attorney said the arrest disrupted a hearing."
)


def page(client: Any, url: str, status: int = 200) -> str:
    """GET `url` with a Flask test client and return the body, asserting the status."""
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    text: str = response.get_data(as_text=True)
    return text


def now() -> datetime:
    """The current time in UTC (the sample rows are placed relative to it)."""
    return datetime.now(UTC)


def add_source(session: Any, name: str, **fields: Any) -> Source:
    """A source row (kind feed, healthy) with any field overridden."""
    values: dict[str, Any] = {"kind": "feed", "url": f"https://{name}.example/feed.xml"}
    values.update(fields)
    source = Source(name=name, **values)
    session.add(source)
    session.flush()
    return source


def add_article(session: Any, source: Source | None, title: str, **fields: Any) -> Article:
    """An extracted article row; the URL is derived from the title unless given."""
    slug = hashlib.sha1(title.encode()).hexdigest()[:10]
    url = fields.pop("url", f"https://news.example/{slug}")
    values: dict[str, Any] = {
        "url_hash": hashlib.sha1(url.encode()).hexdigest()[:16],
        "fetched_url": url,
        "status": "extracted",
        "text": f"{title}. Body text.",
        "site_name": source.name.replace("-", " ").title() if source else None,
    }
    values.update(fields)
    article = Article(url=url, title=title, source_id=source.id if source else None, **values)
    session.add(article)
    session.flush()
    return article


def explanation(topic: str, snippet: str, marks: list[list[int]], **extra: Any) -> dict[str, Any]:
    """A Match.explanation dict in the shape the matcher writes."""
    data: dict[str, Any] = {
        "topic": topic,
        "label": topic.replace("_", " ").capitalize(),
        "score": 0.9,
        "threshold": 0.5,
        "rules": ["ice_agency", "courthouse_place"],
        "near_misses": [],
        "spans": [],
        "snippet": snippet,
        "snippet_marks": marks,
        "score_parts": {"keywords": 0.6, "entities": 0.3},
        "entities": {},
        "pack_version": "test-1",
    }
    data.update(extra)
    return data


def span(start: int, end: int, text: str, group: str, field: str) -> dict[str, Any]:
    """One explanation span."""
    return {"start": start, "end": end, "text": text, "group": group, "field": field}


def add_match(session: Any, article: Article, topic: str, **fields: Any) -> Match:
    """A match row; `snippet` and `marks` build the explanation unless one is given."""
    snippet = fields.pop("snippet", f"{article.title} snippet")
    marks = fields.pop("marks", [])
    values: dict[str, Any] = {
        "topic_label": topic.replace("_", " ").capitalize(),
        "score": 0.8,
        "threshold": 0.5,
        "pack_version": "test-1",
        "snippet": snippet,
        "explanation": explanation(topic, snippet, marks),
        "entities": {},
    }
    values.update(fields)
    match = Match(article_id=article.id, topic=topic, **values)
    session.add(match)
    session.flush()
    return match


def add_alert(session: Any, match: Match, **fields: Any) -> Alert:
    """An outbox row for a match (pending unless overridden)."""
    values: dict[str, Any] = {
        "idempotency_key": f"alert:{match.id}:{fields.get('channel', '#newswatch')}",
        "channel": "#newswatch",
        "article_id": match.article_id,
        "topic": match.topic,
        "destination": "slack",
    }
    values.update(fields)
    alert = Alert(match_id=match.id, **values)
    session.add(alert)
    session.flush()
    return alert


@dataclass(frozen=True)
class Sample:
    """Ids of the standard sample rows."""

    a1: int  # courthouse story, metro source, matches two topics, alert sent
    a2: int  # same story from the county source (cluster sibling of a1)
    a3: int  # sanctuary council story, labelled relevant by alice
    a4: int  # hostile article: script title, javascript: URL, <img onerror> snippet
    a5: int  # "ice storm" article labelled irrelevant
    m1: int  # a1 courthouse_arrests 0.91, 2 h old
    m2: int  # a1 sanctuary_policy 0.55, 2 h old
    m3: int  # a2 courthouse_arrests 0.72, 3 days old, alert pending
    m4: int  # a3 sanctuary_policy 0.80, 10 days old, relevant
    m5: int  # a4 courthouse_arrests 0.60, 1 day old
    m6: int  # a5 courthouse_arrests 0.40, 20 days old, irrelevant
    cluster: int


def populate(db: Database) -> Sample:
    """Insert the standard sample: two sources, five articles, six matches, alerts and runs."""
    t = now()
    with db.session() as s:
        metro = add_source(
            s, "metro-times", health_status="ok", last_success_at=t - timedelta(minutes=20),
            last_new_article_at=t - timedelta(hours=2), last_run_at=t - timedelta(minutes=20),
        )  # fmt: skip
        county = add_source(
            s, "county-wire", kind="sitemap", health_status="failing", consecutive_failures=3,
            last_error_kind="http_403", last_error_message="403 Forbidden from county.example",
            last_success_at=t - timedelta(days=4), last_run_at=t - timedelta(minutes=15),
        )  # fmt: skip
        for i in range(2):
            s.add(CrawlRun(
                source_id=metro.id, status="ok", started_at=t - timedelta(hours=i + 1),
                finished_at=t - timedelta(hours=i + 1) + timedelta(seconds=42),
                pages_fetched=30, new_articles=3 - i, matched=1,
            ))  # fmt: skip
            s.add(CrawlRun(
                source_id=county.id, status="failed", started_at=t - timedelta(hours=i + 1),
                finished_at=t - timedelta(hours=i + 1) + timedelta(seconds=5),
                failed=1, message="HTTP 403",
            ))  # fmt: skip
        cluster = StoryCluster(title_key="courthouse arrest hennepin")
        s.add(cluster)
        s.flush()
        # Publication and first-seen times differ on purpose: filters must use the right one.
        a1 = add_article(
            s, metro, "Agents arrest man at county courthouse", text=A1_TEXT,
            published_at=t - timedelta(hours=3), cluster_id=cluster.id, author="Dana Reporter",
            language="en", first_seen_at=t - timedelta(hours=2),
        )  # fmt: skip
        a2 = add_article(
            s, county, "Courthouse arrest draws protest", cluster_id=cluster.id,
            text="Protesters gathered after the courthouse arrest.",
            first_seen_at=t - timedelta(days=3),  # no publication time: first seen counts
        )  # fmt: skip
        a3 = add_article(
            s, metro, "City council debates sanctuary ordinance", language="es",
            published_at=t - timedelta(days=12), first_seen_at=t - timedelta(days=10),
        )  # fmt: skip
        a4 = add_article(
            s, metro, XSS_TITLE, url=XSS_URL, text="<b>bold?</b> ICE agents waited.",
            published_at=t - timedelta(days=1, hours=1), first_seen_at=t - timedelta(days=1),
        )  # fmt: skip
        a5 = add_article(
            s, metro, "Ice storm closes courthouse early",
            published_at=t - timedelta(days=20), first_seen_at=t - timedelta(days=20),
        )  # fmt: skip
        snippet = "ICE officers waited outside courtroom 4B."
        start = A1_TEXT.index("ICE officers")
        m1 = add_match(
            s, a1, "courthouse_arrests", score=0.91, created_at=t - timedelta(hours=2),
            snippet=snippet, marks=[[0, 12], [28, 37]],
            entities={"agency": ["ICE"], "court": ["Hennepin County courthouse"],
                      "place": ["Minneapolis"], "official": [{"name": "Mary Moriarty"}]},
        )  # fmt: skip
        m1.explanation = {
            **m1.explanation,
            "spans": [
                span(start, start + 12, "ICE officers", "agency", "text"),
                span(0, 6, "Agents", "agency", "title"),
            ],
        }  # fmt: skip
        m2 = add_match(s, a1, "sanctuary_policy", score=0.55, created_at=t - timedelta(hours=2))
        m3 = add_match(
            s, a2, "courthouse_arrests", score=0.72, created_at=t - timedelta(days=3),
            snippet="Protesters gathered after the courthouse arrest.", marks=[[30, 40]],
        )  # fmt: skip
        m4 = add_match(
            s, a3, "sanctuary_policy", score=0.8, created_at=t - timedelta(days=10),
            review_status="relevant", reviewed_by="alice", reviewed_at=t - timedelta(days=9),
        )  # fmt: skip
        m5 = add_match(
            s, a4, "courthouse_arrests", score=0.6, created_at=t - timedelta(days=1),
            snippet=XSS_SNIPPET, marks=[[31, 41]],
        )  # fmt: skip
        m6 = add_match(
            s, a5, "courthouse_arrests", score=0.4, created_at=t - timedelta(days=20),
            review_status="irrelevant", reviewed_by="bob", reviewed_at=t - timedelta(days=19),
        )  # fmt: skip
        add_alert(
            s, m1, status="sent", sent_at=t - timedelta(hours=1), slack_ts="1700000000.000100",
            attempts=1, cluster_id=cluster.id,
        )  # fmt: skip
        add_alert(s, m3, status="pending", last_error="429 rate limited", attempts=2)
        return Sample(
            a1.id, a2.id, a3.id, a4.id, a5.id, m1.id, m2.id, m3.id, m4.id, m5.id, m6.id, cluster.id
        )


def test_populate_inserts_the_sample(database: Database) -> None:
    sample = populate(database)
    with database.session() as s:
        assert s.get(Match, sample.m1) is not None
        assert s.get(Article, sample.a4).url == XSS_URL  # type: ignore[union-attr]
        assert s.query(Match).count() == 6
        assert s.query(Alert).count() == 2


def test_sample_snippet_marks_point_at_terms(database: Database) -> None:
    sample = populate(database)
    with database.session() as s:
        m1, m5 = s.get(Match, sample.m1), s.get(Match, sample.m5)
        assert m1 is not None and m5 is not None
        assert [m1.snippet[a:b] for a, b in m1.explanation["snippet_marks"]] == [
            "ICE officers",
            "courtroom",
        ]
        assert m5.snippet[31:41] == "ICE agents"
