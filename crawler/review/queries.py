"""Review queries over stored matches, shared by the `newswatch matches` CLI and the web page.

Plain functions taking a SQLAlchemy `Session`; results are frozen dataclasses (never ORM
objects) so callers can use them after the transaction closes.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, Text, cast, func, or_, select
from sqlalchemy.orm import Session

# Text helpers live in crawler.review.text; they are imported from here too.
from crawler.review.text import snippet_segments as snippet_segments
from crawler.review.text import text_marks as text_marks
from crawler.storage.models import Alert, Article, Match, Review, Source, utcnow

LABELS = ("relevant", "irrelevant", "duplicate")
STATUSES = ("unreviewed", *LABELS)
# matched: over the threshold (listed and alerted) · possible: a near miss · missed: reported
MATCH_STATES = ("matched", "possible", "missed")
# Which time --since/--until and the charts use: the publisher's (else first seen) or ours.
DATE_BASES = ("published", "found")
ENV_REVIEWER = "NEWSWATCH_REVIEWER"
AnySelect = Select[*tuple[Any, ...]]
_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_T = TypeVar("_T")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, *, now: datetime | None = None, end: bool = False) -> datetime:
    """Parse an ISO date/datetime or a relative age like `24h`, `7d`, `30m`, `2w` (UTC).

    A bare date used as an end bound (`end=True`) means the end of that day.
    """
    relative = _RELATIVE.match(text)
    value = text.strip()
    try:
        if relative:
            amount, unit = int(relative.group(1)), relative.group(2).lower()
            return (now or utcnow()) - timedelta(**{_UNITS[unit]: amount})
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise ValueError(
            f"{text!r} is not a date: use YYYY-MM-DD, an ISO datetime or an age like 24h, 7d"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def default_reviewer() -> str:
    """The reviewer name: $NEWSWATCH_REVIEWER, else the login name."""
    name = os.environ.get(ENV_REVIEWER, "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"


@dataclass(frozen=True)
class MatchQuery:
    """Filters for listing matches; None means no filter."""

    topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None
    status: str | None = None
    min_score: float | None = None
    search: str | None = None
    limit: int = 50
    offset: int = 0
    by: str = "published"  # since/until and order: publication time (else first seen) or found
    state: str | None = "matched"  # None: every state
    language: str | None = None
    place: str | None = None


@dataclass(frozen=True)
class MatchRow:
    """One match as listed: the match, its article's headline fields and its source."""

    id: int
    topic: str
    topic_label: str | None
    score: float
    threshold: float
    review_status: str
    reviewed_by: str | None
    created_at: datetime
    article_id: int
    title: str | None
    url: str
    source: str | None
    outlet: str | None
    published_at: datetime | None
    snippet: str
    snippet_marks: list[tuple[int, int]] = field(default_factory=list)
    first_seen_at: datetime | None = None
    state: str = "matched"
    language: str | None = None

    @property
    def dated(self) -> datetime:
        """Publication time, else when newswatch first saw the article."""
        return self.published_at or self.first_seen_at or self.created_at

    @property
    def date_basis(self) -> str:
        """ "published" or "first seen": what `dated` is."""
        return "published" if self.published_at else "first seen"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO strings)."""
        data = {k: _jsonable(getattr(self, k)) for k in self.__dataclass_fields__}
        data.update(dated=_jsonable(self.dated), date_basis=self.date_basis)
        return data


@dataclass(frozen=True)
class ArticleInfo:
    """The article a match is about."""

    id: int
    url: str
    title: str | None
    outlet: str | None
    source: str | None
    author: str | None
    published_at: datetime | None
    first_seen_at: datetime
    description: str | None
    text: str | None
    cluster_id: int | None


@dataclass(frozen=True)
class AlertInfo:
    """One outbox row for a match."""

    id: int
    kind: str
    channel: str
    status: str
    destination: str | None
    attempts: int
    sent_at: datetime | None
    slack_ts: str | None
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class ReviewInfo:
    """One recorded label."""

    id: int
    match_id: int
    label: str
    reviewer: str
    note: str | None
    created_at: datetime


@dataclass(frozen=True)
class MatchDetail:
    """Everything `matches show` and the detail page display."""

    row: MatchRow
    article: ArticleInfo
    explanation: dict[str, Any]
    entities: dict[str, Any]
    pack_version: str
    reviewed_at: datetime | None
    review_note: str | None
    cluster: list[ArticleInfo] = field(default_factory=list)
    other_matches: list[MatchRow] = field(default_factory=list)
    alerts: list[AlertInfo] = field(default_factory=list)
    reviews: list[ReviewInfo] = field(default_factory=list)


def _jsonable(value: Any) -> Any:
    if isinstance(value, list):
        return [list(v) if isinstance(v, tuple) else v for v in value]
    return value.isoformat() if isinstance(value, datetime) else value


def match_rows() -> AnySelect:
    """SELECT (Match, Article, source name), the shape every listing filters."""
    return (
        select(Match, Article, Source.name)
        .join(Article, Article.id == Match.article_id)
        .outerjoin(Source, Source.id == Article.source_id)
    )


def _to_row(match: Match, article: Article, source: str | None) -> MatchRow:
    return MatchRow(
        id=match.id,
        topic=match.topic,
        topic_label=match.topic_label,
        score=match.score,
        threshold=match.threshold,
        review_status=match.review_status,
        reviewed_by=match.reviewed_by,
        created_at=match.created_at,
        article_id=article.id,
        title=article.title or article.feed_title,
        url=article.url,
        source=source,
        outlet=article.site_name or source,
        published_at=article.published_at or article.feed_published_at,
        **snippet_of(match),
        first_seen_at=article.first_seen_at,
        state=match.state or "matched",
        language=article.language,
    )


def snippet_of(match: Match) -> dict[str, Any]:
    """The match's snippet and marks (marks only where they belong to that snippet)."""
    # snippet_marks are offsets into the explanation's snippet: only trust them with it.
    explained = (match.explanation or {}).get("snippet")
    marks = (match.explanation or {}).get("snippet_marks")
    if not isinstance(explained, str) or not explained:
        return {"snippet": match.snippet or "", "snippet_marks": []}
    if not isinstance(marks, list) or (match.snippet and match.snippet != explained):
        return {"snippet": match.snippet or explained, "snippet_marks": []}
    pairs = [m for m in marks if isinstance(m, list | tuple) and len(m) == 2]
    return {"snippet": explained, "snippet_marks": [(int(a), int(b)) for a, b in pairs]}


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def published_time() -> ColumnElement[datetime]:
    """The article's publication time (the page's, else the feed's), else when first seen."""
    return func.coalesce(Article.published_at, Article.feed_published_at, Article.first_seen_at)


