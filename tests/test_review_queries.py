"""The review query functions (crawler.review.queries, crawler.review.web.dashboards)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_review_factory import Sample, add_article, add_match, add_source

from crawler.review.exports import labelled_examples, parse_match_ref, safe_cell
from crawler.review.queries import (
    MatchQuery,
    count_matches,
    default_reviewer,
    get_match,
    label_match,
    list_matches,
    parse_when,
    snippet_segments,
    source_names,
    text_marks,
    topics,
)
from crawler.review.web.dashboards import source_health, timeline
from crawler.storage.db import Database
from crawler.storage.models import CrawlRun, Match, Review

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("24h", False, NOW - timedelta(hours=24)),
        ("7d", False, NOW - timedelta(days=7)),
        ("30m", False, NOW - timedelta(minutes=30)),
        ("2w", False, NOW - timedelta(weeks=2)),
        (" 3D ", False, NOW - timedelta(days=3)),
        ("2025-03-01", False, datetime(2025, 3, 1, tzinfo=UTC)),
        ("2025-03-01", True, datetime(2025, 3, 2, tzinfo=UTC)),  # the whole day is included
        ("2025-03-01T08:30:00", False, datetime(2025, 3, 1, 8, 30, tzinfo=UTC)),
        ("2025-03-01T08:30:00+02:00", True, datetime(2025, 3, 1, 6, 30, tzinfo=UTC)),
    ],
)
def test_parse_when(text: str, end: bool, expected: datetime) -> None:
    assert parse_when(text, now=NOW, end=end) == expected


@pytest.mark.parametrize(
    "text", ["", "yesterday", "7 days", "2025-13-01", "-3d", "1y", "99999999999d", "9999999d"]
)
def test_parse_when_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date"):
        parse_when(text, now=NOW)


def test_snippet_segments() -> None:
    text = "ICE agents at the courthouse"
    assert snippet_segments(text, [[0, 3], [18, 28]]) == [
        ("ICE", True),
        (" agents at the ", False),
        ("courthouse", True),
    ]
    assert snippet_segments(text, [[18, 28], [0, 3]])[0] == ("ICE", True)  # any order
    assert snippet_segments(text, [[0, 10], [4, 8]]) == [(text[:10], True), (text[10:], False)]
    assert (
        snippet_segments(text, [[-5, 3], [25, 99]])
        == [  # a cut word is marked whole
            ("ICE", True),
            (text[3:18], False),
            (text[18:], True),
        ]
    )
    assert snippet_segments("a 287(g) deal", [[2, 6]]) == [  # older rows marked "287("
        ("a ", False),
        ("287(g)", True),
        (" deal", False),
    ]
    assert snippet_segments(text, [["a", "b"], [5], None, [7, 7], [9, 2]]) == [(text, False)]  # type: ignore[list-item]
    assert snippet_segments(text, None) == [(text, False)]
    assert snippet_segments("", [[0, 3]]) == []


def test_text_marks_keep_only_spans_that_point_at_their_text() -> None:
    text = "Agents held a man. ICE said so."
    spans = [
        {"start": 19, "end": 22, "text": "ICE", "field": "text"},
        {"start": 0, "end": 6, "text": "Agents", "field": "title"},  # another field
        {"start": 0, "end": 6, "text": "Nope!!", "field": "text"},  # stale offsets
        {"start": 25, "end": 99, "text": "x", "field": "text"},  # out of range
        {"start": "0", "end": 3},
        "not a span",
    ]
    assert text_marks(text, spans) == [(19, 22)]
    assert text_marks(text, spans, "title") == [(0, 6)]  # spans of one field only


def test_default_reviewer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_REVIEWER", " hana ")
    assert default_reviewer() == "hana"
    monkeypatch.delenv("NEWSWATCH_REVIEWER")
    monkeypatch.setattr("getpass.getuser", lambda: "ivan")
    assert default_reviewer() == "ivan"

    def no_login() -> str:
        raise OSError("no login name")

    monkeypatch.setattr("getpass.getuser", no_login)
    assert default_reviewer() == "unknown"


def test_list_and_count(database: Database, sample: Sample) -> None:
    with database.session() as s:
        rows = list_matches(s, MatchQuery(limit=3))
        assert [r.id for r in rows][:2] in ([sample.m2, sample.m1], [sample.m1, sample.m2])
        assert len(rows) == 3
        assert count_matches(s, MatchQuery(limit=3)) == 6
        assert count_matches(s, MatchQuery(topic="courthouse_arrests", min_score=0.5)) == 3
        paged = list_matches(s, MatchQuery(limit=2, offset=4))
        assert [r.id for r in paged] == [sample.m4, sample.m6]
        by_published = [r.id for r in list_matches(s, MatchQuery())][2:]
        assert by_published == [sample.m5, sample.m3, sample.m4, sample.m6]
        assert topics(s) == [
            ("courthouse_arrests", "Courthouse arrests"),
            ("sanctuary_policy", "Sanctuary policy"),
        ]
        assert source_names(s) == ["county-wire", "metro-times"]


def test_rows_fall_back_to_feed_title_and_plain_snippet(database: Database) -> None:
    with database.session() as s:
        article = add_article(s, None, "", feed_title="From the feed")
        article.title = None
        match = add_match(s, article, "t", snippet="kept as is", marks=[[0, 4]])
        match.explanation = {**match.explanation, "snippet": "a different snippet"}
        s.flush()
        row = list_matches(s, MatchQuery())[0]
    assert row.title == "From the feed"
    assert row.source is None and row.outlet is None
    assert (row.snippet, row.snippet_marks) == ("kept as is", [])  # marks belong to another text


def test_get_match_collects_everything(database: Database, sample: Sample) -> None:
    with database.session() as s:
        detail = get_match(s, sample.m1)
        assert get_match(s, 987654) is None
    assert detail is not None
    assert detail.row.snippet_marks == [(0, 12), (28, 37)]
    assert detail.article.author == "Dana Reporter"
    assert [c.id for c in detail.cluster] == [sample.a2]
    assert [m.id for m in detail.other_matches] == [sample.m2]
    assert [(a.status, a.slack_ts) for a in detail.alerts] == [("sent", "1700000000.000100")]
    assert detail.entities["agency"] == ["ICE"]
    assert detail.explanation["rules"] == ["ice_agency", "courthouse_place"]
    assert detail.reviews == []


def test_label_match_keeps_history(database: Database, sample: Sample) -> None:
    first = datetime(2025, 1, 1, tzinfo=UTC)
    with database.session() as s:
        label_match(s, sample.m1, "relevant", reviewer="jo", note="  ", now=first)
        review = label_match(s, sample.m1, "duplicate", reviewer="kim", note=" same as #3 ")
        assert label_match(s, 555555, "relevant", reviewer="jo") is None
        with pytest.raises(ValueError, match="label must be one of"):
            label_match(s, sample.m1, "unreviewed", reviewer="jo")
    assert review is not None and review.note == "same as #3"
    with database.session() as s:
        match = s.get(Match, sample.m1)
        assert match is not None
        assert (match.review_status, match.reviewed_by, match.review_note) == (
            "duplicate",
            "kim",
            "same as #3",
        )
        history = s.query(Review).filter_by(match_id=sample.m1).order_by(Review.id).all()
        assert [(r.label, r.reviewer, r.note) for r in history] == [
            ("relevant", "jo", None),
            ("duplicate", "kim", "same as #3"),
        ]
        assert history[0].created_at == first
        detail = get_match(s, sample.m1)
        assert detail is not None and [r.label for r in detail.reviews] == ["relevant", "duplicate"]


def test_labelled_examples_are_per_article_and_topic(database: Database, sample: Sample) -> None:
    with database.session() as s:
        label_match(s, sample.m1, "irrelevant", reviewer="x")  # a1's other topic stays unreviewed
        label_match(s, sample.m3, "duplicate", reviewer="x")  # a2: only a duplicate label
        export = labelled_examples(s)
    records = {r["id"]: r for r in export.records}
    assert set(records) == {f"match-{m}" for m in (sample.m1, sample.m4, sample.m6)}
    a1 = records[f"match-{sample.m1}"]
    # the irrelevant courthouse label says nothing about a1's sanctuary topic
    assert (a1["labels"], a1["reviewed_topics"]) == ([], ["courthouse_arrests"])
    assert a1["match_ids"] == {"courthouse_arrests": sample.m1}
    assert records[f"match-{sample.m4}"]["labels"] == ["sanctuary_policy"]
    assert records[f"match-{sample.m6}"]["reviewed_topics"] == ["courthouse_arrests"]
    assert (export.relevant, export.irrelevant, export.duplicates) == (1, 2, 1)


def test_a_reported_miss_reviewed_relevant_is_a_positive(database: Database) -> None:
    with database.session() as s:
        article = add_article(s, None, "Quiet report")
        missed = add_match(s, article, "courthouse_arrests", state="missed", score=0.0)
        label_match(s, missed.id, "relevant", reviewer="x")
        export = labelled_examples(s)
        assert list_matches(s, MatchQuery()) == []  # lists show matched rows unless asked
        assert [r.id for r in list_matches(s, MatchQuery(state="missed"))] == [missed.id]
    [record] = export.records
    assert record["labels"] == record["reviewed_topics"] == ["courthouse_arrests"]


def test_match_refs_and_safe_cells() -> None:
    assert parse_match_ref("match-12") == parse_match_ref(" 12 ") == 12
    with pytest.raises(ValueError, match="not a match id"):
        parse_match_ref("article-3")
    assert [safe_cell(v) for v in ("=1+1", "+1", "-2", "@x", "\tx", "\rx", "ok", None, 3)] == [
        "'=1+1", "'+1", "'-2", "'@x", "'\tx", "'\rx", "ok", "", "3",
    ]  # fmt: skip


def test_timeline_counts_per_day_and_topic(database: Database) -> None:
    with database.session() as s:
        article = add_article(s, None, "t", first_seen_at=NOW - timedelta(hours=1))
        other = add_article(s, None, "u", first_seen_at=NOW - timedelta(hours=2))
        old = add_article(s, None, "v", first_seen_at=NOW - timedelta(days=2, hours=1))
        older = add_article(s, None, "w", published_at=NOW - timedelta(days=40))
        add_match(s, article, "a", created_at=NOW - timedelta(hours=1))
        add_match(s, other, "a", created_at=NOW - timedelta(hours=2))
        add_match(s, old, "b", created_at=NOW - timedelta(days=2, hours=1))
        add_match(s, older, "b", created_at=NOW - timedelta(hours=3))  # found now, published then
        data = timeline(s, days=7, now=NOW)
        only_b = timeline(s, days=7, now=NOW, topic="b")
        found = timeline(s, days=7, now=NOW, by="found")
    assert found.counts[(NOW.date(), "b")] == 1  # by found time the old article is today's
    assert len(data.days) == 7 and data.days[-1] == NOW.date()
    assert data.counts == {(NOW.date(), "a"): 2, ((NOW - timedelta(days=2)).date(), "b"): 1}
    assert data.topics == [("a", "A"), ("b", "B")]
    assert data.total(NOW.date()) == 2 and data.topic_total("b") == 1
    assert only_b.topics == [("b", "B")]


def test_source_health_lists_failing_first_with_recent_runs(database: Database) -> None:
    with database.session() as s:
        add_source(s, "quiet")
        broken = add_source(s, "broken", consecutive_failures=2, health_status="failing")
        for i in range(7):
            s.add(
                CrawlRun(source_id=broken.id, status="failed", started_at=NOW - timedelta(hours=i))
            )
        s.flush()
        health = source_health(s, runs=5)
    assert [h.name for h in health] == ["broken", "quiet"]
    assert len(health[0].runs) == 5
    assert health[0].runs[0].started_at == NOW  # newest first
    assert health[0].runs[0].seconds is None
    assert health[1].runs == []
