"""Stage 7: store the article, raw HTML, matches and their outbox rows in ONE transaction.

A new article that matched a topic joins (or opens) its story cluster before its matches are
written, so the outbox can thread a second copy of a story under the first alert.

A refetched article (`extra["revision_of"]`, see `spiders.feed.RevisionMixin`) is not stored
again: when its title or text changed, the previous version is kept as an ArticleRevision, the
article is updated (`revision_count`, `updated_at`) and, for a material change, its matches are
offered to the outbox again, which threads a revision reply under the alert already sent.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from scrapy.exceptions import DropItem
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crawler.items import ArticleItem
from crawler.matching.clustering import Fingerprint, text_similarity
from crawler.pipelines.base import Stage
from crawler.pipelines.cluster import RecentClusters, assign_cluster
from crawler.storage import repo
from crawler.storage.models import Article, ArticleRevision, Match, RawPage, Source, utcnow
from crawler.storage.rawhtml import compress_html
from crawler.urls import fingerprint

log = logging.getLogger(__name__)
# Below this shingle similarity (or with a new title) a revision is worth a thread reply.
MATERIAL_SIMILARITY = 0.9


def _enqueue_alerts(session: Any, **kwargs: Any) -> None:
    # One call per article with all its matches: one Slack message per channel lists them all.
    from alerts.outbox import enqueue_article_alerts

    enqueue_article_alerts(session, **kwargs)


def _link_incident(
    session: Session, article: Article, match: Match, settings: Any, *, revised: bool = False
) -> None:
    from crawler.storage.incidents import link_article, refresh_link

    # A savepoint: an incident that cannot be built must not cost the article or its alerts.
    try:
        with session.begin_nested():
            if revised:
                refresh_link(session, article, match, settings.incidents)
            else:
                link_article(session, article, match, settings.incidents)
    except Exception as exc:  # any failure here is logged and the article kept
        log.error(
            "event=incident_link_failed article_id=%s topic=%s reason=%s",
            article.id,
            match.topic,
            f"{type(exc).__name__}: {exc}",
        )


def _sha1(text: str | None) -> str | None:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest() if text else None


def _cluster(
    session: Session, article: Article, item: ArticleItem, recent: RecentClusters | None = None
) -> None:
    fp = item.extra.get("fingerprint")
    if item.matches and isinstance(fp, Fingerprint) and article.cluster_id is None:
        assign_cluster(session, article, fp, recent=recent)
        session.flush()


def _update_match(match: Match, result: Any) -> None:
    """Refresh a stored match from the matcher's result on the article's new version."""
    match.score, match.threshold = float(result.score), float(result.threshold)
    match.pack_version = result.pack_version
    match.rules = {"fired": list(result.rules), "near_misses": list(result.near_misses)}
    match.explanation = result.to_dict()
    match.snippet = result.snippet
    match.entities = dict(result.entities)


def _store_possible(
    session: Session, article: Article, item: ArticleItem, stored: set[str] | None = None
) -> None:
    """Keep near misses as `possible` matches (no outbox rows: they are never alerted);
    `stored`: the topics the article had matches for before this item's."""
    if not item.extra.get("possible"):
        return
    if stored is None:
        stored = {m.topic for m in article.matches}
    taken = stored | {r.topic for r in item.matches}
    for result in item.extra.get("possible") or ():
        if result.topic not in taken:
            session.add(repo.match_from_result(article, result, state="possible"))
            taken.add(result.topic)


def _keep_raw(session: Session, article: Article, item: ArticleItem) -> None:
    page = session.get(RawPage, article.id)
    if page is None:
        repo.add_raw_page(
            session,
            article,
            item.body,
            item.encoding,
            item.content_type,
            item.extra.get("raw_gzip"),
        )
        return
    page.html_gzip = compress_html(item.body)
    page.encoding, page.content_type, page.fetched_at = item.encoding, item.content_type, utcnow()


# What a retry of a `failed_internal` article refreshes (its URL, source and first_seen_at stay).
RETRY_COLUMNS = (
    "fetched_url",
    "crawl_run_id",
    "discovered_via",
    "http_status",
    "status",
    "status_reason",
    "title",
    "author",
    "published_at",
    "site_name",
    "language",
    "description",
    "text",
    "text_sha1",
    "simhash",
    "feed_title",
    "feed_published_at",
    "feed_guid",
)


