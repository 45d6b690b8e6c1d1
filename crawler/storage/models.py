"""SQLAlchemy 2.0 typed ORM models: the whole newswatch schema.

Table and column names are plain English so the SQLite file reads well in Datasette.
Timestamps are timezone-aware UTC (`UTCDateTime` normalises SQLite's naive values).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A DateTime that always comes back timezone-aware in UTC (SQLite stores naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSON(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    """Declarative base for every newswatch table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSONType,
    }


class Source(Base):
    """A configured source (mirrors `[[sources]]` in the config) and its health."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_crawl_finished_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_new_article_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    last_error_kind: Mapped[str | None] = mapped_column(String(40))
    last_error_message: Mapped[str | None] = mapped_column(Text)
    backoff_until: Mapped[datetime | None]
    health_status: Mapped[str] = mapped_column(String(20), default="new")
    health_alerted_at: Mapped[datetime | None]

    runs: Mapped[list[CrawlRun]] = relationship(back_populates="source")


class FeedState(Base):
    """Validators of the last response of a feed/sitemap URL, for conditional requests."""

    __tablename__ = "feed_states"

    url: Mapped[str] = mapped_column(String(2000), primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_sha1: Mapped[str | None] = mapped_column(String(40))
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrawlRun(Base):
    """One crawl of one source: what it fetched, found and failed on."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # running | ok | partial | failed | timed_out | killed | crashed | not_modified
    status: Mapped[str] = mapped_column(String(20), default="running")
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    pid: Mapped[int | None]
    # Where the crawl ran and which daemon/worker process started it: a restarted daemon
    # stops leftover crawl processes of dead owners on its own host (see daemon/orphans.py).
    hostname: Mapped[str | None] = mapped_column(String(200))
    owner_pid: Mapped[int | None]
    exit_code: Mapped[int | None]
    discovered: Mapped[int] = mapped_column(default=0)
    pages_fetched: Mapped[int] = mapped_column(default=0)
    new_articles: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    matched: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    counters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    errors: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error_samples: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message: Mapped[str | None] = mapped_column(Text)

    source: Mapped[Source] = relationship(back_populates="runs")


class StoryCluster(Base):
    """Articles telling the same story (syndicated copies, rewrites)."""

    __tablename__ = "story_clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    title_key: Mapped[str] = mapped_column(String(300), index=True)
    simhash: Mapped[int | None] = mapped_column(BigInteger)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    first_article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL", use_alter=True)
    )
    article_count: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Article(Base):
    """A fetched page under its canonical URL, with what extraction found (or why not)."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    url_hash: Mapped[str] = mapped_column(String(16), index=True)
    fetched_url: Mapped[str] = mapped_column(Text)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), index=True
    )
    crawl_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="SET NULL")
    )
    discovered_via: Mapped[str | None] = mapped_column(String(40))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    http_status: Mapped[int | None]
    # extracted | empty | failed | skipped_prefilter | not_article | failed_internal (our side:
    # retried, not seen; `failed` after repo.MAX_INTERNAL_ATTEMPTS) | not_html | too_large …
    status: Mapped[str] = mapped_column(String(30), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    site_name: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    text_sha1: Mapped[str | None] = mapped_column(String(40))
    simhash: Mapped[int | None] = mapped_column(BigInteger)
    cluster_id: Mapped[int | None] = mapped_column(
        ForeignKey("story_clusters.id", ondelete="SET NULL"), index=True
    )
    feed_title: Mapped[str | None] = mapped_column(Text)
    feed_published_at: Mapped[datetime | None]
    feed_guid: Mapped[str | None] = mapped_column(Text)
    revision_count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime | None]

    matches: Mapped[list[Match]] = relationship(back_populates="article")
    raw: Mapped[RawPage | None] = relationship(back_populates="article", uselist=False)


class RawPage(Base):
    """The fetched HTML, gzip-compressed, kept for re-extraction until retention prunes it."""

    __tablename__ = "raw_pages"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    html_gzip: Mapped[bytes] = mapped_column(LargeBinary)
    encoding: Mapped[str | None] = mapped_column(String(40))
    content_type: Mapped[str | None] = mapped_column(String(200))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    article: Mapped[Article] = relationship(back_populates="raw")


class ArticleRevision(Base):
    """A correction or update of an article already stored (the previous version is kept)."""

    __tablename__ = "article_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    previous_title: Mapped[str | None] = mapped_column(Text)
    previous_text: Mapped[str | None] = mapped_column(Text)
    previous_text_sha1: Mapped[str | None] = mapped_column(String(40))
    new_text_sha1: Mapped[str | None] = mapped_column(String(40))


class Match(Base):
    """An article matched a topic: score, explanation, entities and the review of it."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("article_id", "topic", name="uq_matches_article_topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    topic: Mapped[str] = mapped_column(String(80), index=True)
    topic_label: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    pack_version: Mapped[str] = mapped_column(String(80))
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    snippet: Mapped[str] = mapped_column(Text, default="")
    entities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # matched (over the threshold; alerted) | possible (a near miss, never alerted by default)
    # | missed (a person reported the article as a miss for this topic)
    state: Mapped[str] = mapped_column(
        String(20), default="matched", server_default="matched", index=True
    )
    # unreviewed | relevant | irrelevant | duplicate
    review_status: Mapped[str] = mapped_column(String(20), default="unreviewed", index=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(Text)

    article: Mapped[Article] = relationship(back_populates="matches")
    alerts: Mapped[list[Alert]] = relationship(back_populates="match")
    reviews: Mapped[list[Review]] = relationship(back_populates="match")


class Review(Base):
    """Every label a person gave a match (the match keeps the latest)."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(20))
    reviewer: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The Slack user id when the label came from a Slack button (the name is in `reviewer`).
    slack_user: Mapped[str | None] = mapped_column(String(40))

    match: Mapped[Match] = relationship(back_populates="reviews")


class Alert(Base):
    """The outbox: one row per alert per destination channel, written with its match."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    # alert | follow_up | digest | health
    kind: Mapped[str] = mapped_column(String(20), default="alert")
    match_id: Mapped[int | None] = mapped_column(
        ForeignKey("matches.id", ondelete="CASCADE"), index=True
    )
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    cluster_id: Mapped[int | None] = mapped_column(
        ForeignKey("story_clusters.id", ondelete="SET NULL")
    )
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    topic: Mapped[str | None] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(200))
    # pending | sending | sent | failed | suppressed
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    destination: Mapped[str | None] = mapped_column(String(20))  # slack|webhook|console|digest
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    slack_ts: Mapped[str | None] = mapped_column(String(40))
    thread_ts: Mapped[str | None] = mapped_column(String(40))
    parent_alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL")
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    match: Mapped[Match | None] = relationship(back_populates="alerts")


class DaemonLock(Base):
    """Who runs the daemon against this database (one row per lock name), with a heartbeat."""

    __tablename__ = "daemon_locks"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    hostname: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# Incident tables live in their own module; importing it here registers them on Base.metadata.
from crawler.storage import models_incidents as _models_incidents  # noqa: E402,F401
from crawler.storage import models_scaleout  # noqa: E402,F401  (registers its tables)
from crawler.storage.models_feedback import SourceMute  # noqa: E402,F401 - registers the table
