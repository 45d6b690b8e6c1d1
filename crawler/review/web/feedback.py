"""The feedback pages: possible matches (promote or dismiss) and the "report a missed story" form.

A separate blueprint (registered by the app factory) so the review pages can change beside it.
Forms carry the session's CSRF token like every other form (see `security.install`). The miss
form fetches through the crawl's network guard: only private hosts a configured source allows.
"""

from __future__ import annotations

import os
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

from crawler.errors import ConfigError, FetchError, NewswatchError
from crawler.matching import load_matcher
from crawler.review.feedback import dismiss, promote
from crawler.review.missed import report_missed
from crawler.review.queries import ENV_REVIEWER, MatchQuery, count_matches, list_matches

bp = Blueprint("feedback", __name__, template_folder="templates")
MAX_URL = 2000


def _state() -> Any:
    """The app's database and settings (`views.WebState`, set by the app factory)."""
    return current_app.extensions["newswatch"]


def _reviewer_default() -> str:
    remembered = session.get("reviewer") or session.get("user")
    if isinstance(remembered, str) and remembered:
        return remembered
    return os.environ.get(ENV_REVIEWER, "").strip()


def _reviewer() -> str:
    name = request.form.get("reviewer", "").strip()[:200] or _reviewer_default() or "web"
    session["reviewer"] = name
    return name


@bp.get("/possible")
def possible() -> str:
    """Near misses waiting for a decision, newest first."""
    query = MatchQuery(state="possible", status="unreviewed", limit=100)
    with _state().db.session() as s:
        rows = list_matches(s, query)
        total = count_matches(s, query)
    return render_template(
        "feedback/possible.html", rows=rows, total=total, reviewer=_reviewer_default()
    )


@bp.post("/possible/<int:match_id>/promote")
def possible_promote(match_id: int) -> Response:
    """Label a possible match relevant (and, if ticked, send its alert now)."""
    state = _state()
    who = _reviewer()
    alert = request.form.get("alert") == "1"
    try:
        with state.db.session() as s:
            done = promote(s, match_id, reviewer=who, settings=state.settings, alert=alert)
    except NewswatchError as exc:
        abort(404, str(exc))
    sent = f"; alert {', '.join(done.alert_statuses)}" if done.alert_statuses else ""
    flash(f"Match {match_id} promoted by {who}{sent}.")
    return redirect(url_for("feedback.possible"), code=303)


@bp.post("/possible/<int:match_id>/dismiss")
def possible_dismiss(match_id: int) -> Response:
    """Label a possible match irrelevant."""
    who = _reviewer()
    try:
        with _state().db.session() as s:
            dismiss(s, match_id, reviewer=who)
    except NewswatchError as exc:
        abort(404, str(exc))
    flash(f"Match {match_id} dismissed by {who}.")
    return redirect(url_for("feedback.possible"), code=303)


@bp.route("/missed", methods=["GET", "POST"])
def missed() -> tuple[str, int]:
    """Report a story a topic missed, and show why it did not match."""
    state = _state()
    cfg = state.settings.matching
    matcher = load_matcher(cfg.topic_packs, cfg.thresholds, cfg.disabled_topics)
    topics = [(t, matcher.label(t)) for t in matcher.topics]
    form = {"url": "", "topic": topics[0][0] if topics else "", "note": ""}
    report, error = None, None
    if request.method == "POST":
        form = {k: request.form.get(k, "").strip() for k in ("url", "topic", "note")}
        who = _reviewer()
        try:
            if not form["url"] or len(form["url"]) > MAX_URL:
                raise FetchError("give the story's web address (http or https)")
            with state.db.session() as s:
                report = report_missed(
                    s, state.settings, matcher, form["url"], form["topic"], reviewer=who,
                    note=form["note"][:5000] or None,
                )  # fmt: skip
        except (FetchError, ConfigError, NewswatchError) as exc:
            error = str(exc)
    html = render_template(
        "feedback/missed.html", topics=topics, form=form, report=report, error=error,
        reviewer=_reviewer_default(),
    )  # fmt: skip
    return html, 400 if error else 200
