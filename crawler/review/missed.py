"""Report a missed story: fetch it through the crawl's network guard, extract, store (or reuse),
record it as a `missed` match of the topic labelled relevant, and say why it did not match.

The fetch uses the guarded urllib client of `crawler.discovery` (private addresses refused on
the URL and on every redirect, size and time capped). Hosts listed in a configured source's
`allow_private_hosts` (plus any the caller passes, e.g. the CLI's `--allow-private-host`) are
the only private ones allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.config import Settings
from crawler.errors import ConfigError, FetchError, NewswatchError
from crawler.matching import Document, Matcher, TopicResult
from crawler.matching.text import tokenize
from crawler.review.feedback import record_label
from crawler.storage import repo
from crawler.storage.models import Article, Match, RawPage, Source, utcnow
from crawler.urls import canonicalize, fingerprint

Fetch = Callable[[str, list[str]], tuple[str, bytes, str]]


@dataclass(frozen=True)
class RuleWhy:
    """One rule of the topic on the reported article: what it found and which groups lacked."""

    rule_id: str
    description: str
    status: str  # fired | near miss | not anchored | no window
    reason: str
    missing_groups: list[str]


@dataclass
class MissedReport:
    """What `newswatch missed` did and found."""

    article_id: int
    match_id: int
    url: str
    title: str
    topic: str
    reused_article: bool
    previous_state: str | None  # the match row it turned into a reported miss, if any
    score: float
    threshold: float
    matched_now: bool
    rules: list[RuleWhy] = field(default_factory=list)
    near_misses: list[str] = field(default_factory=list)
    present_groups: list[str] = field(default_factory=list)


def allowed_private_hosts(settings: Settings, extra: Iterable[str] = ()) -> list[str]:
    """Private hosts the operator allowed for some configured source, plus `extra`."""
    hosts = [h for s in settings.sources for h in s.allow_private_hosts]
    return list(dict.fromkeys([*hosts, *extra]))


def fetch_page(url: str, allowed: list[str]) -> tuple[str, bytes, str]:
    """(final URL, body, content type) of an http(s) page; FetchError/BlockedURL otherwise."""
    from crawler.discovery import Client, normalise_input  # Scrapy/trafilatura: only when used

    client = Client(allowed)
    fetched = client.get(normalise_input(url))
    if fetched is None:
        raise FetchError(f"cannot fetch {url}: {'; '.join(client.problems) or 'no answer'}")
    if fetched.status != 200 or not fetched.body:
        raise FetchError(f"cannot fetch {url}: HTTP {fetched.status}")
    return fetched.url, fetched.body, fetched.content_type


def explain_rules(matcher: Matcher, doc: Document, topic: str) -> tuple[list[RuleWhy], list[str]]:
    """Each rule of `topic` on the document, with the term groups it lacked; groups present."""
    _, traces = matcher.trace(doc)
    traced = {t.rule_id: t for t in traces if t.topic == topic}
    fields = [tokenize(doc.title or "", "title"), tokenize(doc.text, "text")]
    present = {h.group for h in matcher.lexicon.find(fields)}
    groups = matcher.lexicon.groups
    out: list[RuleWhy] = []
    for rule in matcher.rules:
        if rule.topic != topic:
            continue
        missing = [
            n for n, req in zip(rule.require_names, rule.require, strict=True) if not req & present
        ]
        trace = traced.get(rule.id)
        if trace is not None and trace.fired:
            status, reason = "fired", f"fired in {trace.windows} place(s)"
        elif trace is not None:
            status, reason = "near miss", trace.reason
        elif missing and missing[0] == rule.require_names[0]:
            status, reason = "not anchored", f"no {rule.require_names[0]} term anywhere"
        elif missing:
            status, reason = "no window", "missing " + ", ".join(missing)
        else:
            status, reason = "no window", "the terms occur, but not together in one sentence"
        out.append(RuleWhy(rule.id, rule.description, status, reason, missing))
    return out, sorted(groups[g] for g in present)


def _store_article(
    session: Session, url: str, final: str, body: bytes, ctype: str, article: Article | None
) -> Article:
    """Extract the page into a new article, or into the stored one that has no text."""
    from crawler.extract import Extracted, extract_html

    result = extract_html(body, final)
    if not isinstance(result, Extracted):
        raise FetchError(f"nothing could be extracted from {url}: {result.reason}")
    if article is None:
        canonical = canonicalize(final)
        article = Article(
            url=canonical, url_hash=fingerprint(canonical), fetched_url=final,
            discovered_via="missed_report", status="extracted",
        )  # fmt: skip
        session.add(article)
    article.http_status, article.status, article.status_reason = 200, "extracted", None
    article.title = result.title or article.title
    article.author, article.published_at = result.author, article.published_at or result.published
    article.site_name, article.language = result.sitename, result.language
    article.description, article.text = result.description, result.text
    article.fetched_at = utcnow()
    session.flush()
    if session.get(RawPage, article.id) is None:
        repo.add_raw_page(session, article, body, None, ctype)
    return article


def _source_for(session: Session, settings: Settings, url: str) -> int | None:
    """The configured source whose URLs share the article's host, if any."""
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname
    for config in settings.sources:
        if any(urlsplit(u).hostname == host for u in config.urls):
            return session.scalar(select(Source.id).where(Source.name == config.name))
    return None