def date_column(by: str) -> ColumnElement[datetime]:
    """The time a filter or sort uses: `published` (with fallback) or `found` (the match)."""
    if by not in DATE_BASES:
        raise ValueError(f"date basis must be one of {', '.join(DATE_BASES)}, not {by!r}")
    if by == "published":
        return published_time()
    return Match.created_at.expression


def place_pattern(name: str) -> str:
    """A LIKE pattern finding a place name as one JSON string in the stored entities."""
    quoted = json.dumps(name.strip())  # stored JSON escapes non-ASCII the same way
    escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filter_matches(stmt: AnySelect, query: MatchQuery) -> AnySelect:
    """Apply the query's filters (not its order, limit or offset) to a `match_rows()` select."""
    when = date_column(query.by)
    if query.state:
        stmt = stmt.where(Match.state == query.state)
    if query.topic:
        stmt = stmt.where(Match.topic == query.topic)
    if query.since is not None:
        stmt = stmt.where(when >= query.since)
    if query.until is not None:
        stmt = stmt.where(when < query.until)
    if query.source:
        # an outlet (site name) or a configured source's name
        stmt = stmt.where(or_(Source.name == query.source, Article.site_name == query.source))
    if query.language:
        stmt = stmt.where(func.lower(Article.language).like(query.language.lower() + "%"))
    if query.place:
        text = cast(Match.entities, Text)
        stmt = stmt.where(text.like(place_pattern(query.place), escape="\\"))
    if query.status:
        stmt = stmt.where(Match.review_status == query.status)
    if query.min_score is not None:
        stmt = stmt.where(Match.score >= query.min_score)
    if query.search and query.search.strip():
        # lower() + LIKE behaves the same on SQLite and PostgreSQL (no ILIKE needed).
        pattern = _like_pattern(query.search.strip())
        columns = (Article.title, Article.feed_title, Article.text, Match.snippet)
        stmt = stmt.where(
            or_(*(func.lower(func.coalesce(c, "")).like(pattern, escape="\\") for c in columns))
        )
    return stmt


