"""The feedback loop's writes: promote or dismiss a possible match, mute a source, score reviews.

A possible match (state `possible`) is a near miss the crawl kept for review. Promoting it
labels it relevant and makes it a `matched` match (optionally queueing its alert, exactly once:
the outbox key is unique); dismissing it labels it irrelevant and leaves it possible. A source
mute suppresses the source's alerts until it ends (its articles are still stored and matched).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crawler.config import Settings
from crawler.errors import NewswatchError
from crawler.matching.evaluate import TopicScore, count_outcome
from crawler.matching.matcher import Matcher
from crawler.matching.model import Document
from crawler.review.queries import ReviewInfo, label_match
from crawler.storage.models import Alert, Article, Match, Review, Source, utcnow
from crawler.storage.models_feedback import SourceMute

MUTE_DAYS = 7


@dataclass(frozen=True)
class Promotion:
    """What promoting a possible match did."""

    match_id: int
    review: ReviewInfo
    alert_ids: list[int] = field(default_factory=list)
    alert_statuses: list[str] = field(default_factory=list)
    alert_notes: list[str] = field(default_factory=list)


def _possible(session: Session, match_id: int) -> Match:
    match = session.get(Match, match_id)
    if match is None:
        raise NewswatchError(f"there is no match with id {match_id}")
    if match.state == "missed":
        raise NewswatchError(f"match {match_id} is a reported miss, not a possible match")
    return match


def promote(
    session: Session,
    match_id: int,
    *,
    reviewer: str,
    settings: Settings,
    note: str | None = None,
    alert: bool = False,
    slack_user: str | None = None,
) -> Promotion:
    """Label a possible match relevant and make it a match; with `alert`, queue its alert once."""
    match = _possible(session, match_id)
    review = record_label(
        session, match_id, "relevant", reviewer=reviewer, note=note, slack_user=slack_user
    )
    match.state = "matched"
    session.flush()
    promotion = Promotion(match_id, review)
    if alert:
        from alerts.outbox import enqueue_match_alerts  # review → alerts: pointing down

        article = session.get(Article, match.article_id)
        assert article is not None
        source = session.get(Source, article.source_id) if article.source_id else None
        rows = enqueue_match_alerts(
            session, article=article, match=match, source=source, settings=settings,
            first_crawl=False, force=True,
        )  # fmt: skip
        for row in rows:
            promotion.alert_ids.append(row.id)
            promotion.alert_statuses.append(row.status)
            promotion.alert_notes.append(row.last_error or "")
    return promotion


def dismiss(
    session: Session, match_id: int, *, reviewer: str, note: str | None = None
) -> ReviewInfo:
    """Label a possible match irrelevant (it stays possible, and counts as a hard negative)."""
    match = _possible(session, match_id)
    if match.state != "possible":
        raise NewswatchError(f"match {match_id} is {match.state}, not a possible match")
    return record_label(session, match_id, "irrelevant", reviewer=reviewer, note=note)


def record_label(
    session: Session,
    match_id: int,
    label: str,
    *,
    reviewer: str,
    note: str | None = None,
    slack_user: str | None = None,
) -> ReviewInfo:
    """`label_match`, plus the Slack user id on the review when the label came from Slack."""
    review = label_match(session, match_id, label, reviewer=reviewer, note=note)
    if review is None:
        raise NewswatchError(f"there is no match with id {match_id}")
    if slack_user:
        session.execute(update(Review).where(Review.id == review.id).values(slack_user=slack_user))
    return review


def mute_source(
    session: Session,
    source_id: int,
    *,
    by: str,
    days: float = MUTE_DAYS,
    slack_user: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> SourceMute:
    """Mute a source's alerts for `days`; its pending alerts are suppressed with the reason."""
    now = now or utcnow()
    source = session.get(Source, source_id)
    if source is None:
        raise NewswatchError(f"there is no source with id {source_id}")
    mute = SourceMute(
        source_id=source_id, until=now + timedelta(days=days), muted_by=by,
        slack_user=slack_user, reason=reason, created_at=now,
    )  # fmt: skip
    session.add(mute)
    note = f"suppressed: source {source.name} muted by {by} until {mute.until:%Y-%m-%d %H:%M}"
    session.execute(
        update(Alert)
        .where(Alert.source_id == source_id, Alert.status == "pending")
        .values(status="suppressed", last_error=note)
    )
    session.flush()
    return mute


# ---------------------------------------------------------------------- eval --reviewed


@dataclass(frozen=True)
class ReviewedCase:
    """One reviewed (article, topic) pair the current rules now get wrong."""

    match_id: int
    article_id: int
    topic: str
    lang: str
    kind: str  # false_negative | false_positive
    state: str
    label: str
    score: float
    threshold: float
    title: str
    url: str


@dataclass
class ReviewedReport:
    """Current rules against every reviewed match and reported miss in the database."""

    pack_version: str
    pairs: int = 0
    topics: dict[str, TopicScore] = field(default_factory=dict)
    by_language: dict[str, dict[str, TopicScore]] = field(default_factory=dict)
    failing: list[ReviewedCase] = field(default_factory=list)
    unreadable: list[int] = field(default_factory=list)


def eval_reviewed(session: Session, matcher: Matcher) -> ReviewedReport:
    """Score the matcher on each reviewed (article, topic) pair: relevant/duplicate are gold
    positives, irrelevant gold negatives; a topic nobody reviewed on an article is not scored."""
    report = ReviewedReport(matcher.pack_version)
    stmt = (
        select(Match, Article)
        .join(Article, Article.id == Match.article_id)
        .where(Match.review_status != "unreviewed")
        .order_by(Article.id, Match.topic)
    )
    pairs: dict[int, list[Match]] = defaultdict(list)
    articles: dict[int, Article] = {}
    for match, article in session.execute(stmt).all():
        pairs[article.id].append(match)
        articles[article.id] = article
    for article_id, matches in pairs.items():
        article = articles[article_id]
        if not article.text:
            report.unreadable.append(article_id)  # text pruned: cannot be rescored
            continue
        doc = Document(article.title or article.feed_title or "", article.text, article.language)
        results = {r.topic: r for r in matcher.evaluate(doc)}
        lang = article.language or "unknown"
        for match in matches:
            result = results.get(match.topic)
            if result is None:  # a topic the current configuration no longer has
                continue
            if match.review_status == "duplicate":  # as the export: a copy, not a judgement
                continue
            report.pairs += 1
            gold = match.review_status == "relevant"
            got = result.matched
            for scores in (report.topics, report.by_language.setdefault(lang, {})):
                score = scores.setdefault(match.topic, TopicScore(match.topic))
                count_outcome(score, f"match-{match.id}", gold, got)
            if gold != got:
                report.failing.append(
                    ReviewedCase(
                        match.id, article.id, match.topic, lang,
                        "false_negative" if gold else "false_positive", match.state,
                        match.review_status, result.score, result.threshold,
                        article.title or article.feed_title or "", article.url,
                    )
                )  # fmt: skip
    return report
