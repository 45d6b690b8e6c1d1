"""Incident writes: link a matched article to its incident, and people's merges and splits.

`link_article` runs inside the store stage's transaction, so an article, its matches, its
incident link and its outbox rows commit together or not at all. A link a person made
(`decided_by = "person"`) is never moved by the linker; relinking an article that already has
a link keeps it, which is what keeps decisions across rematches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.config import IncidentsConfig
from crawler.errors import NewswatchError
from crawler.incidents import IncidentRecord, IncidentState, LinkSettings, decide, extract_record
from crawler.incidents.model import FIELD_NAMES, INCIDENT_KINDS
from crawler.storage.models import Article, Match, utcnow
from crawler.storage.models_incidents import Incident, IncidentArticle, IncidentDecision

log = logging.getLogger(__name__)
MAX_CANDIDATES = 500
SUMMARY_FIELDS = ("state", "county", "city", "court", "court_kind", "agency")


class IncidentNotFound(NewswatchError):
    """No incident (or no such article in it) with the id given."""

    exit_code = 1


def link_settings(cfg: IncidentsConfig) -> LinkSettings:
    """The pure linker's settings from the `[incidents]` config."""
    return LinkSettings(
        window_days=cfg.window_days,
        same_event_days=cfg.same_event_days,
        threshold=cfg.link_threshold,
    )


def article_date(article: Article) -> date:
    """The date relative expressions resolve against: published, feed date, else first seen."""
    when = article.published_at or article.feed_published_at or article.first_seen_at
    return (when or utcnow()).date()


def _entities(match: Match) -> dict[str, list[str]] | None:
    """The entities the matcher stored with the match (None: find them again)."""
    stored = match.entities or {}
    if not stored:
        return None
    return {
        str(k): [str(x) for x in v if isinstance(x, str)]
        for k, v in stored.items()
        if isinstance(v, list)
    }


def record_for(article: Article, match: Match, cfg: IncidentsConfig) -> IncidentRecord:
    """The incident record of a stored article for the topic of one match."""
    return extract_record(
        match.topic,
        article.title or article.feed_title or "",
        article.text or "",
        article_date(article),
        entities=_entities(match),
        redact_names=cfg.redact_names,
    )


def _records(links: Iterable[IncidentArticle]) -> list[IncidentRecord]:
    return [IncidentRecord.from_dict(link.record) for link in links if link.record]


# Each crawl process keeps the linking state of the incidents it has seen, keyed by incident id
# with the (updated_at, article_count) it was built at: re-reading every candidate's records for
# each article made linking a crawl's matches quadratic. Any change to an incident (a new link,
# a merge or split, a refresh) moves its updated_at, so a stale state is always rebuilt.
_STATES: dict[tuple[str, int], tuple[tuple[datetime | None, int], IncidentState]] = {}
MAX_CACHED = 5000


def candidate_states(
    session: Session, kind: str, around: date | None, cfg: LinkSettings
) -> list[IncidentState]:
    """Open incidents of `kind` whose dates come within the window of `around`."""
    query = select(Incident).where(Incident.kind == kind, Incident.status == "open")
    if around is not None:
        query = query.where(
            (Incident.last_date.is_(None))
            | (Incident.last_date >= around - timedelta(days=cfg.window_days))
        )
    incidents = list(
        session.scalars(query.order_by(Incident.updated_at.desc()).limit(MAX_CANDIDATES))
    )
    if not incidents:
        return []
    db = _db_key(session)
    stale = [
        i.id
        for i in incidents
        if (cached := _STATES.get((db, i.id))) is None
        or cached[0] != (i.updated_at, i.article_count)
    ]
    if stale:
        by_incident: dict[int, list[IncidentArticle]] = {ident: [] for ident in stale}
        rows = session.scalars(
            select(IncidentArticle).where(IncidentArticle.incident_id.in_(stale))
        )
        for link in rows:
            by_incident[link.incident_id].append(link)
        if len(_STATES) > MAX_CACHED:
            _STATES.clear()
        for incident in incidents:
            if incident.id in by_incident:
                state = IncidentState.from_records(
                    incident.id, kind, _records(by_incident[incident.id])
                )
                _STATES[db, incident.id] = ((incident.updated_at, incident.article_count), state)
    return [_STATES[db, i.id][1] for i in incidents]


