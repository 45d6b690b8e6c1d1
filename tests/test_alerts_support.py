"""Factories shared by the alert tests (no tests here): settings, sources, stored matches."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta
from typing import Any

from slack_standin import TOKEN, FakeClock, SlackStandin
from sqlalchemy import select

from alerts.dispatcher import Dispatcher
from alerts.outbox import enqueue_article_alerts, enqueue_match_alerts
from alerts.slack import Sender, SlackBotSender
from crawler.config import Settings
from crawler.storage.db import Database
from crawler.storage.models import Alert, Article, Match, Source, StoryCluster

TOPIC = "courthouse_ice"


def make_settings(
    standin: SlackStandin | None = None,
    *,
    sources: list[dict[str, Any]] | None = None,
    **alerts: Any,
) -> Settings:
    """Settings whose Slack API is the stand-in; `alerts` overrides [alerts] keys."""
    data: dict[str, Any] = {"alerts": {"per_channel_interval": 1.0, **alerts}}
    if standin is not None:
        data["slack"] = {"api_url": standin.api_url, "timeout": 2.0}
    if sources:
        data["sources"] = sources
    return Settings.model_validate(data)


def bot_sender(standin: SlackStandin, timeout: float = 2.0) -> SlackBotSender:
    """The real slack-sdk sender pointed at the stand-in."""
    return SlackBotSender(TOKEN, api_url=standin.api_url, timeout=timeout)


def dispatcher(
    db: Database, settings: Settings, sender: Sender, clock: FakeClock, **kwargs: Any
) -> Dispatcher:
    """A dispatcher on the fake clock (sleeping only advances it) with seeded jitter."""
    return Dispatcher(
        db, settings, sender=sender, clock=clock, sleep=clock.sleep, rng=random.Random(7), **kwargs
    )


def add_source(db: Database, name: str = "denver-daily") -> int:
    """A committed source row (made once per name); returns its id."""
    with db.session() as session:
        existing = session.scalar(select(Source).where(Source.name == name))
        if existing is not None:
            return existing.id
        source = Source(name=name, kind="feed", url=f"https://{name}.example/feed")
        session.add(source)
        session.flush()
        return source.id


def add_cluster(db: Database, key: str = "ice courthouse") -> int:
    """A committed story cluster; returns its id."""
    with db.session() as session:
        cluster = StoryCluster(title_key=key)
        session.add(cluster)
        session.flush()
        return cluster.id


def store_match(
    db: Database,
    settings: Settings,
    *,
    source_id: int,
    title: str,
    now: datetime,
    url: str | None = None,
    cluster_id: int | None = None,
    topic: str = TOPIC,
    published_at: datetime | str | None = "an hour ago",
    feed_published_at: datetime | None = None,
    first_seen_at: datetime | None = None,
    first_crawl: bool = False,
    snippet: str | None = None,
    outlet: str = "Denver Daily",
) -> list[Alert]:
    """Store an article and match and enqueue its alerts in one transaction, as the crawl does."""
    url = url or "https://news.example/" + hashlib.sha1(title.encode()).hexdigest()[:12]
    snippet = snippet if snippet is not None else f"ICE agents at the courthouse: {title}"
    with db.session() as session:
        source = session.get(Source, source_id)
        article = Article(
            url=url,
            url_hash=hashlib.sha1(url.encode()).hexdigest()[:16],
            fetched_url=url,
            source_id=source_id,
            status="extracted",
            title=title,
            site_name=outlet,
            published_at=now - timedelta(hours=1)
            if isinstance(published_at, str)
            else published_at,
            feed_published_at=feed_published_at,
            first_seen_at=first_seen_at or now,
            cluster_id=cluster_id,
            text=snippet,
        )
        session.add(article)
        session.flush()
        match = Match(
            article_id=article.id,
            topic=topic,
            topic_label="ICE arrests at courthouses",
            score=0.9,
            threshold=0.5,
            pack_version="test-1",
            snippet=snippet,
            explanation={"snippet": snippet, "snippet_marks": [[0, 3]], "rules": ["r1"]},
            entities={"place": ["Denver"], "agency": ["ICE"]},
        )
        session.add(match)
        return enqueue_match_alerts(
            session,
            article=article,
            match=match,
            source=source,
            settings=settings,
            first_crawl=first_crawl,
            now=now,
        )


def store_topics(
    db: Database,
    settings: Settings,
    *,
    source_id: int,
    title: str,
    now: datetime,
    topics: list[tuple[str, float]],
    cluster_id: int | None = None,
) -> list[Alert]:
    """Store one article matching several (topic, score) and enqueue it once, as the crawl does."""
    url = "https://news.example/" + hashlib.sha1(title.encode()).hexdigest()[:12]
    with db.session() as session:
        source = session.get(Source, source_id)
        article = Article(
            url=url,
            url_hash=hashlib.sha1(url.encode()).hexdigest()[:16],
            fetched_url=url,
            source_id=source_id,
            status="extracted",
            title=title,
            site_name="Denver Daily",
            published_at=now - timedelta(hours=1),
            first_seen_at=now,
            cluster_id=cluster_id,
            text=f"ICE agents at the courthouse: {title}",
        )
        matches = [
            Match(
                article=article,
                topic=topic,
                topic_label=f"Label of {topic}",
                score=score,
                threshold=0.5,
                pack_version="test-1",
                snippet=f"snippet for {topic}",
                explanation={"snippet": f"snippet for {topic}", "rules": [f"rule-{topic}"]},
                entities={"place": ["Denver"]},
            )
            for topic, score in topics
        ]
        session.add_all([article, *matches])
        return enqueue_article_alerts(
            session,
            article=article,
            matches=matches,
            source=source,
            settings=settings,
            first_crawl=False,
            now=now,
        )


def rows(db: Database) -> list[Alert]:
    """Every outbox row, by id."""
    with db.session() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def row(db: Database, alert: int | Alert) -> Alert:
    """One outbox row (by id or a stale copy), fresh from the database."""
    with db.session() as session:
        found = session.get(Alert, alert if isinstance(alert, int) else alert.id)
        assert found is not None
        return found
