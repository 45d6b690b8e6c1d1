"""Alerts per incident, on top of the article-level outbox (one message per article per channel).

The first article of an incident to alert in a channel posts "New incident" with the
incident's fields; later articles reply in that alert's thread ("Update: charges filed" for a
new development, "Also reported by …" for more coverage of one already told). Developments
listed in `incidents.top_level` (a ruling, say) post at top level instead, naming the
incident. Keys keep the outbox exactly-once:

    alert:i<incident>:<channel>       the incident's first alert in the channel
    follow:a<article>:<channel>       a thread reply (the same key a story follow-up uses)
    incident:a<article>:<channel>     a top-level update of an announced incident
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.format import (
    AlertView,
    build_alert_message,
    build_follow_up_message,
    clean,
    context,
    cut,
    escape,
    fields_section,
    fit,
    section,
)
from alerts.outbox import _thread_root, idempotency_key, insert_alert
from crawler.config import Settings
from crawler.storage.models import Alert, Article
from crawler.storage.models_incidents import Incident, IncidentArticle

FIELD_LABELS = (
    ("event_date", "Date"),
    ("court", "Court"),
    ("court_kind", "Court kind"),
    ("city", "City"),
    ("county", "County"),
    ("state", "State"),
    ("agency", "Agency"),
    ("detained", "Detained"),
    ("circumstance", "Circumstance"),
    ("tipped_by", "Tip-off"),
    ("outcome", "Outcome"),
    ("parties", "Parties"),
    ("status", "Status"),
)
DEVELOPMENT_LABELS = {
    "arrest": "new arrest",
    "charge": "charges filed",
    "policy": "policy change",
    "lawsuit_filed": "lawsuit filed",
    "287g_joined": "287(g) joined",
    "287g_renewed": "287(g) renewed",
    "287g_ended": "287(g) ended",
}
KIND_LABELS = {"courthouse_arrest": "courthouse arrest", "sanctuary_dispute": "sanctuary dispute"}


def development_label(development: str) -> str:
    """How a development reads in an alert ("charges filed", "ruling")."""
    return DEVELOPMENT_LABELS.get(development, development.replace("_", " "))


def incident_payload(
    session: Session, article: Article, topics: list[str], settings: Settings
) -> dict[str, Any] | None:
    """What the alerts of this article say about its incident (None: no incident alerts)."""
    cfg = settings.incidents
    if not cfg.enabled or not cfg.alerts:
        return None
    links = session.scalars(
        select(IncidentArticle).where(
            IncidentArticle.article_id == article.id, IncidentArticle.kind.in_(topics)
        )
    ).all()
    link = next((x for t in topics for x in links if x.kind == t), None)
    if link is None:
        return None
    incident = session.get(Incident, link.incident_id)
    if incident is None:
        return None
    earlier = session.scalars(
        select(IncidentArticle.development).where(
            IncidentArticle.incident_id == incident.id, IncidentArticle.id < link.id
        )
    ).all()
    record_fields = (link.record or {}).get("fields") or {}
    merged = {**(incident.fields or {}), **{k: v for k, v in record_fields.items() if v}}
    return {
        "id": incident.id,
        "kind": incident.kind,
        "title": incident.title,
        "development": link.development,
        "told_before": link.development in set(earlier),
        "top_level": link.development in cfg.top_level,
        "fields": {
            name: str(found.get("value"))
            for name, found in merged.items()
            if isinstance(found, dict) and found.get("value")
        },
    }


def detained_in(article: Article, matches: list[Any], settings: Settings) -> dict[str, str]:
    """Detained people's names in the article → stand-ins, when redaction is on (never stored)."""
    if not settings.incidents.redact_names:
        return {}
    from crawler.incidents.redact import detained_names

    known: list[str] = []
    officials: list[str] = []
    for match in matches:
        entities = match.entities or {}
        for kind in ("place", "court", "agency"):
            known += [str(v) for v in entities.get(kind) or [] if isinstance(v, str)]
        officials += [str(v) for v in entities.get("official") or [] if str(v)[:1].isupper()]
    names = detained_names(article.text or "", officials, known)
    for name, stand_in in detained_names(article.title or "", officials, known).items():
        names.setdefault(name, stand_in)
    return names


