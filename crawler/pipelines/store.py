"""Stage 7: store the article, raw HTML, matches and their outbox rows in ONE transaction."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from scrapy.exceptions import DropItem
from sqlalchemy.exc import IntegrityError

from crawler.items import ArticleItem
from crawler.pipelines.base import Stage
from crawler.storage import repo
from crawler.storage.models import Article, Source
from crawler.urls import fingerprint

log = logging.getLogger(__name__)


def _enqueue_alerts(session: Any, **kwargs: Any) -> None:
    from alerts.outbox import enqueue_match_alerts

    enqueue_match_alerts(session, **kwargs)


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
        title=(ex.title if ex is not None else None) or item.feed_title,
        author=ex.author if ex is not None else None,
        published_at=(ex.published if ex is not None else None) or item.feed_published,
        site_name=ex.sitename if ex is not None else None,
        language=ex.language if ex is not None else None,
        description=ex.description if ex is not None else None,
        text=text,
        text_sha1=hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest() if text else None,
        simhash=item.simhash,
        cluster_id=item.extra.get("cluster_id"),
        feed_title=item.feed_title,
        feed_published_at=item.feed_published,
        feed_guid=item.feed_guid,
    )


class StorePipeline(Stage):
    """Write everything about one page atomically; a duplicate insert race is a no-op."""

    def process_item(self, item: ArticleItem) -> ArticleItem:
        """Scrapy hook."""
        ctx = self.ctx
        keep_raw = ctx.settings.crawl.keep_raw_html_days > 0
        try:
            with ctx.db.session() as session:
                article = article_from_item(item, ctx.source_id, ctx.run_id)
                session.add(article)
                session.flush()
                if keep_raw:
                    repo.add_raw_page(session, article, item.body, item.encoding, item.content_type)
                source = session.get(Source, ctx.source_id)
                for result in item.matches:
                    match = repo.match_from_result(article, result)
                    session.add(match)
                    session.flush()
                    _enqueue_alerts(
                        session,
                        article=article,
                        match=match,
                        source=source,
                        settings=ctx.settings,
                        first_crawl=ctx.first_crawl,
                    )
        except IntegrityError as exc:
            ctx.count("duplicates")
            raise DropItem(f"stored concurrently: {item.canonical_url}") from exc
        ctx.count("new_articles")
        if item.status != "extracted":
            log.info(
                "event=article_not_extracted url=%s status=%s reason=%s",
                item.canonical_url,
                item.status,
                item.status_reason,
            )
        return item
