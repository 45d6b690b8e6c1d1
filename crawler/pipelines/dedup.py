"""Stage 2: drop pages whose canonical URL is already stored, before any extraction.

A page the spider deliberately refetched because its feed or sitemap says it changed (a
correction or update) carries `extra["revision_of"]` and passes on to be stored as a revision.
"""

from __future__ import annotations

from scrapy.exceptions import DropItem

from crawler.items import ArticleItem
from crawler.pipelines.base import Stage
from crawler.storage import repo
from crawler.urls import canonicalize


class DedupPipeline(Stage):
    """Drop an article already in the database (or already seen in this run)."""

    def open_spider(self) -> None:
        """Start the in-run set of canonical URLs."""
        self.in_run: set[str] = set()

    def process_item(self, item: ArticleItem) -> ArticleItem:
        """Scrapy hook."""
        url = item.canonical_url
        if url in self.in_run:
            self.ctx.count("duplicates")
            raise DropItem(f"duplicate in this run: {url}")
        if item.extra.get("revision_of") is not None:
            self.in_run.add(url)
            return item
        if url == canonicalize(item.request_url):
            # The spider checked this URL against the database, in a batch, before fetching;
            # a concurrent crawl storing it meanwhile is caught by the unique index at store.
            self.in_run.add(url)
            return item
        with self.ctx.db.session() as session:
            seen = repo.seen_urls(session, [url])
        if seen:
            self.ctx.count("duplicates")
            raise DropItem(f"already stored: {url}")
        self.in_run.add(url)
        return item