def _db_key(session: Session) -> str:
    """Which database the session talks to (a process may open several, as tests do)."""
    bind = session.get_bind()
    return str(bind.engine.url)


def _fold_cached(
    session: Session,
    incident: Incident,
    kind: str,
    record: IncidentRecord,
    before: tuple[datetime | None, int],
) -> None:
    """Bring this process's cached state of the incident up to date with its new record."""
    key = (_db_key(session), incident.id)
    cached = _STATES.get(key)
    if incident.article_count == 1:
        state = IncidentState.from_records(incident.id, kind, [record])
    elif cached is not None and cached[0] == before:
        state = cached[1]
        state.add(record)
    else:
        _STATES.pop(key, None)
        return
    _STATES[key] = ((incident.updated_at, incident.article_count), state)


def refresh_incident(session: Session, incident: Incident) -> None:
    """Recompute an incident's dates, fields, title and counts from its links."""
    session.flush()
    links = sorted(
        session.scalars(select(IncidentArticle).where(IncidentArticle.incident_id == incident.id)),
        key=lambda link: (link.event_date or date.max, link.id),
    )
    incident.article_count = len(links)
    if not links:
        return
    records = [IncidentRecord.from_dict(link.record) for link in links]
    dates = [link.event_date for link in links if link.event_date is not None]
    incident.first_date = min(dates) if dates else None
    incident.last_date = max(dates) if dates else None
    first = min(links, key=lambda link: link.id)
    incident.first_article_id = first.article_id
    incident.title = IncidentRecord.from_dict(first.record).summary or incident.title
    incident.development = links[-1].development
    best: dict[str, dict[str, object]] = {}
    for record in records:  # the earliest development that states a field wins
        _fill_fields(best, record)
    _set_fields(incident, best)


def append_link(
    session: Session, incident: Incident, link: IncidentArticle, record: IncidentRecord
) -> bool:
    """Fold a new link into the incident without re-reading its other links, when the new one
    sorts after all of them as `refresh_incident` orders them (the usual case: news arrives in
    date order); False, changing nothing, when it does not. The result is the same either way.
    """
    if not incident.article_count:
        return False
    session.flush()  # the link needs its id
    when = record.event_date
    if when is not None:
        if incident.last_date is not None and when < incident.last_date:
            return False
        undated = session.scalar(
            select(IncidentArticle.id)
            .where(
                IncidentArticle.incident_id == incident.id,
                IncidentArticle.event_date.is_(None),
                IncidentArticle.id != link.id,
            )
            .limit(1)
        )
        if undated is not None:  # an undated link sorts after every dated one
            return False
        incident.first_date = min(incident.first_date or when, when)
        incident.last_date = max(incident.last_date or when, when)
    incident.article_count += 1
    incident.development = link.development
    best = dict(incident.fields or {})
    _fill_fields(best, record)  # earlier developments' fields win: the new one fills gaps
    _set_fields(incident, best)
    return True


def _fill_fields(best: dict[str, dict[str, object]], record: IncidentRecord) -> None:
    """Add the fields `record` states that `best` does not have yet."""
    for name in FIELD_NAMES:
        found = record.fields.get(name)
        if found is not None and name not in best:
            best[name] = found.to_dict()


def _set_fields(incident: Incident, best: dict[str, dict[str, object]]) -> None:
    """Store the incident's fields and their summary columns; mark it changed."""
    incident.fields = best
    for name in SUMMARY_FIELDS:
        value = best.get(name, {}).get("value")
        setattr(incident, name, str(value) if value is not None else None)
    incident.updated_at = utcnow()


def _new_incident(session: Session, kind: str, now: datetime) -> Incident:
    incident = Incident(kind=kind, status="open", created_at=now, updated_at=now, fields={})
    session.add(incident)
    session.flush()
    return incident


