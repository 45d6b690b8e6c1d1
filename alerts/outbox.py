"""The outbox: alert rows written in the crawl's own transaction, one per alert per channel.

Each row carries an idempotency key the database keeps unique, and is inserted with
`INSERT … ON CONFLICT DO NOTHING`, so a second row for the same alert cannot exist and a
duplicate never aborts the caller's transaction:

    alert:c<cluster>:<topic>:<channel>       first alert of a story (article id without a cluster)
    follow:a<article>:<topic>:<channel>      another article of an alerted story (thread reply)
    revision:a<article>:r<n>:<topic>:<channel>  an alerted article that was updated
    health:s<source>:<state>:<episode>       a source-health event

Floods are prevented at the door: articles older than `alerts.max_age_hours` and everything the
first crawl of a new source finds are stored with status `suppressed` and the reason.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.format import (
    AlertView,
    HealthView,
    build_alert_message,
    build_digest_message,
    build_follow_up_message,
    build_health_message,
    with_feedback,
)
from crawler.config import Settings
from crawler.sources import SourceConfig
from crawler.storage.models import Alert, Article, Match, Source, utcnow
from crawler.storage.models_feedback import SourceMute

log = logging.getLogger(__name__)
MAX_KEY = 300
ALERT_KINDS = ("alert", "follow_up")


def idempotency_key(*parts: object) -> str:
    """Join key parts with ':'; over-long keys keep their head and gain a hash."""
    key = ":".join(str(p) for p in parts)
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"{key[: MAX_KEY - 41]}#{digest}"


def source_config(settings: Settings, source: Source | None) -> SourceConfig | None:
    """The configured source behind a `sources` row, if it is still configured."""
    if source is None:
        return None
    return next((s for s in settings.sources if s.name == source.name), None)


def article_time(article: Article) -> tuple[datetime, str]:
    """When the article appeared: published, else the feed's date, else first seen."""
    if article.published_at is not None:
        return article.published_at, "published"
    if article.feed_published_at is not None:
        return article.feed_published_at, "feed date"
    return article.first_seen_at or utcnow(), "first seen"


