"""The outbox: rows written with the match, idempotent, suppressed floods, follow-ups, health."""

from __future__ import annotations

import threading
from datetime import timedelta

from slack_standin import FakeClock
from sqlalchemy import select
from test_alerts_support import (
    TOPIC,
    add_cluster,
    add_source,
    make_settings,
    rows,
    store_match,
    store_topics,
)

from alerts.format import AlertView
from alerts.outbox import (
    enqueue_article_alerts,
    enqueue_health_alert,
    enqueue_match_alerts,
    idempotency_key,
    insert_alert,
)
from crawler.storage.db import Database
from crawler.storage.models import Alert, Article, Match, Source


def test_one_pending_row_per_channel_with_view(database: Database) -> None:
    clock = FakeClock()
    settings = make_settings(channels={TOPIC: "#ice"})
    source_id = add_source(database)
    [alert] = store_match(database, settings, source_id=source_id, title="Arrest", now=clock())
    assert (alert.kind, alert.status, alert.channel, alert.topic) == (
        "alert",
        "pending",
        "#ice",
        TOPIC,
    )
    assert alert.idempotency_key == f"alert:a{alert.article_id}:#ice"
    assert alert.next_attempt_at == clock() and alert.match_id is not None
    view = AlertView.from_dict(alert.payload["view"])
    assert (view.title, view.outlet, view.topic_label) == (
        "Arrest",
        "Denver Daily",
        "ICE arrests at courthouses",
    )
    assert view.snippet_marks == [(0, 3)] and view.entities["agency"] == ["ICE"]


def test_enqueue_twice_is_idempotent_and_keeps_the_transaction(database: Database) -> None:
    settings = make_settings()
    source_id = add_source(database)
    with database.session() as session:
        source = session.get(Source, source_id)
        article = Article(
            url="https://e.example/a",
            url_hash="x",
            fetched_url="https://e.example/a",
            status="extracted",
            title="A",
            source_id=source_id,
        )
        match = Match(article=article, topic=TOPIC, score=1.0, threshold=0.5, pack_version="1")
        session.add_all([article, match])
        first = enqueue_match_alerts(
            session,
            article=article,
            match=match,
            source=source,
            settings=settings,
            first_crawl=False,
        )
        again = enqueue_match_alerts(
            session,
            article=article,
            match=match,
            source=source,
            settings=settings,
            first_crawl=False,
        )
        assert [a.id for a in first] == [a.id for a in again]
        # a raw duplicate insert is swallowed by ON CONFLICT DO NOTHING, not an error...
        values = {"idempotency_key": first[0].idempotency_key, "channel": "#x", "payload": {}}
        existing, inserted = insert_alert(session, values)
        assert not inserted and existing.id == first[0].id
        # ...so the caller's transaction carries on and commits its other work
        session.add(
            Article(url="https://e.example/b", url_hash="y", fetched_url="b", status="empty")
        )
    assert len(rows(database)) == 1
    with database.session() as session:
        assert session.scalar(select(Article).where(Article.url == "https://e.example/b"))


def test_old_articles_are_stored_but_suppressed(database: Database) -> None:
    clock = FakeClock()
    settings = make_settings(max_age_hours=72)
    source_id = add_source(database)
    now = clock()
    old = store_match(
        database,
        settings,
        source_id=source_id,
        title="Old",
        now=now,
        published_at=now - timedelta(hours=73),
    )
    assert old[0].status == "suppressed"
    assert (
        old[0].last_error is not None
        and "older than 72h (published 2025-01-03T11:00" in old[0].last_error
    )
    by_feed = store_match(
        database,
        settings,
        source_id=source_id,
        title="Feed",
        now=now,
        published_at=None,
        feed_published_at=now - timedelta(days=5),
    )
    assert by_feed[0].status == "suppressed" and "feed date" in (by_feed[0].last_error or "")
    fresh = store_match(
        database,
        settings,
        source_id=source_id,
        title="Fresh",
        now=now,
        published_at=now - timedelta(hours=71),
    )
    assert fresh[0].status == "pending" and fresh[0].last_error is None
    future = store_match(
        database,
        settings,
        source_id=source_id,
        title="Future",
        now=now,
        published_at=now + timedelta(hours=5),
    )
    assert future[0].status == "pending"