def article_from_item(item: ArticleItem, source_id: int, run_id: int) -> Article:
    """An Article row from a pipeline item (extracted fields where extraction succeeded)."""
    ex = item.extracted
    text = ex.text if ex is not None else None
    return Article(
        url=item.canonical_url,
        url_hash=fingerprint(item.canonical_url),
        fetched_url=item.url,
        source_id=source_id,
        crawl_run_id=run_id,
        discovered_via=item.discovered_via,
        http_status=item.http_status,
        status=item.status,
        status_reason=item.status_reason,
        attempts=1,
        title=(ex.title if ex is not None else None) or item.feed_title,
        author=ex.author if ex is not None else None,
        # The feed's timestamp is the publisher's own and carries the time of day; pages often
        # give only a date.
        published_at=item.feed_published or (ex.published if ex is not None else None),
        site_name=ex.sitename if ex is not None else None,
        language=ex.language if ex is not None else None,
        description=ex.description if ex is not None else None,
        text=text,
        text_sha1=_sha1(text),
        simhash=item.simhash,
        cluster_id=item.extra.get("cluster_id"),
        feed_title=item.feed_title,
        feed_published_at=item.feed_published,
        feed_guid=item.feed_guid,
    )


class StorePipeline(Stage):
    """Write everything about one page atomically; a duplicate insert race is a no-op."""

    _recent: RecentClusters | None = None

    @property
    def recent(self) -> RecentClusters:
        """This crawl process's cache of candidate story clusters."""
        if self._recent is None:
            self._recent = RecentClusters()
        return self._recent

    def process_item(self, item: ArticleItem) -> ArticleItem:
        """Scrapy hook."""
        ctx = self.ctx
        revision_of = item.extra.get("revision_of")
        if revision_of is not None and self._store_revision(item, int(revision_of)):
            return item
        try:
            stored = self._write(item)
        except Exception as exc:  # our failure: record the page as failed_internal if we can
            self.fail_internal(item, "storing", exc)
            item.matches, item.extracted = [], None
            item.extra.pop("fingerprint", None)
            item.extra.pop("possible", None)
            try:
                stored = self._write(item)
            except Exception as again:
                # Not stored, so not seen either: the next crawl fetches the page again.
                raise DropItem(f"could not store {item.canonical_url}: {again}") from again
        if not stored:
            ctx.count("duplicates")
            raise DropItem(f"stored concurrently: {item.canonical_url}")
        if item.status != "extracted":
            log.info(
                "event=article_not_extracted url=%s status=%s reason=%s",
                item.canonical_url,
                item.status,
                item.status_reason,
            )
        return item

    def _write(self, item: ArticleItem) -> bool:
        """Insert the article, or complete a stored `failed_internal` one; False if done."""
        try:
            self._insert(item)
        except IntegrityError:
            return self._store_retry(item)
        self.ctx.count("new_articles")
        return True

    def _insert(self, item: ArticleItem) -> None:
        ctx = self.ctx
        with ctx.db.session() as session:
            article = article_from_item(item, ctx.source_id, ctx.run_id)
            if ctx.settings.crawl.keep_raw_html_days > 0:
                repo.add_raw_page(
                    session,
                    article,
                    item.body,
                    item.encoding,
                    item.content_type,
                    item.extra.get("raw_gzip"),
                )
            session.add(article)  # with its raw page: one flush, and no lazy loads
            if item.matches or item.extra.get("possible"):
                session.flush()
                self._add_matches(session, article, item, existing=set())

    def _add_matches(
        self,
        session: Session,
        article: Article,
        item: ArticleItem,
        existing: set[str] | None = None,
    ) -> None:
        """Cluster the article, then store its matches with their outbox rows (`existing`: the
        topics it has matches for already, read from the article when not given)."""
        ctx = self.ctx
        _cluster(session, article, item, self.recent)
        if existing is None:
            existing = {m.topic for m in article.matches}
        matches = [
            repo.match_from_result(article, result)
            for result in item.matches
            if result.topic not in existing
        ]
        _store_possible(session, article, item, existing)
        if not matches:
            return
        session.add_all(matches)
        session.flush()
        for match in matches:
            _link_incident(session, article, match, ctx.settings)
        _enqueue_alerts(
            session,
            article=article,
            matches=matches,
            source=session.get(Source, ctx.source_id),
            settings=ctx.settings,
            first_crawl=ctx.first_crawl,
        )

    def _store_retry(self, item: ArticleItem) -> bool:
        """Process again an article stored as `failed_internal`; False when it is done with."""
        ctx = self.ctx
        with ctx.db.session() as session:
            article = repo.article_by_url(session, item.canonical_url)
            if article is None or article.status not in repo.RETRYABLE_STATUSES:
                return False
            attempts = article.attempts + 1
            if item.status == repo.FAILED_INTERNAL and attempts >= repo.MAX_INTERNAL_ATTEMPTS:
                item.status = "failed"
                item.status_reason = f"gave up after {attempts} attempts: {item.status_reason}"
                log.warning(
                    "event=article_gave_up url=%s attempts=%s reason=%s",
                    item.canonical_url,
                    attempts,
                    item.status_reason,
                )
            fresh = article_from_item(item, ctx.source_id, ctx.run_id)
            for column in RETRY_COLUMNS:
                setattr(article, column, getattr(fresh, column))
            article.attempts, article.fetched_at = attempts, utcnow()
            if ctx.settings.crawl.keep_raw_html_days > 0:
                _keep_raw(session, article, item)
            session.flush()
            self._add_matches(session, article, item)
        ctx.count("retried")
        log.info(
            "event=article_retried url=%s attempt=%s status=%s",
            item.canonical_url,
            attempts,
            item.status,
        )
        return True

    def _store_revision(self, item: ArticleItem, article_id: int) -> bool:
        """Record a refetched article's new version; False when the article is gone."""
        ctx = self.ctx
        with ctx.db.session() as session:
            article = session.get(Article, article_id)
            if article is None:
                return False
            now = utcnow()
            article.fetched_at = now
            ex = item.extracted
            if item.status != "extracted" or ex is None:
                ctx.count("revisits_not_extracted")
                return True
            title = ex.title or item.feed_title
            new_sha = _sha1(ex.text)
            if new_sha == article.text_sha1 and title == article.title:
                ctx.count("revisits_unchanged")
                return True
            material = (
                title != article.title
                or text_similarity(article.text, ex.text) < MATERIAL_SIMILARITY
            )
            session.add(
                ArticleRevision(
                    article_id=article.id,
                    detected_at=now,
                    previous_title=article.title,
                    previous_text=article.text,
                    previous_text_sha1=article.text_sha1,
                    new_text_sha1=new_sha,
                )
            )
            article.title, article.text, article.text_sha1 = title, ex.text, new_sha
            article.author = ex.author or article.author
            article.description = ex.description or article.description
            article.status, article.status_reason = item.status, item.status_reason
            article.http_status, article.fetched_url = item.http_status, item.url
            article.simhash = item.simhash if item.simhash is not None else article.simhash
            article.revision_count += 1
            article.updated_at = now
            if ctx.settings.crawl.keep_raw_html_days > 0:
                _keep_raw(session, article, item)
            session.flush()
            _cluster(session, article, item, self.recent)
            self._revise_matches(session, article, item, material=material)
        ctx.count("revisions")
        log.info(
            "event=article_revised article_id=%s url=%s revision=%s material=%s",
            article.id,
            article.url,
            article.revision_count,
            material,
        )
        return True

    def _revise_matches(
        self, session: Session, article: Article, item: ArticleItem, *, material: bool
    ) -> None:
        ctx = self.ctx
        source = session.get(Source, ctx.source_id)
        existing = {m.topic: m for m in article.matches}
        changed: list[Match] = []
        for result in item.matches:
            match = existing.get(result.topic)
            if match is None:
                match = repo.match_from_result(article, result)
                session.add(match)
                session.flush()
                _link_incident(session, article, match, ctx.settings)
            elif match.state == "possible":  # the new version crossed the threshold
                _update_match(match, result)
                match.state = "matched"
                session.flush()
                _link_incident(session, article, match, ctx.settings, revised=True)
            elif match.state != "matched":  # a reported miss stays what the person said
                continue
            elif material:
                _update_match(match, result)
                session.flush()
                _link_incident(session, article, match, ctx.settings, revised=True)
            else:
                continue
            changed.append(match)
        _store_possible(session, article, item)
        if not changed:
            return
        session.flush()
        _enqueue_alerts(
            session,
            article=article,
            matches=changed,
            source=source,
            settings=ctx.settings,
            first_crawl=ctx.first_crawl,
        )
