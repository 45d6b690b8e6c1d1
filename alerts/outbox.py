"""The outbox: alert rows written in the crawl's own transaction, one per article per channel.

An article that matches several topics routed to the same channel makes ONE row there, whose
view lists every topic (label and score); topics routed to other channels get their own row
in each. `Alert.topic` holds the lead (highest-scoring) topic, `payload["view"]["topics"]`
all of them and `payload["match_ids"]` their matches.

Each row carries an idempotency key the database keeps unique, and is inserted with
`INSERT … ON CONFLICT DO NOTHING`, so a second row for the same alert cannot exist and a
duplicate never aborts the caller's transaction:

    alert:c<cluster>:<channel>               first alert of a story (article id without a cluster)
    follow:a<article>:<channel>              another article of an alerted story (thread reply)
    revision:a<article>:r<n>:<channel>       an alerted article that was updated
    topics:a<article>:<t1+t2>:<channel>      an alerted article later matched more topics
    health:s<source>:<state>:<episode>       a source-health event

Floods are prevented at the door: articles older than `alerts.max_age_hours` and everything the
first crawl of a new source finds are stored with status `suppressed` and the reason.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.format import (
    AlertView,
    HealthView,
    TopicScore,
    build_alert_message,
    build_digest_message,
    build_follow_up_message,
    build_health_message,
    with_feedback,
)
from crawler.config import Settings
from crawler.matching.describe import explain_rules, rule_descriptions
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


def _merge_entities(matches: Sequence[Match]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for match in matches:
        explanation = match.explanation or {}
        raw = match.entities or explanation.get("entities") or {}
        for key, values in raw.items():
            names = merged.setdefault(str(key), [])
            names.extend(n for n in _names(values) if n not in names)
    return {k: v for k, v in merged.items() if v}


def _rules(match: Match) -> list[str]:
    rules: Any = (match.explanation or {}).get("rules") or match.rules or []
    return _names(list(rules) if isinstance(rules, dict) else rules)


def _topic_score(match: Match, descriptions: dict[str, str]) -> TopicScore:
    explanation = match.explanation or {}
    rules = _rules(match)
    return TopicScore(
        topic=match.topic,
        label=match.topic_label or str(explanation.get("label") or match.topic),
        score=float(match.score),
        threshold=match.threshold,
        rules=rules,
        reasons=[text for text, _ in explain_rules(rules, descriptions)],
    )


def alert_view(
    article: Article, match: Match | Sequence[Match], source: Source | None, settings: Settings
) -> AlertView:
    """Assemble what the Slack message shows from the ORM rows (pure data, no session use).

    With several matches the first is the lead: its snippet is shown, every topic is listed.
    """
    matches = [match] if isinstance(match, Match) else list(match)
    lead = matches[0]
    explanation = lead.explanation or {}
    config = source_config(settings, source)
    host = urlsplit(article.url).hostname or article.url
    outlet = article.site_name or (config.display_name if config else None)
    snippet = explanation.get("snippet")
    marks = (explanation.get("snippet_marks") or []) if snippet else []
    descriptions = rule_descriptions(settings.matching.topic_packs)
    topics = [_topic_score(m, descriptions) for m in matches]
    return AlertView(
        title=article.title or article.feed_title or article.url,
        url=article.url,
        outlet=outlet or (source.name if source is not None else host),
        topic=lead.topic,
        topic_label=topics[0].label,
        score=float(lead.score),
        threshold=lead.threshold,
        published_at=article.published_at or article.feed_published_at,
        snippet=str(snippet or lead.snippet or ""),
        snippet_marks=[(int(m[0]), int(m[1])) for m in marks if len(m) >= 2],
        entities=_merge_entities(matches),
        rules=list(dict.fromkeys(r for t in topics for r in t.rules)),
        reasons=list(dict.fromkeys(r for t in topics for r in t.reasons)),
        pack_version=lead.pack_version or str(explanation.get("pack_version") or ""),
        source_name=source.name if source is not None else None,
        revision=article.revision_count or 0,
        topics=topics,
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


def _thread_root(session: Session, article: Article, channel: str) -> Alert | None:
    """The first unsuppressed alert of the article's story in this channel (any topic)."""
    if article.cluster_id is None:
        return None
    cluster_articles = select(Article.id).where(Article.cluster_id == article.cluster_id)
    stmt = (
        select(Alert)
        .where(
            Alert.kind == "alert",
            Alert.channel == channel,
            Alert.status != "suppressed",
            Alert.article_id != article.id,
            or_(Alert.cluster_id == article.cluster_id, Alert.article_id.in_(cluster_articles)),
        )
        .order_by(Alert.id)
        .limit(1)
    )
    return session.scalars(stmt).first()


def row_topics(row: Alert) -> list[str]:
    """Every topic an outbox row announces (older rows name only their one topic)."""
    view = (row.payload or {}).get("view") or {}
    listed = [str(t.get("topic")) for t in view.get("topics") or [] if isinstance(t, dict)]
    return listed or ([row.topic] if row.topic else [])


def _again(
    session: Session,
    own: Sequence[Alert],
    values: dict[str, Any],
    article: Article,
    topics: Sequence[str],
    channel: str,
) -> Alert:
    """The article was alerted in this channel already: a revision or new topics, else nothing."""
    first = own[0]
    root_id = first.id if first.kind == "alert" else first.parent_alert_id
    if first.status == "suppressed" or root_id is None:
        return own[-1]
    covered = {t for row in own for t in row_topics(row)}
    new_topics = sorted(t for t in topics if t not in covered)
    values = {**values, "kind": "follow_up", "parent_alert_id": root_id}
    if article.revision_count:
        revision = f"r{article.revision_count}"
        key = idempotency_key("revision", f"a{article.id}", revision, channel)
        row, inserted = insert_alert(session, {**values, "idempotency_key": key})
        if inserted or not new_topics:
            return row
    if not new_topics:
        return own[-1]
    key = idempotency_key("topics", f"a{article.id}", "+".join(new_topics), channel)
    return insert_alert(session, {**values, "idempotency_key": key})[0]