def test_first_crawl_is_suppressed_unless_configured(database: Database) -> None:
    now = FakeClock()()
    source_id = add_source(database)
    off = make_settings()
    [quiet] = store_match(database, off, source_id=source_id, title="A", now=now, first_crawl=True)
    assert quiet.status == "suppressed" and "first crawl of source denver-daily" in (
        quiet.last_error or ""
    )
    on = make_settings(alert_first_crawl=True)
    [loud] = store_match(database, on, source_id=source_id, title="B", now=now, first_crawl=True)
    assert loud.status == "pending"
    per_source = make_settings(
        sources=[
            {"name": "denver-daily", "urls": ["https://d.example/feed"], "alert_first_crawl": True}
        ]
    )
    [src] = store_match(
        database, per_source, source_id=source_id, title="C", now=now, first_crawl=True
    )
    assert src.status == "pending"
    veto = make_settings(
        alert_first_crawl=True,
        sources=[
            {"name": "denver-daily", "urls": ["https://d.example/feed"], "alert_first_crawl": False}
        ],
    )
    [vetoed] = store_match(
        database, veto, source_id=source_id, title="D", now=now, first_crawl=True
    )
    assert vetoed.status == "suppressed"


def test_same_story_becomes_follow_ups_of_the_first_alert(database: Database) -> None:
    now = FakeClock()()
    settings = make_settings(channels={"sanctuary": "#policy"})
    source_id = add_source(database)
    cluster = add_cluster(database)
    [first] = store_match(
        database, settings, source_id=source_id, title="One", now=now, cluster_id=cluster
    )
    [second] = store_match(
        database, settings, source_id=source_id, title="Two", now=now, cluster_id=cluster
    )
    [third] = store_match(
        database, settings, source_id=source_id, title="Three", now=now, cluster_id=cluster
    )
    assert first.kind == "alert" and first.idempotency_key == f"alert:c{cluster}:#newswatch"
    assert (second.kind, second.parent_alert_id) == ("follow_up", first.id)
    assert (third.kind, third.parent_alert_id) == ("follow_up", first.id)
    other_topic = store_match(
        database,
        settings,
        source_id=source_id,
        title="Four",
        now=now,
        cluster_id=cluster,
        topic="sanctuary",
    )
    assert other_topic[0].kind == "alert" and other_topic[0].channel == "#policy"


def test_story_first_seen_suppressed_opens_with_the_next_article(database: Database) -> None:
    now = FakeClock()()
    settings = make_settings()
    source_id = add_source(database)
    cluster = add_cluster(database)
    [old] = store_match(
        database,
        settings,
        source_id=source_id,
        title="Old",
        now=now,
        cluster_id=cluster,
        first_crawl=True,
    )
    [new] = store_match(
        database, settings, source_id=source_id, title="New", now=now, cluster_id=cluster
    )
    [later] = store_match(
        database, settings, source_id=source_id, title="Later", now=now, cluster_id=cluster
    )
    assert old.status == "suppressed"
    assert new.kind == "alert" and new.status == "pending"
    assert later.kind == "follow_up" and later.parent_alert_id == new.id


def test_revised_article_gets_one_update_follow_up_per_revision(database: Database) -> None:
    now = FakeClock()()
    settings = make_settings()
    source_id = add_source(database)
    [first] = store_match(
        database, settings, source_id=source_id, title="A", now=now, url="https://e.example/story"
    )
    for _ in range(2):
        with database.session() as session:
            article = session.scalars(select(Article)).one()
            article.revision_count = 1
            match = session.scalars(select(Match)).one()
            source = session.get(Source, source_id)
            [update] = enqueue_match_alerts(
                session,
                article=article,
                match=match,
                source=source,
                settings=settings,
                first_crawl=False,
                now=now,
            )
        assert update.kind == "follow_up" and update.parent_alert_id == first.id
    assert len(rows(database)) == 2


def test_concurrent_stores_of_one_story_make_one_alert(database: Database) -> None:
    now = FakeClock()()
    settings = make_settings()
    source_id = add_source(database)
    cluster = add_cluster(database)
    other = Database(database.url)  # a second engine, as a second crawl process has
    errors: list[BaseException] = []

    def second_crawl() -> None:
        try:
            store_match(
                other, settings, source_id=source_id, title="B", now=now, cluster_id=cluster
            )
        except BaseException as exc:
            errors.append(exc)

    try:
        with database.session() as session:
            source = session.get(Source, source_id)
            article = Article(
                url="https://e.example/a",
                url_hash="a",
                fetched_url="a",
                status="extracted",
                title="A",
                cluster_id=cluster,
                source_id=source_id,
            )
            match = Match(article=article, topic=TOPIC, score=1.0, threshold=0.5, pack_version="1")
            session.add_all([article, match])
            enqueue_match_alerts(
                session,
                article=article,
                match=match,
                source=source,
                settings=settings,
                first_crawl=False,
                now=now,
            )
            thread = threading.Thread(target=second_crawl)
            thread.start()  # it waits for our lock (SQLite) or our uncommitted key (PostgreSQL)
        thread.join(timeout=60)
    finally:
        other.dispose()
    assert not errors
    kinds = sorted(a.kind for a in rows(database))
    assert kinds == ["alert", "follow_up"]


