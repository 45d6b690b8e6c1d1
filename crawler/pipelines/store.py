"""Stage 7: store the article, raw HTML, matches and their outbox rows in ONE transaction.

A new article that matched a topic joins (or opens) its story cluster before its matches are
written, so the outbox can thread a second copy of a story under the first alert.

A refetched article (`extra["revision_of"]`, see `spiders.feed.RevisionMixin`) is not stored
again: when its title or text changed, the previous version is kept as an ArticleRevision, the
article is updated (`revision_count`, `updated_at`) and, for a material change, its matches are
offered to the outbox again, which threads a revision reply under the alert already sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from scrapy.exceptions import DropItem
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crawler.items import ArticleItem
from crawler.matching.clustering import Fingerprint, text_similarity
from crawler.pipelines.base import Stage
from crawler.pipelines.batch import DIALECTS, FLUSH_SECONDS, PendingPages, insert_articles, stamp
from crawler.pipelines.cluster import RecentClusters, assign_cluster
from crawler.pipelines.rows import RETRY_COLUMNS, article_from_item, article_values, text_sha1
from crawler.storage import repo
from crawler.storage.models import Article, ArticleRevision, Match, RawPage, Source, utcnow
from crawler.storage.rawhtml import compress_html

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
    page.html_gzip = item.extra.get("raw_gzip") or compress_html(item.body)
    page.encoding, page.content_type, page.fetched_at = item.encoding, item.content_type, utcnow()


class StorePipeline(Stage):
    """Write everything about one page atomically; a duplicate insert race is a no-op. Pages
    that matched nothing are written in batches (crawler.pipelines.batch)."""

    _recent: RecentClusters | None = None
    _pending: PendingPages | None = None
    _timer: Any = None

    def open_spider(self) -> None:
        """Start the batch of pages that matched nothing, and its timer."""
        from twisted.internet import task

        if self.ctx.db.engine.dialect.name not in DIALECTS:
            return
        self._pending = PendingPages(
            self._write_batch, self._store_one, lambda n: self.ctx.count("new_articles", n)
        )
        self._timer = task.LoopingCall(self._flush_pending)
        self._timer.start(FLUSH_SECONDS, now=False)

    def close_spider(self) -> None:
        """Write what is still waiting."""
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        self._flush_pending()

    def _flush_pending(self) -> None:
        if self._pending is not None:
            self._pending.flush()

    def _write_batch(
        self, rows: Sequence[tuple[dict[str, Any], dict[str, Any] | None]]
    ) -> dict[str, int]:
        with self.ctx.db.session() as session:
            return insert_articles(session, rows)

    def _store_one(self, item: ArticleItem) -> None:
        """A page the batch did not insert: the one-by-one path (never raises)."""
        try:
            self._store(item)
        except DropItem as exc:
            log.info("event=article_not_stored url=%s reason=%s", item.canonical_url, exc)

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
        if (
            self._pending is not None
            and revision_of is None
            and not item.matches
            and not item.extra.get("possible")
        ):
            self._log_not_extracted(item)
            values = stamp(article_values(item, ctx.source_id, ctx.run_id))
            self._pending.add(item, values, ctx.settings.crawl.keep_raw_html_days > 0)
            return item
        self._store(item)
        return item

    def _store(self, item: ArticleItem) -> None:
        """Store one page in its own transaction; DropItem when it was stored already."""
        ctx = self.ctx
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
        self._log_not_extracted(item)

    @staticmethod
    def _log_not_extracted(item: ArticleItem) -> None:
        if item.status != "extracted":
            log.info(
                "event=article_not_extracted url=%s status=%s reason=%s",
                item.canonical_url,
                item.status,
                item.status_reason,
            )

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
            new_sha = text_sha1(ex.text)
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