def redact_view(view: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The alert view with detained people's names replaced in its title and snippet."""
    if not names:
        return view
    from crawler.incidents.redact import redact

    out = dict(view)
    out["title"] = redact(str(view.get("title") or ""), names)
    snippet = redact(str(view.get("snippet") or ""), names)
    if snippet != view.get("snippet"):
        out["snippet"], out["snippet_marks"] = snippet, []  # the marks' offsets moved
    return out


def incident_root(
    session: Session, incident_id: int, article_id: int, channel: str
) -> Alert | None:
    """The incident's first unsuppressed top-level alert in this channel (another article's)."""
    articles = select(IncidentArticle.article_id).where(IncidentArticle.incident_id == incident_id)
    stmt = (
        select(Alert)
        .where(
            Alert.kind == "alert",
            Alert.channel == channel,
            Alert.status != "suppressed",
            Alert.article_id != article_id,
            Alert.article_id.in_(articles),
        )
        .order_by(Alert.id)
        .limit(1)
    )
    return session.scalars(stmt).first()


def _with_role(values: dict[str, Any], info: dict[str, Any], role: str) -> dict[str, Any]:
    payload = dict(values.get("payload") or {})
    payload["incident"] = {**info, "role": role}
    return {**values, "payload": payload}


def enqueue_incident_row(
    session: Session, values: dict[str, Any], article: Article, channel: str, info: dict[str, Any]
) -> Alert:
    """The outbox row of an article that belongs to an incident, for one channel."""
    root = incident_root(session, int(info["id"]), article.id, channel)
    root = root or _thread_root(session, article, channel)  # a copy the linker did not place
    if root is None:
        key = idempotency_key("alert", f"i{info['id']}", channel)
        new = {**_with_role(values, info, "new"), "idempotency_key": key, "kind": "alert"}
        row, inserted = insert_alert(session, new)
        if inserted or row.article_id == article.id:
            return row
        if row.status == "suppressed":  # never announced: this article opens the incident
            key = idempotency_key("alert", f"a{article.id}", channel)
            return insert_alert(session, {**new, "idempotency_key": key})[0]
        root = row
    if info.get("top_level"):
        key = idempotency_key("incident", f"a{article.id}", channel)
        top = _with_role(values, info, "top_level")
        return insert_alert(session, {**top, "idempotency_key": key, "kind": "alert"})[0]
    role = "also" if info.get("told_before") or info.get("development") == "arrest" else "update"
    key = idempotency_key("follow", f"a{article.id}", channel)
    reply = {**_with_role(values, info, role), "idempotency_key": key}
    return insert_alert(session, {**reply, "kind": "follow_up", "parent_alert_id": root.id})[0]


def _fields_block(info: dict[str, Any]) -> dict[str, Any] | None:
    values = info.get("fields") or {}
    pairs = [
        (label, escape(clean(values[name]))) for name, label in FIELD_LABELS if values.get(name)
    ]
    return fields_section(pairs[:10]) if pairs else None


def build_incident_message(
    view: AlertView, info: dict[str, Any], *, parent: AlertView | None, threaded: bool
) -> dict[str, Any]:
    """The Slack message of an incident alert: new incident, update, or also reported."""
    role = str(info.get("role") or "new")
    kind = KIND_LABELS.get(str(info.get("kind")), "incident")
    number = info.get("id")
    development = development_label(str(info.get("development") or ""))
    if role == "also":
        return build_follow_up_message(view, parent=parent, threaded=threaded)
    if role == "new":
        lead = f":rotating_light: *New incident #{number}* · {escape(kind)}"
        fallback = f"New incident #{number} ({kind}): "
    elif role == "top_level":
        title = cut(clean(str(info.get("title") or "")), 120)
        lead = f":scales: *Update on incident #{number}: {escape(development)}* · {escape(title)}"
        fallback = f"Update on incident #{number}: {development}: "
    else:
        lead = f":arrow_right_hook: *Update: {escape(development)}*"
        fallback = f"Update: {development}: "
    base = build_alert_message(view) if not (role == "update" and threaded) else None
    blocks: list[dict[str, Any]] = [section(lead)]
    fields = _fields_block(info)
    if role == "update" and threaded:
        reply = build_follow_up_message(view, parent=parent, threaded=True)
        blocks += reply["blocks"][:1]
        if fields is not None:
            blocks.append(fields)
        blocks += reply["blocks"][1:]
        return fit({"text": fallback + str(reply["text"]), "blocks": blocks})
    assert base is not None
    blocks.append(base["blocks"][0])
    if fields is not None:
        blocks.append(fields)
    blocks += base["blocks"][1:]
    blocks.append(context(f"Incident #{number} · newswatch incident tracker"))
    return fit({"text": fallback + str(base["text"]), "blocks": blocks})