def test_health_alerts_once_per_source_state_and_episode(database: Database) -> None:
    clock = FakeClock()
    settings = make_settings(health_channel="#ops")
    source_id = add_source(database)
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        first = enqueue_health_alert(
            session,
            source=source,
            state="failing",
            message="HTTP 403 x3",
            settings=settings,
            now=clock(),
        )
        again = enqueue_health_alert(
            session,
            source=source,
            state="failing",
            message="HTTP 403 x4",
            settings=settings,
            now=clock(),
        )
        assert first.id == again.id and first.channel == "#ops" and first.kind == "health"
        assert first.payload["health"]["message"] == "HTTP 403 x3"
        quiet = enqueue_health_alert(
            session, source=source, state="quiet", message="no news", settings=settings
        )
        assert quiet.id != first.id
        source.last_success_at = clock()  # recovered, then failing again: a new episode
        relapse = enqueue_health_alert(
            session, source=source, state="failing", message="again", settings=settings
        )
        assert relapse.id not in (first.id, quiet.id)
    default = make_settings()
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        row = enqueue_health_alert(
            session, source=source, state="blocked", message="robots", settings=default
        )
        assert row.channel == "#newswatch"
    assert len([a for a in rows(database) if a.kind == "health"]) == 4


def test_long_keys_stay_unique_and_short() -> None:
    a = idempotency_key("alert", "a1", "t" * 200, "#" + "c" * 199)
    b = idempotency_key("alert", "a1", "t" * 200, "#" + "c" * 198 + "d")
    assert len(a) <= 300 and len(b) <= 300 and a != b
    assert idempotency_key("alert", "c1", "x", "#y") == "alert:c1:x:#y"


def test_suppressed_rows_are_never_due(database: Database) -> None:
    now = FakeClock()()
    settings = make_settings()
    source_id = add_source(database)
    store_match(database, settings, source_id=source_id, title="A", now=now, first_crawl=True)
    with database.session() as session:
        assert session.scalars(select(Alert).where(Alert.status == "pending")).all() == []


def test_two_topics_one_channel_make_one_row_listing_both(database: Database) -> None:
    now = FakeClock()()
    settings = make_settings()
    source_id = add_source(database)
    [alert] = store_topics(
        database,
        settings,
        source_id=source_id,
        title="Both",
        now=now,
        topics=[("sanctuary", 0.7), (TOPIC, 0.9)],
    )
    assert alert.idempotency_key == f"alert:a{alert.article_id}:#newswatch"
    assert alert.topic == TOPIC  # the lead topic is the highest-scoring one
    view = AlertView.from_dict(alert.payload["view"])
    assert [(t.topic, t.score) for t in view.all_topics] == [(TOPIC, 0.9), ("sanctuary", 0.7)]
    assert view.snippet == f"snippet for {TOPIC}"
    assert view.rules == [f"rule-{TOPIC}", "rule-sanctuary"]
    with database.session() as session:
        match_ids = sorted(m.id for m in session.scalars(select(Match)))
    assert sorted(alert.payload["match_ids"]) == match_ids
    assert len(rows(database)) == 1


def test_topics_routed_to_different_channels_go_to_each(database: Database) -> None:
    now = FakeClock()()
    settings = make_settings(channels={"sanctuary": "#policy", "detention": "#policy"})
    source_id = add_source(database)
    made = store_topics(
        database,
        settings,
        source_id=source_id,
        title="Three",
        now=now,
        topics=[(TOPIC, 0.9), ("sanctuary", 0.6), ("detention", 0.8)],
    )
    by_channel = {a.channel: AlertView.from_dict(a.payload["view"]) for a in made}
    assert set(by_channel) == {"#newswatch", "#policy"} and len(rows(database)) == 2
    assert [t.topic for t in by_channel["#newswatch"].all_topics] == [TOPIC]
    assert [t.topic for t in by_channel["#policy"].all_topics] == ["detention", "sanctuary"]


