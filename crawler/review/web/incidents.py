"""Incident tracker pages: list with filters, state map, one incident's timeline, merge/split."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from crawler.errors import NewswatchError
from crawler.incidents.model import INCIDENT_KINDS
from crawler.review.incidents import (
    IncidentQuery,
    counts_by_state,
    filter_values,
    get_incident,
    list_incidents,
    timeline,
)
from crawler.review.web.incident_map import state_map_svg
from crawler.storage.db import Database
from crawler.storage.incidents import merge_incidents, split_article

bp = Blueprint("incidents", __name__)
KIND_LABELS = {"courthouse_arrest": "Courthouse arrest", "sanctuary_dispute": "Sanctuary dispute"}


def _db() -> Database:
    db: Database = current_app.extensions["newswatch"].db
    return db


def _query() -> tuple[IncidentQuery, dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    kind = request.args.get("kind", "").strip()
    if kind and kind not in INCIDENT_KINDS:
        errors["kind"] = f"kind must be one of {', '.join(INCIDENT_KINDS)}"
    values["kind"] = kind if kind in INCIDENT_KINDS else None
    for name in ("state", "county", "court"):
        values[name] = request.args.get(name, "").strip()[:300] or None
    for name in ("since", "until"):
        text = request.args.get(name, "").strip()
        if text:
            try:
                values[name] = date.fromisoformat(text)
            except ValueError:
                errors[name] = f"{name} must be a date as YYYY-MM-DD"
    return IncidentQuery(**values), errors


def _reviewer() -> str:
    sent = request.form.get("reviewer", "").strip()[:200]
    remembered = session.get("reviewer")
    return sent or (remembered if isinstance(remembered, str) and remembered else "web")


@bp.get("/incidents")
def incident_list() -> tuple[str, int]:
    """Incidents with filters by kind, state, county, court and date, and the state map."""
    query, errors = _query()
    with _db().session() as s:
        rows = list_incidents(s, query)
        counts = counts_by_state(s, query.kind)
        choices = filter_values(s)
    html = render_template(
        "incidents_list.html",
        rows=rows,
        form=request.args,
        errors=errors,
        choices=choices,
        kind_labels=KIND_LABELS,
        svg=state_map_svg(counts, url_for("incidents.incident_list") + "?state="),
    )
    return html, 400 if errors else 200


@bp.get("/incidents/map")
def incident_map() -> str:
    """Incidents per state as a server-rendered SVG map."""
    kind = request.args.get("kind", "").strip()
    kind = kind if kind in INCIDENT_KINDS else ""
    with _db().session() as s:
        counts = counts_by_state(s, kind or None)
    link = url_for("incidents.incident_list") + (f"?kind={kind}&state=" if kind else "?state=")
    return render_template(
        "incidents_map.html",
        svg=state_map_svg(counts, link),
        counts=sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])),
        kind=kind,
        kind_labels=KIND_LABELS,
    )


@bp.get("/incidents/<int:incident_id>")
def incident_detail(incident_id: int) -> str | Response:
    """One incident: fields with their source sentences, timeline and source articles."""
    with _db().session() as s:
        incident = get_incident(s, incident_id)
        if incident is None:
            abort(404)
        if incident.id != incident_id:
            return redirect(url_for("incidents.incident_detail", incident_id=incident.id))
        developments = timeline(s, incident.id)
    return render_template(
        "incidents_detail.html",
        i=incident,
        developments=developments,
        kind_labels=KIND_LABELS,
        reviewer=session.get("reviewer") or "",
    )


@bp.post("/incidents/<int:incident_id>/merge")
def incident_merge(incident_id: int) -> Response:
    """Fold another incident into this one (a person's decision, kept across rematches)."""
    other = request.form.get("other_id", "").strip().lstrip("#")
    if not other.isdigit():
        flash("Give the number of the incident to merge into this one.")
        return redirect(url_for("incidents.incident_detail", incident_id=incident_id))
    reviewer = _reviewer()
    try:
        with _db().session() as s:
            merge_incidents(s, incident_id, int(other), reviewer=reviewer)
    except NewswatchError as exc:
        flash(f"Not merged: {exc}")
    else:
        session["reviewer"] = reviewer
        flash(f"Incident {other} merged into {incident_id} by {reviewer}.")
    return redirect(url_for("incidents.incident_detail", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/split")
def incident_split(incident_id: int) -> Response:
    """Move one article into an incident of its own."""
    article = request.form.get("article_id", "").strip()
    if not article.isdigit():
        abort(400)
    reviewer = _reviewer()
    try:
        with _db().session() as s:
            fresh = split_article(s, incident_id, int(article), reviewer=reviewer)
            target = fresh.id
    except NewswatchError as exc:
        flash(f"Not split: {exc}")
        return redirect(url_for("incidents.incident_detail", incident_id=incident_id))
    session["reviewer"] = reviewer
    flash(f"Article {article} now forms incident {target} (split by {reviewer}).")
    return redirect(url_for("incidents.incident_detail", incident_id=target))
