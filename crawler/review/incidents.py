"""The incident tracker's reads: filtered lists, one incident's timeline, counts, exports.

Exports: CSV and JSON Lines (one row per incident, the fields flattened) and GeoJSON (one
point per incident: its city's position when the gazetteer knows it, else its state's
approximate centroid; `precision` says which).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawler.incidents.model import INCIDENT_KINDS
from crawler.incidents.places import gazetteer
from crawler.storage.models import Article
from crawler.storage.models_incidents import Incident, IncidentArticle

EXPORT_FORMATS = ("csv", "jsonl", "geojson")
EXPORT_COLUMNS = (
    "id",
    "kind",
    "title",
    "first_date",
    "last_date",
    "development",
    "state",
    "county",
    "city",
    "court",
    "court_kind",
    "agency",
    "detained",
    "circumstance",
    "tipped_by",
    "outcome",
    "parties",
    "status",
    "article_count",
    "first_url",
)


@dataclass(frozen=True)
class IncidentQuery:
    """Filters for the incident list (each optional)."""

    kind: str | None = None
    state: str | None = None
    county: str | None = None
    court: str | None = None
    since: date | None = None
    until: date | None = None
    limit: int = 200


@dataclass
class Development:
    """One article of an incident's timeline."""

    link_id: int
    article_id: int
    event_date: date | None
    development: str
    title: str
    url: str
    outlet: str
    published: str | None
    decided_by: str
    fields: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def list_incidents(session: Session, query: IncidentQuery) -> list[Incident]:
    """Open incidents matching the filters, most recent development first."""
    stmt = select(Incident).where(Incident.status == "open", Incident.article_count > 0)
    if query.kind:
        stmt = stmt.where(Incident.kind == query.kind)
    if query.state:
        stmt = stmt.where(Incident.state == query.state)
    if query.county:
        stmt = stmt.where(Incident.county == query.county)
    if query.court:
        stmt = stmt.where(Incident.court.ilike(f"%{query.court}%"))
    if query.since:
        stmt = stmt.where(Incident.last_date >= query.since)
    if query.until:
        stmt = stmt.where(Incident.first_date <= query.until)
    stmt = stmt.order_by(Incident.last_date.desc().nulls_last(), Incident.id.desc())
    return list(session.scalars(stmt.limit(query.limit)))


def get_incident(session: Session, incident_id: int) -> Incident | None:
    """One incident, following merges to the incident it was folded into."""
    incident = session.get(Incident, incident_id)
    seen: set[int] = set()
    while incident is not None and incident.merged_into_id and incident.id not in seen:
        seen.add(incident.id)
        incident = session.get(Incident, incident.merged_into_id)
    return incident


def timeline(session: Session, incident_id: int) -> list[Development]:
    """The incident's developments in date order, each with its source article."""
    rows = session.execute(
        select(IncidentArticle, Article)
        .join(Article, Article.id == IncidentArticle.article_id)
        .where(IncidentArticle.incident_id == incident_id)
    ).all()
    out = []
    for link, article in rows:
        record = link.record or {}
        when = article.published_at or article.feed_published_at
        out.append(
            Development(
                link_id=link.id,
                article_id=article.id,
                event_date=link.event_date,
                development=link.development,
                title=str(record.get("summary") or article.title or article.url),
                url=article.url,
                outlet=article.site_name
                or (article.url.split("/")[2] if "//" in article.url else ""),
                published=when.isoformat(timespec="minutes") if when else None,
                decided_by=link.decided_by,
                fields=dict(record.get("fields") or {}),
                reasons=list((link.link_reasons or {}).get("reasons") or []),
            )
        )
    out.sort(key=lambda d: (d.event_date or date.max, d.link_id))
    return out


def counts_by_state(session: Session, kind: str | None = None) -> dict[str, int]:
    """Open incidents per state name."""
    stmt = (
        select(Incident.state, func.count())
        .where(Incident.status == "open", Incident.article_count > 0, Incident.state.is_not(None))
        .group_by(Incident.state)
    )
    if kind:
        stmt = stmt.where(Incident.kind == kind)
    return {str(state): int(n) for state, n in session.execute(stmt)}


def filter_values(session: Session) -> dict[str, list[str]]:
    """Distinct states, counties and courts of open incidents (for the filter menus)."""
    out: dict[str, list[str]] = {"kind": list(INCIDENT_KINDS)}
    for name in ("state", "county", "court"):
        column = getattr(Incident, name)
        stmt = select(column).where(Incident.status == "open", column.is_not(None)).distinct()
        out[name] = sorted(str(v) for v in session.scalars(stmt))
    return out


def incident_row(session: Session, incident: Incident) -> dict[str, Any]:
    """One incident flattened for export."""
    values: dict[str, Any] = {
        "id": incident.id,
        "kind": incident.kind,
        "title": incident.title,
        "first_date": incident.first_date.isoformat() if incident.first_date else None,
        "last_date": incident.last_date.isoformat() if incident.last_date else None,
        "development": incident.development,
        "article_count": incident.article_count,
    }
    for name in EXPORT_COLUMNS:
        if name not in values and name != "first_url":
            found = (incident.fields or {}).get(name) or {}
            values[name] = found.get("value") if isinstance(found, dict) else None
    first = session.get(Article, incident.first_article_id) if incident.first_article_id else None
    values["first_url"] = first.url if first is not None else None
    return values


def export_lines(session: Session, incidents: list[Incident], fmt: str) -> Iterator[str]:
    """The incidents as CSV, JSON Lines or one GeoJSON FeatureCollection."""
    rows = [incident_row(session, i) for i in incidents]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(EXPORT_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
        yield buffer.getvalue()
    elif fmt == "jsonl":
        for row in rows:
            yield json.dumps(row, ensure_ascii=False) + "\n"
    elif fmt == "geojson":
        yield json.dumps(geojson(rows), ensure_ascii=False, indent=1) + "\n"
    else:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}")


def geojson(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A FeatureCollection with one point per incident that has a known place."""
    gaz = gazetteer()
    features = []
    for row in rows:
        point = gaz.point(row.get("state"), row.get("city"))
        if point is None:
            continue
        lat, lon, precision = point
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(lon, 4), round(lat, 4)]},
                "properties": {**row, "precision": precision},
            }
        )
    return {"type": "FeatureCollection", "features": features}