def active_mute(session: Session, source: Source | None, now: datetime) -> SourceMute | None:
    """The mute in force for a source (the one lasting longest), if any."""
    if source is None or source.id is None:
        return None
    stmt = (
        select(SourceMute)
        .where(SourceMute.source_id == source.id, SourceMute.until > now)
        .order_by(SourceMute.until.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def suppression_reason(
    article: Article,
    source: Source | None,
    settings: Settings,
    *,
    first_crawl: bool,
    now: datetime,
    session: Session | None = None,
) -> str | None:
    """Why this article must be stored but not alerted, or None to alert it."""
    config = source_config(settings, source)
    if first_crawl:
        allowed = settings.alerts.alert_first_crawl
        if config is not None and config.alert_first_crawl is not None:
            allowed = config.alert_first_crawl
        if not allowed:
            name = source.name if source is not None else "?"
            return f"suppressed: first crawl of source {name} (set alert_first_crawl to alert it)"
    mute = active_mute(session, source, now) if session is not None else None
    if mute is not None:
        return (
            f"suppressed: source {source.name if source else '?'} muted by {mute.muted_by} "
            f"until {mute.until.isoformat(timespec='minutes')}"
        )
    when, basis = article_time(article)
    age_hours = (now - when).total_seconds() / 3600
    if age_hours > settings.alerts.max_age_hours:
        return (
            f"suppressed: older than {settings.alerts.max_age_hours:g}h "
            f"({basis} {when.isoformat(timespec='minutes')})"
        )
    return None


def _names(values: Any) -> list[str]:
    out: list[str] = []
    for value in values if isinstance(values, list | tuple) else [values]:
        if isinstance(value, dict):
            value = value.get("name") or value.get("text") or value.get("id") or value.get("rule")
        if value:
            out.append(str(value))
    return out


def alert_view(
    article: Article, match: Match, source: Source | None, settings: Settings
) -> AlertView:
    """Assemble what the Slack message shows from the ORM rows (pure data, no session use)."""
    explanation = match.explanation or {}
    config = source_config(settings, source)
    host = urlsplit(article.url).hostname or article.url
    outlet = article.site_name or (config.display_name if config else None)
    raw_entities = match.entities or explanation.get("entities") or {}
    entities = {str(k): _names(v) for k, v in raw_entities.items() if v}
    rules: Any = explanation.get("rules") or match.rules or []
    snippet = explanation.get("snippet")
    marks = (explanation.get("snippet_marks") or []) if snippet else []
    return AlertView(
        title=article.title or article.feed_title or article.url,
        url=article.url,
        outlet=outlet or (source.name if source is not None else host),
        topic=match.topic,
        topic_label=match.topic_label or str(explanation.get("label") or match.topic),
        score=float(match.score),
        threshold=match.threshold,
        published_at=article.published_at or article.feed_published_at,
        snippet=str(snippet or match.snippet or ""),
        snippet_marks=[(int(m[0]), int(m[1])) for m in marks if len(m) >= 2],
        entities=entities,
        rules=_names(list(rules) if isinstance(rules, dict) else rules),
        pack_version=match.pack_version or str(explanation.get("pack_version") or ""),
        source_name=source.name if source is not None else None,
        revision=article.revision_count or 0,
    )


def insert_alert(session: Session, values: dict[str, Any]) -> tuple[Alert, bool]:
    """Insert an outbox row unless its idempotency key exists; return (row, inserted)."""
    key = values["idempotency_key"]
    dialect = session.get_bind().dialect.name
    new_id: int | None
    if dialect in ("postgresql", "sqlite"):
        from sqlalchemy.dialects import postgresql, sqlite

        module: Any = postgresql if dialect == "postgresql" else sqlite
        stmt = module.insert(Alert).values(**values)
        stmt = stmt.on_conflict_do_nothing(index_elements=["idempotency_key"])
        new_id = session.execute(stmt.returning(Alert.id)).scalar_one_or_none()
    else:  # any other database: a savepoint keeps the caller's transaction alive
        try:
            with session.begin_nested():
                row = Alert(**values)
                session.add(row)
            new_id = row.id
        except IntegrityError:
            new_id = None
    if new_id is None:
        existing = session.scalars(select(Alert).where(Alert.idempotency_key == key)).one()
        return existing, False
    created = session.get(Alert, new_id)
    assert created is not None
    return created, True


def _thread_root(session: Session, article: Article, topic: str, channel: str) -> Alert | None:
    """The first unsuppressed alert of the article's story for this topic and channel."""
    if article.cluster_id is None:
        return None
    cluster_articles = select(Article.id).where(Article.cluster_id == article.cluster_id)
    stmt = (
        select(Alert)
        .where(
            Alert.kind == "alert",
            Alert.topic == topic,
            Alert.channel == channel,
            Alert.status != "suppressed",
            Alert.article_id != article.id,
            or_(Alert.cluster_id == article.cluster_id, Alert.article_id.in_(cluster_articles)),
        )
        .order_by(Alert.id)
        .limit(1)
    )
    return session.scalars(stmt).first()


def _enqueue_one(
    session: Session, base: dict[str, Any], article: Article, topic: str, channel: str
) -> Alert:
    values = {**base, "channel": channel}
    own = session.scalars(
        select(Alert)
        .where(
            Alert.article_id == article.id,
            Alert.topic == topic,
            Alert.channel == channel,
            Alert.kind.in_(ALERT_KINDS),
        )
        .order_by(Alert.id)
    ).all()
    if own:  # the same URL again: nothing new unless the article was revised since
        first = own[0]
        root_id = first.id if first.kind == "alert" else first.parent_alert_id
        if first.status == "suppressed" or root_id is None or not article.revision_count:
            return own[-1]
        revision = f"r{article.revision_count}"
        key = idempotency_key("revision", f"a{article.id}", revision, topic, channel)
        values.update(kind="follow_up", parent_alert_id=root_id)
        return insert_alert(session, {**values, "idempotency_key": key})[0]
    root = _thread_root(session, article, topic, channel)
    if root is None:
        story = f"c{article.cluster_id}" if article.cluster_id is not None else f"a{article.id}"
        key = idempotency_key("alert", story, topic, channel)
        row, inserted = insert_alert(session, {**values, "idempotency_key": key, "kind": "alert"})
        if inserted or row.article_id == article.id:
            return row
        if row.status == "suppressed":  # the story was never announced: this article opens it
            key = idempotency_key("alert", f"a{article.id}", topic, channel)
            return insert_alert(session, {**values, "idempotency_key": key, "kind": "alert"})[0]
        root = row  # another article of the story won the race for the first alert
    key = idempotency_key("follow", f"a{article.id}", topic, channel)
    values.update(kind="follow_up", parent_alert_id=root.id)
    return insert_alert(session, {**values, "idempotency_key": key})[0]


def enqueue_match_alerts(
    session: Session,
    *,
    article: Article,
    match: Match,
    source: Source | None,
    settings: Settings,
    first_crawl: bool,
    now: datetime | None = None,
    force: bool = False,
) -> list[Alert]:
    """Write the outbox rows for a new match in the caller's transaction (one per channel).

    Only `matched` matches are alerted: a possible or missed one is refused (no rows) unless
    `force` says a person asked for it (promoting a possible match with --alert).
    """
    now = now or utcnow()
    session.flush()  # the article and match need their ids
    if match.state != "matched" and not force:
        log.info("event=alert_not_enqueued match_id=%s state=%s", match.id, match.state)
        return []
    reason = suppression_reason(
        article, source, settings, first_crawl=first_crawl, now=now, session=session
    )
    view = alert_view(article, match, source, settings).to_dict()
    base: dict[str, Any] = {
        "match_id": match.id,
        "article_id": article.id,
        "cluster_id": article.cluster_id,
        "source_id": source.id if source is not None else None,
        "topic": match.topic,
        "status": "suppressed" if reason else "pending",
        "last_error": reason,
        # `feedback`: the message carries the Slack buttons (Socket Mode is configured)
        "payload": {"view": view, **({"feedback": True} if settings.slack.app_token else {})},
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    rows: list[Alert] = []
    for channel in dict.fromkeys([settings.alerts.channel_for(match.topic)]):
        row = _enqueue_one(session, base, article, match.topic, channel)
        rows.append(row)
        log.info(
            "event=alert_enqueued alert_id=%s kind=%s status=%s channel=%s topic=%s article_id=%s",
            row.id,
            row.kind,
            row.status,
            row.channel,
            row.topic,
            row.article_id,
        )
    return rows


def health_episode(source: Source, state: str) -> str:
    """What identifies one episode of a state: the last success (or new article when quiet)."""
    marker = source.last_new_article_at if state == "quiet" else source.last_success_at
    return marker.strftime("%Y%m%dT%H%M%S") if marker else "never"


def enqueue_health_alert(
    session: Session,
    *,
    source: Source,
    state: str,
    message: str,
    settings: Settings,
    now: datetime | None = None,
    episode: str | None = None,
) -> Alert:
    """Write one health alert per source, state and episode (repeated calls return the row)."""
    now = now or utcnow()
    session.flush()
    episode = episode or health_episode(source, state)
    channel = settings.alerts.health_channel or settings.alerts.default_channel
    values: dict[str, Any] = {
        "idempotency_key": idempotency_key("health", f"s{source.id}", state, episode),
        "kind": "health",
        "source_id": source.id,
        "channel": channel,
        "status": "pending",
        "payload": {
            "health": {"source": source.name, "state": state, "message": message, "url": source.url}
        },
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    row, inserted = insert_alert(session, values)
    if inserted:
        log.info(
            "event=health_alert_enqueued alert_id=%s source=%s state=%s channel=%s",
            row.id,
            source.name,
            state,
            channel,
        )
    return row


def message_for(row: Alert, parent: Alert | None, *, threaded: bool, cap: int) -> dict[str, Any]:
    """Build the Slack payload of an outbox row from the data stored in it."""
    payload = row.payload or {}
    if row.kind == "health":
        return build_health_message(HealthView(**payload["health"]))
    if row.kind == "digest":
        items = [AlertView.from_dict(item) for item in payload.get("items") or []]
        return build_digest_message(row.channel, items, cap=cap)
    view = AlertView.from_dict(payload["view"])
    if row.kind == "follow_up":
        parent_view = None
        if parent is not None and "view" in (parent.payload or {}):
            parent_view = AlertView.from_dict(parent.payload["view"])
        return build_follow_up_message(view, parent=parent_view, threaded=threaded)
    message = build_alert_message(view)
    if payload.get("feedback") and row.match_id is not None:
        return with_feedback(message, row.match_id)
    return message
