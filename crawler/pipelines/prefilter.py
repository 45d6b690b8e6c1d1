"""Stage 3: a cheap scan of the raw bytes decides whether extraction is needed at all."""

from __future__ import annotations

from crawler.items import ArticleItem
from crawler.pipelines.base import Stage


class PrefilterPipeline(Stage):
    """Mark pages without any topic term as `skipped_prefilter` (still stored as seen)."""

    def process_item(self, item: ArticleItem) -> ArticleItem:
        """Scrapy hook."""
        if not self.ctx.settings.matching.prefilter:
            return item
        result = self.ctx.matcher.prefilter.scan(item.body)
        item.prefilter_hits = tuple(result.hits)
        if not result.passed:
            item.status = "skipped_prefilter"
            item.status_reason = result.reason
            self.ctx.count("skipped")
        return item
