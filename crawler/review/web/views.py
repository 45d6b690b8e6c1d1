"""The review pages: match list, match detail with labelling, timeline and source health."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
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
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from crawler.config import Settings
from crawler.matching.describe import explain_rules, rule_descriptions
from crawler.review.queries import (
    DATE_BASES,
    ENV_REVIEWER,
    LABELS,
    MATCH_STATES,
    STATUSES,
    MatchQuery,
    count_matches,
    get_match,
    label_match,
    list_matches,
    parse_when,
    source_names,
    text_marks,
    topics,
)
from crawler.review.web import charts, dashboards
from crawler.storage.db import Database

bp = Blueprint("review", __name__)
PAGE_SIZES = (25, 50, 100, 200)


@dataclass(frozen=True)
class WebState:
    """What the views need: the database and the settings."""

    db: Database
    settings: Settings


def _state() -> WebState:
    state: WebState = current_app.extensions["newswatch"]
    return state


def query_from_args(
    args: MultiDict[str, str], default_limit: int = 50
) -> tuple[MatchQuery, dict[str, str]]:
    """Build the list filters from query-string arguments, with a message per bad field."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in ("topic", "source", "search", "place", "language"):
        text = args.get("q" if name == "search" else name, "").strip()
        values[name] = text or None
    by = args.get("by", "").strip() or "published"
    if by not in DATE_BASES:
        errors["by"] = f"dates are by one of {', '.join(DATE_BASES)}"
    values["by"] = by if by in DATE_BASES else "published"
    state = args.get("state", "").strip() or "matched"
    if state not in (*MATCH_STATES, "all"):
        errors["state"] = f"state must be one of {', '.join(MATCH_STATES)} or all"
    values["state"] = None if state == "all" else (state if state in MATCH_STATES else "matched")
    status = args.get("status", "").strip()
    if status and status not in STATUSES:
        errors["status"] = f"status must be one of {', '.join(STATUSES)}"
    values["status"] = status if status in STATUSES else None
    for name in ("since", "until"):
        text = args.get(name, "").strip()
        if text:
            try:
                values[name] = parse_when(text, end=name == "until")
            except ValueError as exc:
                errors[name] = str(exc)
    score = args.get("min_score", "").strip()
    if score:
        try:
            values["min_score"] = float(score)
            if not math.isfinite(values["min_score"]):
                raise ValueError
        except ValueError:
            values.pop("min_score", None)
            errors["min_score"] = f"{score!r} is not a number"
    limit = args.get("limit", type=int) or default_limit
    page = max(args.get("page", type=int) or 1, 1)
    limit = min(max(limit, 1), max(PAGE_SIZES))
    return MatchQuery(limit=limit, offset=(page - 1) * limit, **values), errors


@bp.get("/matches")
def match_list() -> tuple[str, int]:
    """Every match, one row per (article, topic), with filters and full-text search."""
    query, errors = query_from_args(request.args)
    with _state().db.session() as s:
        rows = list_matches(s, query)
        total = count_matches(s, query)
        topic_choices = topics(s)
        sources = source_names(s)
    page = query.offset // query.limit + 1
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    html = render_template(
        "list.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / query.limit)),
        args=args,
        form=request.args,
        errors=errors,
        topics=topic_choices,
        sources=sources,
        statuses=STATUSES,
        page_sizes=PAGE_SIZES,
    )
    return html, 400 if errors else 200


def reviewer_default() -> str:
    """The name the label forms start with: this session's last one, else $NEWSWATCH_REVIEWER."""
    return _reviewer_default()


def _reviewer_default() -> str:
    remembered = session.get("reviewer") or session.get("user")
    if isinstance(remembered, str) and remembered:
        return remembered
    return os.environ.get(ENV_REVIEWER, "").strip()


@bp.get("/matches/<int:match_id>")
def match_detail(match_id: int) -> str:
    """One match: highlighted snippet, explanation, entities, article text, labels."""
    with _state().db.session() as s:
        detail = get_match(s, match_id)
        if detail is None:
            abort(404, f"there is no match {match_id}")
        upcoming = [
            r for r in list_matches(s, MatchQuery(status="unreviewed", limit=2)) if r.id != match_id
        ]
    spans = detail.explanation.get("spans")
    spans = spans if isinstance(spans, list) else []
    return render_template(
        "detail.html",
        d=detail,
        m=detail.row,
        x=detail.explanation,
        text_spans=text_marks(detail.article.text or "", spans),
        title_spans=text_marks(detail.article.title or "", spans, "title"),
        labels=LABELS,
        reviewer=_reviewer_default(),
        next_unreviewed=upcoming[0] if upcoming else None,
        reasons=explain_rules(
            detail.explanation.get("rules") or [],
            rule_descriptions(_state().settings.matching.topic_packs),
        ),
    )


@bp.post("/matches/<int:match_id>/label")
def match_label(match_id: int) -> Response:
    """Record a label from the detail page's buttons, then show the match again."""
    label = request.form.get("label", "")
    if label not in LABELS:
        abort(400, f"label must be one of {', '.join(LABELS)}")
    reviewer = request.form.get("reviewer", "").strip()[:200] or _reviewer_default() or "web"
    note = request.form.get("note", "")[:5000]
    with _state().db.session() as s:
        if label_match(s, match_id, label, reviewer=reviewer, note=note) is None:
            abort(404, f"there is no match {match_id}")
    session["reviewer"] = reviewer
    flash(f"Match {match_id} labelled {label} by {reviewer}.")
    return redirect(url_for("review.match_detail", match_id=match_id), code=303)


@bp.get("/timeline")
def timeline() -> str:
    """Matches per day per topic as an inline SVG bar chart."""
    days = min(max(request.args.get("days", type=int) or 30, 1), 366)
    topic = request.args.get("topic", "").strip() or None
    by = request.args.get("by", "").strip()
    by = by if by in DATE_BASES else "published"
    with _state().db.session() as s:
        data = dashboards.timeline(s, days=days, topic=topic, by=by)
        topic_choices = topics(s)
    return render_template(
        "timeline.html",
        data=data,
        svg=charts.timeline_svg(data),
        series_class=charts.series_class,
        days=days,
        topic=topic,
        topics=topic_choices,
        by=by,
    )


@bp.get("/sources")
def sources() -> str:
    """Per-source health and recent crawl runs."""
    with _state().db.session() as s:
        rows = dashboards.source_health(s)
    return render_template("sources.html", sources=rows)


@bp.app_errorhandler(400)
@bp.app_errorhandler(403)
@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def error_page(error: Any) -> tuple[str, int]:
    """A readable page for client errors."""
    code = int(getattr(error, "code", 500) or 500)
    return render_template("error.html", code=code, message=getattr(error, "description", "")), code
