"""Stage 3: a cheap scan of the raw bytes decides whether extraction is needed at all."""

from __future__ import annotations

import html

from crawler.items import ArticleItem
from crawler.pipelines.base import Stage


class PrefilterPipeline(Stage):
    """Mark pages without any topic term as `skipped_prefilter` (still stored as seen)."""

    def process_item(self, item: ArticleItem) -> ArticleItem:
        """Scrapy hook."""
        if not self.ctx.settings.matching.prefilter:
            return item
        prefilter = self.ctx.matcher.prefilter
        result = prefilter.scan(item.body)
        if not result.passed and item.feed_title:
            # The match stage falls back to the feed's title: the prefilter must see it too.
            title = html.escape(item.feed_title).encode("utf-8", "replace")
            result = prefilter.scan(b"<title>" + title + b"</title>" + item.body)
        item.prefilter_hits = tuple(result.hits)
        if not result.passed:
            item.status = "skipped_prefilter"
            item.status_reason = result.reason
            self.ctx.count("skipped")
        return item
