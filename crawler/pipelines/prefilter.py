"""Stage 3: a cheap scan of the raw bytes decides whether extraction is needed at all.

The scan (and the compression of the raw page for storage) runs in the crawl's worker
processes, so the reactor thread only moves bytes.
"""

from __future__ import annotations

from crawler.items import ArticleItem
from crawler.pipelines.base import Stage
from crawler.pipelines.workers import WorkerFailed, prefilter_page


class PrefilterPipeline(Stage):
    """Mark pages without any topic term as `skipped_prefilter` (still stored as seen)."""

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        """Scrapy hook."""
        ctx = self.ctx
        keep_raw = ctx.settings.crawl.keep_raw_html_days > 0
        if not ctx.settings.matching.prefilter and not keep_raw:
            return item
        try:
            data = await ctx.workers.run(prefilter_page, item.body, item.feed_title, keep_raw)
        except WorkerFailed as exc:
            # Fail open: extraction decides, and the store stage compresses the page itself.
            ctx.record_error("prefilter", item.url, str(exc))
            return item
        item.extra["raw_gzip"] = data["raw_gzip"]
        if not ctx.settings.matching.prefilter:
            return item
        item.prefilter_hits = tuple(data["hits"])
        if not data["passed"]:
            item.status = "skipped_prefilter"
            item.status_reason = data["reason"]
            ctx.count("skipped")
        return item
