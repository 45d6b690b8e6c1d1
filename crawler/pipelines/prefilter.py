"""Stage 3: a cheap scan of the raw bytes decides whether extraction is needed at all.

The scan (and the compression of the raw page for storage) runs in the crawl's worker
processes, so the reactor thread only moves bytes; a page that passes is extracted in the same
worker task (the extract stage then only reads the result), so each page crosses to a worker
once.
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
        scan = ctx.settings.matching.prefilter
        if not scan and not keep_raw:
            return item
        extract = (item.url, item.encoding) if item.status == "pending" else None
        try:
            data = await ctx.workers.run(
                prefilter_page, item.body, item.feed_title, keep_raw, scan, extract
            )
        except WorkerFailed as exc:
            # Fail open: extraction decides, and the store stage compresses the page itself.
            ctx.record_error("prefilter", item.url, str(exc))
            return item
        item.extra["raw_gzip"] = data["raw_gzip"]
        for key in ("page_kind", "extracted"):  # later stages' work, done in the same task
            if data.get(key) is not None:
                item.extra[key + "_done"] = data[key]
        if not scan:
            return item
        item.prefilter_hits = tuple(data["hits"])
        if not data["passed"]:
            item.status = "skipped_prefilter"
            item.status_reason = data["reason"]
            ctx.count("skipped")
        return item