def test_story_follow_up_threads_per_channel_whatever_the_topic(database: Database) -> None:
    now = FakeClock()()
    settings = make_settings()
    source_id = add_source(database)
    cluster = add_cluster(database)
    [first] = store_topics(
        database,
        settings,
        source_id=source_id,
        title="A",
        now=now,
        topics=[(TOPIC, 0.9)],
        cluster_id=cluster,
    )
    [second] = store_topics(
        database,
        settings,
        source_id=source_id,
        title="B",
        now=now,
        topics=[("sanctuary", 0.8), (TOPIC, 0.7)],
        cluster_id=cluster,
    )
    assert (second.kind, second.parent_alert_id) == ("follow_up", first.id)
    assert second.idempotency_key == f"follow:a{second.article_id}:#newswatch"


def test_a_topic_found_later_threads_one_short_follow_up(database: Database) -> None:
    now = FakeClock()()
    settings = make_settings()
    source_id = add_source(database)
    [first] = store_match(database, settings, source_id=source_id, title="A", now=now)
    for _ in range(2):  # a second rematch adds nothing
        with database.session() as session:
            article = session.scalars(select(Article)).one()
            old = session.scalars(select(Match).where(Match.topic == TOPIC)).one()
            new = session.scalar(select(Match).where(Match.topic == "sanctuary")) or Match(
                article=article, topic="sanctuary", score=0.8, threshold=0.5, pack_version="1"
            )
            session.add(new)
            source = session.get(Source, source_id)
            [later] = enqueue_article_alerts(
                session,
                article=article,
                matches=[new, old],
                source=source,
                settings=settings,
                first_crawl=False,
                now=now,
            )
        assert (later.kind, later.parent_alert_id) == ("follow_up", first.id)
        assert later.idempotency_key == f"topics:a{first.article_id}:sanctuary:#newswatch"
    assert len(rows(database)) == 2
    # the same article with the same topics again: nothing new
    with database.session() as session:
        article = session.scalars(select(Article)).one()
        source = session.get(Source, source_id)
        again = enqueue_article_alerts(
            session,
            article=article,
            matches=list(session.scalars(select(Match))),
            source=source,
            settings=settings,
            first_crawl=False,
            now=now,
        )
    assert len(rows(database)) == 2 and again[0].id in {r.id for r in rows(database)}


def test_possible_and_missed_rows_never_alert(database: Database) -> None:
    settings = make_settings()
    source_id = add_source(database)
    with database.session() as session:
        article = Article(
            url="https://e.example/p",
            url_hash="p",
            fetched_url="p",
            status="extracted",
            title="P",
            source_id=source_id,
        )
        near = Match(
            article=article,
            topic=TOPIC,
            score=0.4,
            threshold=0.5,
            pack_version="1",
            state="possible",
        )
        session.add_all([article, near])
        made = enqueue_article_alerts(
            session,
            article=article,
            matches=[near],
            source=session.get(Source, source_id),
            settings=settings,
            first_crawl=False,
        )
    assert made == [] and rows(database) == []


def test_alert_says_why_in_words_from_the_pack(database: Database) -> None:
    from crawler.matching.describe import rule_descriptions
    from crawler.matching.pack import load_pack

    pack = load_pack()
    rule = next(
        r.spec
        for t in pack.topics.values()
        for r in t.rules
        if r.spec.description and not set("&<>*_~`") & set(r.spec.description)
    )
    settings = make_settings()
    source_id = add_source(database)
    with database.session() as session:
        article = Article(
            url="https://e.example/w", url_hash="w", fetched_url="w", status="extracted",
            title="W", source_id=source_id,
        )  # fmt: skip
        match = Match(
            article=article, topic=TOPIC, score=1.0, threshold=0.5, pack_version="1",
            explanation={"rules": [rule.id]},
        )  # fmt: skip
        session.add_all([article, match])
        [alert] = enqueue_article_alerts(
            session, article=article, matches=[match], source=session.get(Source, source_id),
            settings=settings, first_crawl=False,
        )  # fmt: skip
    view = AlertView.from_dict(alert.payload["view"])
    assert view.rules == [rule.id]  # the id stays in the payload (JSON) ...
    assert view.reasons == [rule_descriptions()[rule.id]] == [rule.description.strip()]
    from alerts.format import build_alert_message

    text = str(build_alert_message(view)["blocks"])
    assert rule.description.strip()[:40] in text and rule.id not in text  # ... not in the message
