"""The story list (the home page), one story's page, labelling from the list, and exports."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from crawler.matching.describe import explain_rules, rule_descriptions
from crawler.review.exports import write_csv, write_jsonl
from crawler.review.queries import LABELS, STATUSES, MatchDetail, get_match, topics
from crawler.review.stories import (
    SORTS,
    StoryCard,
    get_story,
    label_story_topic,
    language_choices,
    list_stories,
    next_unreviewed,
    outlet_choices,
    parse_key,
    place_choices,
)
from crawler.review.web.views import WebState, query_from_args, reviewer_default
from crawler.storage.models import Match, Source, utcnow

bp = Blueprint("stories", __name__)
PAGE_SIZE = 25
EXPORT_LIMIT = 5000
FILTER_KEYS = (
    "q", "topic", "place", "source", "since", "until", "by", "status", "language", "sort",
)  # fmt: skip
FAILING = ("failing", "blocked", "broken", "down")
EXPORT_COLUMNS = (
    "story", "earliest", "date_basis", "title", "url", "outlets", "topics", "places", "courts",
    "agencies", "copies", "snippet",
)  # fmt: skip


@dataclass(frozen=True)
class TopicDetail:
    """One topic of a story page: its lead match and the reasons in words."""

    detail: MatchDetail
    reasons: list[tuple[str, str]]

    @property
    def row(self) -> Any:
        """The lead match as listed."""
        return self.detail.row


def _state() -> WebState:
    from flask import current_app

    state: WebState = current_app.extensions["newswatch"]
    return state


def _filters() -> dict[str, str]:
    """The list's filter arguments as given (for links that keep them)."""
    return {k: v for k in FILTER_KEYS if (v := request.args.get(k, "").strip())}


def _sort() -> str:
    sort = request.args.get("sort", "").strip()
    return sort if sort in SORTS else "published"


def _quick_links() -> list[tuple[str, dict[str, str], bool]]:
    """Today · This week · Unreviewed, each keeping the topic/place/outlet filters."""
    today = utcnow().date()
    keep = {k: v for k, v in _filters().items() if k in ("topic", "place", "source", "sort", "by")}
    links = [
        ("Today", {**keep, "since": today.isoformat()}),
        ("This week", {**keep, "since": (today - timedelta(days=6)).isoformat()}),
        ("Unreviewed", {**keep, "status": "unreviewed"}),
        ("All", keep),
    ]
    current = _filters()
    return [(label, args, args == current) for label, args in links]


def _empty_reason(filtered: bool) -> tuple[str, bool]:
    """Why the list is empty, and whether Sources is the place to look."""
    with _state().db.session() as s:
        sources = list(s.execute(select(Source.name, Source.health_status)).all())
        matched = s.scalar(select(func.count(Match.id)).where(Match.state == "matched")) or 0
    failing = [name for name, health in sources if health in FAILING]
    if not sources:
        return "No sources yet: add one with `newswatch sources add`, then crawl.", False
    if sources and len(failing) == len(sources):
        return "Every source is failing, so nothing new can arrive: see Sources.", True
    if not matched:
        note = (
            f" ({len(failing)} of {len(sources)} sources failing: see Sources)" if failing else ""
        )
        return f"Nothing has matched a topic yet{note}.", bool(failing)
    if request.args.get("status") == "unreviewed" and set(_filters()) <= {"status", "sort"}:
        return "All caught up: every story has been reviewed.", False
    if filtered:
        return "No stories with these filters.", False
    return "No stories.", False


@bp.get("/")
def index() -> tuple[str, int]:
    """One card per story, newest published first (or best score), with a compact filter bar."""
    query, errors = query_from_args(request.args, PAGE_SIZE)
    sort = _sort()
    with _state().db.session() as s:
        result = list_stories(s, query, sort)
        choices = {
            "topics": topics(s),
            "places": place_choices(s),
            "outlets": outlet_choices(s),
            "languages": language_choices(s),
        }
    filters = _filters()
    reason, to_sources = ("", False)
    if not result.cards:
        reason, to_sources = _empty_reason(bool(set(filters) - {"sort"}))
    upcoming = request.args.get("next", "")
    html = render_template(
        "stories.html",
        cards=result.cards,
        total=result.total,
        page=query.offset // query.limit + 1,
        pages=max(1, math.ceil(result.total / query.limit)),
        filters=filters,
        form=request.args,
        errors=errors,
        choices=choices,
        statuses=STATUSES,
        labels=LABELS,
        sort=sort,
        quick=_quick_links(),
        reason=reason,
        to_sources=to_sources,
        upcoming=upcoming if parse_key(upcoming) else None,
        labelled=request.args.get("labelled", ""),
        reviewer=reviewer_default(),
        by=query.by,
    )
    return html, 400 if errors else 200


def _card_or_404(key: str) -> StoryCard:
    if parse_key(key) is None:
        abort(404, f"there is no story {key}")
    with _state().db.session() as s:
        card = get_story(s, key)
    if card is None:
        abort(404, f"there is no story {key}")
    return card