def report_missed(
    session: Session,
    settings: Settings,
    matcher: Matcher,
    url: str,
    topic: str,
    *,
    reviewer: str,
    note: str | None = None,
    allow_private: Iterable[str] = (),
    fetch: Fetch | None = None,
) -> MissedReport:
    """Record `url` as a story the `topic` should have matched; see the module docstring."""
    if topic not in matcher.topics:
        known = ", ".join(matcher.topics)
        raise ConfigError(f"unknown topic {topic!r}; expected one of: {known}", field="--topic")
    wanted = canonicalize(url.strip())
    article = repo.article_by_url(session, wanted)
    reused = article is not None and bool(article.text)
    if article is None or not article.text:
        final, body, ctype = (fetch or fetch_page)(
            url, allowed_private_hosts(settings, allow_private)
        )
        article = repo.article_by_url(session, canonicalize(final)) or article
        if article is None or not article.text:  # new, or stored without text (skipped, pruned)
            article = _store_article(session, url, final, body, ctype, article)
            if article.source_id is None:
                article.source_id = _source_for(session, settings, final)
        else:
            reused = True
    doc = Document(article.title or article.feed_title or "", article.text or "", article.language)
    result = next(r for r in matcher.evaluate(doc) if r.topic == topic)
    rules, present = explain_rules(matcher, doc, topic)
    match = session.scalars(
        select(Match).where(Match.article_id == article.id, Match.topic == topic)
    ).first()
    previous = match.state if match is not None else None
    if match is not None and match.state == "matched":
        raise NewswatchError(
            f"{article.url} already matched {topic} (match {match.id}): "
            f"label it with `newswatch matches label {match.id} relevant` instead"
        )
    if match is None:
        match = repo.match_from_result(article, result, state="missed")
        session.add(match)
    else:  # a possible match, or a wrongly dismissed one: the person says it belongs
        _refresh(match, result)
        match.state = "missed"
    session.flush()
    record_label(session, match.id, "relevant", reviewer=reviewer, note=note)
    return MissedReport(
        article_id=article.id, match_id=match.id, url=article.url,
        title=article.title or article.url, topic=topic, reused_article=reused,
        previous_state=previous, score=result.score, threshold=result.threshold,
        matched_now=result.matched, rules=rules, near_misses=list(result.near_misses),
        present_groups=present,
    )  # fmt: skip


def _refresh(match: Match, result: TopicResult) -> None:
    match.score, match.threshold = float(result.score), float(result.threshold)
    match.pack_version = result.pack_version
    match.rules = {"fired": list(result.rules), "near_misses": list(result.near_misses)}
    match.explanation = result.to_dict()
    match.snippet = result.snippet
