"""Queries behind the timeline and source-health pages."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawler.review.queries import date_column
from crawler.storage.models import Article, CrawlRun, Match, Source, utcnow


@dataclass(frozen=True)
class Timeline:
    """Matches per UTC day per topic over a window of days (oldest day first)."""

    days: list[date]
    topics: list[tuple[str, str]]
    counts: dict[tuple[date, str], int]

    def total(self, day: date) -> int:
        """All matches on `day`."""
        return sum(self.counts.get((day, topic), 0) for topic, _ in self.topics)

    def topic_total(self, topic: str) -> int:
        """All matches of `topic` in the window."""
        return sum(n for (_, t), n in self.counts.items() if t == topic)


def timeline(
    session: Session,
    *,
    days: int = 30,
    now: datetime | None = None,
    topic: str | None = None,
    by: str = "published",
) -> Timeline:
    """Count matched articles per day and topic for the last `days` days (today included).

    Days are publication days (an article without one counts on the day it was first seen);
    `by="found"` counts by when newswatch found the match instead.
    """
    moment = now or utcnow()
    today = (moment.astimezone(UTC) if moment.tzinfo else moment).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time(), UTC)
    when = date_column(by)
    stmt = (
        select(Match.topic, Match.topic_label, when)
        .join(Article, Article.id == Match.article_id)
        .where(Match.state == "matched", when >= start)
    )
    if topic:
        stmt = stmt.where(Match.topic == topic)
    counts: Counter[tuple[date, str]] = Counter()
    labels: dict[str, str] = {}
    # Bucketing in Python keeps days in UTC whatever the PostgreSQL session time zone is.
    for name, label, created in session.execute(stmt).all():
        day = created.date()
        if first <= day <= today:
            counts[(day, name)] += 1
            labels.setdefault(name, label or name)
    return Timeline(
        days=[first + timedelta(days=i) for i in range(days)],
        topics=sorted(labels.items()),
        counts=dict(counts),
    )


@dataclass(frozen=True)
class RunInfo:
    """One crawl run as the health page shows it."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    trigger: str
    pages_fetched: int
    new_articles: int
    matched: int
    failed: int
    message: str | None

    @property
    def seconds(self) -> float | None:
        """How long the run took, if it finished."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class SourceHealth:
    """One source's health and its most recent crawl runs."""

    name: str
    kind: str
    url: str
    health_status: str
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_new_article_at: datetime | None
    consecutive_failures: int
    last_error_kind: str | None
    last_error_message: str | None
    backoff_until: datetime | None
    runs: list[RunInfo] = field(default_factory=list)


def source_health(session: Session, *, runs: int = 5) -> list[SourceHealth]:
    """Every source, failing ones first, each with its last `runs` crawl runs."""
    ranked = select(
        CrawlRun,
        func.row_number()
        .over(
            partition_by=CrawlRun.source_id,
            order_by=(CrawlRun.started_at.desc(), CrawlRun.id.desc()),
        )
        .label("rank"),
    ).subquery()
    recent: dict[int, list[RunInfo]] = {}
    stmt = select(ranked).where(ranked.c.rank <= runs).order_by(ranked.c.source_id, ranked.c.rank)
    for row in session.execute(stmt).mappings():
        recent.setdefault(row["source_id"], []).append(
            RunInfo(
                id=row["id"],
                started_at=row["started_at"],
                finished_at=row["finished_at"],
                status=row["status"],
                trigger=row["trigger"],
                pages_fetched=row["pages_fetched"],
                new_articles=row["new_articles"],
                matched=row["matched"],
                failed=row["failed"],
                message=row["message"],
            )
        )
    sources = session.scalars(
        select(Source).order_by(Source.consecutive_failures.desc(), Source.name)
    )
    return [
        SourceHealth(
            name=s.name,
            kind=s.kind,
            url=s.url,
            health_status=s.health_status,
            last_run_at=s.last_run_at,
            last_success_at=s.last_success_at,
            last_new_article_at=s.last_new_article_at,
            consecutive_failures=s.consecutive_failures,
            last_error_kind=s.last_error_kind,
            last_error_message=s.last_error_message,
            backoff_until=s.backoff_until,
            runs=recent.get(s.id, []),
        )
        for s in sources
    ]
