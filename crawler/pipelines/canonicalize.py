"""Stage 1: the article's canonical URL (tracking stripped, same-site rel=canonical honoured)."""

from __future__ import annotations

from crawler.extract import declared_canonical
from crawler.items import ArticleItem
from crawler.pipelines.base import Stage
from crawler.urls import choose_canonical


class CanonicalizePipeline(Stage):
    """Set `canonical_url` from the fetched URL and the page's own canonical link."""

    def process_item(self, item: ArticleItem) -> ArticleItem:
        """Scrapy hook."""
        item.canonical_url = choose_canonical(item.url, declared_canonical(item.body))
        return item