def link_article(
    session: Session,
    article: Article,
    match: Match,
    cfg: IncidentsConfig,
    *,
    now: datetime | None = None,
) -> IncidentArticle | None:
    """Join the article to its incident for the match's topic (or open one); None if off."""
    if not cfg.enabled or match.topic not in INCIDENT_KINDS or match.state != "matched":
        return None
    now = now or utcnow()
    session.flush()
    existing = session.scalars(
        select(IncidentArticle).where(
            IncidentArticle.article_id == article.id, IncidentArticle.kind == match.topic
        )
    ).first()
    if existing is not None:
        return existing  # a link (a person's or the linker's) is never moved by relinking
    record = record_for(article, match, cfg)
    settings = link_settings(cfg)
    decision = decide(
        record, candidate_states(session, match.topic, record.event_date, settings), settings
    )
    incident = session.get(Incident, decision.incident_id) if decision.incident_id else None
    if incident is None:
        incident = _new_incident(session, match.topic, now)
    before = (incident.updated_at, incident.article_count)
    link = IncidentArticle(
        incident_id=incident.id,
        article_id=article.id,
        match_id=match.id,
        kind=match.topic,
        development=record.development,
        event_date=record.event_date,
        record=record.to_dict(),
        link_score=decision.score,
        link_reasons={"reasons": list(decision.reasons)},
        decided_by="linker",
        created_at=now,
    )
    session.add(link)
    if not append_link(session, incident, link, record):
        refresh_incident(session, incident)
    _fold_cached(session, incident, match.topic, record, before)
    log.info(
        "event=incident_linked incident_id=%s article_id=%s kind=%s development=%s new=%s "
        "score=%.1f",
        incident.id,
        article.id,
        match.topic,
        record.development,
        decision.incident_id is None,
        decision.score,
    )
    return link


def refresh_link(
    session: Session, article: Article, match: Match, cfg: IncidentsConfig
) -> IncidentArticle | None:
    """Re-extract a revised article's record in place (its incident stays: it may be pinned)."""
    if not cfg.enabled or match.topic not in INCIDENT_KINDS:
        return None
    link = session.scalars(
        select(IncidentArticle).where(
            IncidentArticle.article_id == article.id, IncidentArticle.kind == match.topic
        )
    ).first()
    if link is None:
        return link_article(session, article, match, cfg)
    record = record_for(article, match, cfg)
    link.record, link.development, link.event_date = (
        record.to_dict(),
        record.development,
        record.event_date,
    )
    incident = session.get(Incident, link.incident_id)
    if incident is not None:
        refresh_incident(session, incident)
    return link


def _incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None or incident.status == "merged":
        raise IncidentNotFound(f"no open incident {incident_id}")
    return incident


def merge_incidents(
    session: Session, target_id: int, other_id: int, *, reviewer: str, note: str | None = None
) -> Incident:
    """Fold incident `other_id` into `target_id`; every moved link is pinned."""
    if target_id == other_id:
        raise IncidentNotFound("cannot merge an incident into itself")
    target, other = _incident(session, target_id), _incident(session, other_id)
    if target.kind != other.kind:
        raise IncidentNotFound(f"incidents {target_id} and {other_id} are of different kinds")
    for link in session.scalars(
        select(IncidentArticle).where(IncidentArticle.incident_id.in_([target.id, other.id]))
    ):
        link.incident_id, link.decided_by = target.id, "person"
    other.status, other.merged_into_id, other.article_count = "merged", target.id, 0
    session.add(
        IncidentDecision(
            action="merge",
            incident_id=target.id,
            other_incident_id=other.id,
            reviewer=reviewer,
            note=note,
        )
    )
    refresh_incident(session, target)
    log.info("event=incidents_merged incident_id=%s merged=%s by=%s", target.id, other.id, reviewer)
    return target


def split_article(
    session: Session, incident_id: int, article_id: int, *, reviewer: str, note: str | None = None
) -> Incident:
    """Move one article out of an incident into a new incident of its own (pinned)."""
    incident = _incident(session, incident_id)
    link = session.scalars(
        select(IncidentArticle).where(
            IncidentArticle.incident_id == incident.id, IncidentArticle.article_id == article_id
        )
    ).first()
    if link is None:
        raise IncidentNotFound(f"article {article_id} is not in incident {incident_id}")
    fresh = _new_incident(session, incident.kind, utcnow())
    link.incident_id, link.decided_by = fresh.id, "person"
    session.add(
        IncidentDecision(
            action="split",
            incident_id=incident.id,
            other_incident_id=fresh.id,
            article_id=article_id,
            reviewer=reviewer,
            note=note,
        )
    )
    refresh_incident(session, fresh)
    refresh_incident(session, incident)
    if incident.article_count == 0:
        incident.status, incident.merged_into_id = "merged", fresh.id
    log.info(
        "event=incident_split incident_id=%s article_id=%s new_incident_id=%s by=%s",
        incident.id,
        article_id,
        fresh.id,
        reviewer,
    )
    return fresh