def _enqueue_one(
    session: Session, base: dict[str, Any], article: Article, topics: Sequence[str], channel: str
) -> Alert:
    values = {**base, "channel": channel}
    own = session.scalars(
        select(Alert)
        .where(
            Alert.article_id == article.id,
            Alert.channel == channel,
            Alert.kind.in_(ALERT_KINDS),
        )
        .order_by(Alert.id)
    ).all()
    if own:  # the same URL again: nothing new unless revised or matching more topics
        return _again(session, own, values, article, topics, channel)
    incident = (values.get("payload") or {}).get("incident")
    if incident:  # threads by incident instead of by story (alerts/incidents.py)
        from alerts.incidents import enqueue_incident_row

        return enqueue_incident_row(session, values, article, channel, incident)
    root = _thread_root(session, article, channel)
    if root is None:
        story = f"c{article.cluster_id}" if article.cluster_id is not None else f"a{article.id}"
        key = idempotency_key("alert", story, channel)
        row, inserted = insert_alert(session, {**values, "idempotency_key": key, "kind": "alert"})
        if inserted or row.article_id == article.id:
            return row
        if row.status == "suppressed":  # the story was never announced: this article opens it
            key = idempotency_key("alert", f"a{article.id}", channel)
            return insert_alert(session, {**values, "idempotency_key": key, "kind": "alert"})[0]
        root = row  # another article of the story won the race for the first alert
    key = idempotency_key("follow", f"a{article.id}", channel)
    values.update(kind="follow_up", parent_alert_id=root.id)
    return insert_alert(session, {**values, "idempotency_key": key})[0]


def enqueue_article_alerts(
    session: Session,
    *,
    article: Article,
    matches: Sequence[Match],
    source: Source | None,
    settings: Settings,
    first_crawl: bool,
    now: datetime | None = None,
    force: bool = False,
) -> list[Alert]:
    """Write the outbox rows for an article's new matches: one per channel, every topic listed.

    Only `matched` rows alert (possible and missed ones never do) unless `force` says a person
    asked for it (promoting a possible match with --alert). Call it once per article with all
    its new matches; a later call with more topics threads a short follow-up.
    """
    now = now or utcnow()
    session.flush()  # the article and matches need their ids
    alerting = [m for m in matches if force or (m.state or "matched") == "matched"]
    if not alerting:
        log.info("event=alert_not_enqueued article_id=%s reason=no matched match", article.id)
        return []
    reason = suppression_reason(
        article, source, settings, first_crawl=first_crawl, now=now, session=session
    )
    from alerts.incidents import detained_in, incident_payload, redact_view

    incident = incident_payload(session, article, [m.topic for m in alerting], settings)
    # Incident alerts never name detained people (incidents.redact_names).
    names = detained_in(article, alerting, settings) if incident else {}
    by_channel: dict[str, list[Match]] = {}
    for match in sorted(alerting, key=lambda m: (-float(m.score), m.topic)):
        by_channel.setdefault(settings.alerts.channel_for(match.topic), []).append(match)
    rows: list[Alert] = []
    for channel, group in by_channel.items():
        base: dict[str, Any] = {
            "match_id": group[0].id,
            "article_id": article.id,
            "cluster_id": article.cluster_id,
            "source_id": source.id if source is not None else None,
            "topic": group[0].topic,
            "status": "suppressed" if reason else "pending",
            "last_error": reason,
            "payload": {
                "view": redact_view(alert_view(article, group, source, settings).to_dict(), names),
                "match_ids": [m.id for m in group],
                # the message carries the Slack label buttons (Socket Mode is configured)
                **({"feedback": True} if settings.slack.app_token else {}),
                **({"incident": incident} if incident else {}),
            },
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        row = _enqueue_one(session, base, article, [m.topic for m in group], channel)
        rows.append(row)
        log.info(
            "event=alert_enqueued alert_id=%s kind=%s status=%s channel=%s topics=%s article_id=%s",
            row.id,
            row.kind,
            row.status,
            row.channel,
            "+".join(m.topic for m in group),
            row.article_id,
        )
    return rows


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
    """One match's outbox rows (prefer `enqueue_article_alerts` with all the article's matches)."""
    return enqueue_article_alerts(
        session,
        article=article,
        matches=[match],
        source=source,
        settings=settings,
        first_crawl=first_crawl,
        now=now,
        force=force,
    )


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
    parent_view = None
    if parent is not None and "view" in (parent.payload or {}):
        parent_view = AlertView.from_dict(parent.payload["view"])
    incident = payload.get("incident")
    if isinstance(incident, dict) and incident.get("role"):
        from alerts.incidents import build_incident_message

        return build_incident_message(view, incident, parent=parent_view, threaded=threaded)
    if row.kind == "follow_up":
        return build_follow_up_message(view, parent=parent_view, threaded=threaded)
    message = build_alert_message(view)
    match_ids = [int(i) for i in payload.get("match_ids") or [row.match_id] if i is not None]
    if payload.get("feedback") and match_ids:
        return with_feedback(message, match_ids)
    return message