@bp.get("/stories/<key>")
def story(key: str) -> str:
    """One story: every topic with its evidence, every copy, label buttons per topic."""
    card = _card_or_404(key)
    query, _ = query_from_args(request.args, PAGE_SIZE)
    state = _state()
    descriptions = rule_descriptions(state.settings.matching.topic_packs)
    with state.db.session() as s:
        following = next_unreviewed(s, query, _sort(), after=key)
        details = [(t, get_match(s, t.lead_match_id)) for t in card.topics]
    topics_ = [
        (t, TopicDetail(d, explain_rules(d.explanation.get("rules") or [], descriptions)))
        for t, d in details
        if d is not None
    ]
    return render_template(
        "story.html",
        card=card,
        topics=topics_,
        labels=LABELS,
        filters=_filters(),
        reviewer=reviewer_default(),
        following=following,
    )


@bp.post("/stories/<key>/label")
def label(key: str) -> Response:
    """Label one topic of a story (every article's match of it), then move to the next story."""
    topic = request.form.get("topic", "").strip()
    label_ = request.form.get("label", "")
    if label_ not in LABELS:
        abort(400, f"label must be one of {', '.join(LABELS)}")
    reviewer = request.form.get("reviewer", "").strip()[:200] or reviewer_default() or "web"
    note = request.form.get("note", "")[:5000] or None
    # The filters come back as a query string; only known keys are kept.
    back = {k: v for k in FILTER_KEYS if (v := request.form.get(f"f_{k}", "").strip())}
    query, _ = query_from_args(_multidict(back), PAGE_SIZE)
    with _state().db.session() as s:
        done = label_story_topic(s, key, topic, label_, reviewer=reviewer, note=note)
        if not done:
            abort(404, f"story {key} has no topic {topic!r}")
        following = next_unreviewed(s, query, _sort_of(back), after=key)
    session["reviewer"] = reviewer
    flash(f"Story labelled {label_} for {topic} by {reviewer} ({len(done)} match"
          f"{'' if len(done) == 1 else 'es'}).")  # fmt: skip
    if request.form.get("from") == "story":
        if following is not None:
            return redirect(_url("stories.story", back, key=following.key), code=303)
        return redirect(_url("stories.index", back), code=303)
    extra = {"labelled": key, **({"next": following.key} if following else {})}
    anchor = f"#story-{following.key}" if following else ""
    return redirect(_url("stories.index", {**back, **extra}) + anchor, code=303)


def _url(endpoint: str, args: dict[str, str], **values: str) -> str:
    target: dict[str, Any] = {**args, **values}
    return url_for(endpoint, **target)


def _multidict(values: dict[str, str]) -> Any:
    from werkzeug.datastructures import MultiDict

    return MultiDict(values)


def _sort_of(values: dict[str, str]) -> str:
    sort = values.get("sort", "")
    return sort if sort in SORTS else "published"


def _export_cards() -> list[StoryCard]:
    query, errors = query_from_args(request.args, PAGE_SIZE)
    if errors:
        abort(400, "; ".join(f"{k}: {v}" for k, v in errors.items()))
    with _state().db.session() as s:
        return list_stories(s, replace(query, limit=EXPORT_LIMIT, offset=0), _sort()).cards


def _flat(card: StoryCard) -> dict[str, Any]:
    data = card.to_dict()
    data["outlets"] = "; ".join(data["outlets"])
    data["topics"] = "; ".join(
        f"{t['label']} {t['score']:.2f} ({t['status']})" for t in data["topics"]
    )
    for kind in ("places", "courts", "agencies"):
        data[kind] = "; ".join(data[kind])
    data["copies"] = "; ".join(f"{c['outlet']}: {c['url']}" for c in data["copies"])
    return data


def _download(body: str, mimetype: str, ext: str) -> Response:
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="newswatch-stories-{stamp}.{ext}"'
    )
    return response


@bp.get("/stories.csv")
def export_csv() -> Response:
    """The current filter's stories as CSV (cells that a spreadsheet would run are defused)."""
    out = io.StringIO()
    write_csv((_flat(c) for c in _export_cards()), EXPORT_COLUMNS, out)
    return _download(out.getvalue(), "text/csv; charset=utf-8", "csv")


@bp.get("/stories.jsonl")
def export_jsonl() -> Response:
    """The current filter's stories as JSON lines."""
    out = io.StringIO()
    write_jsonl((c.to_dict() for c in _export_cards()), out)
    return _download(out.getvalue(), "application/x-ndjson; charset=utf-8", "jsonl")


def export_links(filters: dict[str, str]) -> dict[str, str]:
    """URLs of the exports of the current filter."""
    suffix = f"?{urlencode(filters)}" if filters else ""
    return {
        "csv": url_for("stories.export_csv") + suffix,
        "jsonl": url_for("stories.export_jsonl") + suffix,
    }


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"export_links": export_links}