def list_matches(session: Session, query: MatchQuery) -> list[MatchRow]:
    """Matches passing the filters, newest first (by publication time unless `by="found"`)."""
    when = date_column(query.by)
    stmt = filter_matches(match_rows(), query).order_by(when.desc(), Match.id.desc())
    stmt = stmt.limit(query.limit).offset(query.offset)
    return [_to_row(m, a, s) for m, a, s in session.execute(stmt).all()]


def count_matches(session: Session, query: MatchQuery) -> int:
    """How many matches pass the filters (ignoring limit and offset)."""
    stmt = filter_matches(match_rows(), query).with_only_columns(func.count(Match.id))
    return int(session.execute(stmt).scalar_one())


def topics(session: Session) -> list[tuple[str, str]]:
    """(topic, label) for every topic with stored matches."""
    stmt = (
        select(Match.topic, func.max(Match.topic_label)).group_by(Match.topic).order_by(Match.topic)
    )
    return [(t, label or t) for t, label in session.execute(stmt).all()]


def source_names(session: Session) -> list[str]:
    """Every configured source name, sorted."""
    return list(session.scalars(select(Source.name).order_by(Source.name)))


def _article_info(article: Article, source: str | None) -> ArticleInfo:
    return ArticleInfo(
        id=article.id,
        url=article.url,
        title=article.title or article.feed_title,
        outlet=article.site_name or source,
        source=source,
        author=article.author,
        published_at=article.published_at or article.feed_published_at,
        first_seen_at=article.first_seen_at,
        description=article.description,
        text=article.text,
        cluster_id=article.cluster_id,
    )


def _copy(cls: type[_T], obj: object) -> _T:
    """Build a plain dataclass from the same-named attributes of an ORM object."""
    return cls(**{name: getattr(obj, name) for name in cls.__dataclass_fields__})  # type: ignore[attr-defined]


def get_match(session: Session, match_id: int) -> MatchDetail | None:
    """The match with its article, cluster, sibling matches, alerts and reviews; None if absent."""
    found = session.execute(match_rows().where(Match.id == match_id)).first()
    if found is None:
        return None
    match, article, source = found
    cluster: list[ArticleInfo] = []
    if article.cluster_id is not None:
        stmt = (
            select(Article, Source.name)
            .outerjoin(Source, Source.id == Article.source_id)
            .where(Article.cluster_id == article.cluster_id, Article.id != article.id)
            .order_by(Article.first_seen_at, Article.id)
        )
        cluster = [_article_info(a, s) for a, s in session.execute(stmt).all()]
    siblings = session.execute(
        match_rows()
        .where(Match.article_id == article.id, Match.id != match.id)
        .order_by(Match.topic)
    ).all()
    # One outbox row per article and channel lists every topic: the article's rows are this
    # match's alerts too.
    alerts = session.scalars(select(Alert).where(Alert.article_id == article.id).order_by(Alert.id))
    reviews = session.scalars(select(Review).where(Review.match_id == match.id).order_by(Review.id))
    return MatchDetail(
        row=_to_row(match, article, source),
        article=_article_info(article, source),
        explanation=dict(match.explanation or {}),
        entities=dict(match.entities or {}),
        pack_version=match.pack_version,
        reviewed_at=match.reviewed_at,
        review_note=match.review_note,
        cluster=cluster,
        other_matches=[_to_row(m, a, s) for m, a, s in siblings],
        alerts=[_copy(AlertInfo, a) for a in alerts],
        reviews=[_copy(ReviewInfo, r) for r in reviews],
    )


def label_match(
    session: Session,
    match_id: int,
    label: str,
    *,
    reviewer: str,
    note: str | None = None,
    now: datetime | None = None,
) -> ReviewInfo | None:
    """Record a label in `reviews` and make it the match's current review; None if no match."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, not {label!r}")
    match = session.get(Match, match_id)
    if match is None:
        return None
    when = now or utcnow()
    note = note.strip() if note and note.strip() else None
    review = Review(match_id=match.id, label=label, reviewer=reviewer, note=note, created_at=when)
    session.add(review)
    match.review_status = label
    match.reviewed_by = reviewer
    match.reviewed_at = when
    match.review_note = note
    session.flush()
    return _copy(ReviewInfo, review)
