"""Stage 4: trafilatura extraction in the crawl's worker processes, off the reactor thread."""

from __future__ import annotations

from crawler.extract import Extracted, extract_to_dict, result_from_dict
from crawler.items import ArticleItem
from crawler.pipelines.base import Stage
from crawler.pipelines.workers import WorkerFailed


class ExtractPipeline(Stage):
    """Extract title, text and metadata; empty or failed extraction becomes a status."""

    def open_spider(self) -> None:
        """Start the worker pool before the first page arrives (warm-up overlaps fetching)."""
        self.ctx.workers.start()

    def close_spider(self) -> None:
        """Stop the worker pool."""
        self.ctx.workers.close()

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        """Scrapy hook (awaits the worker without blocking the reactor)."""
        if item.status != "pending":
            return item
        done = item.extra.pop("extracted", None)
        try:
            data = done or await self.ctx.workers.run(
                extract_to_dict, item.body, item.url, item.encoding
            )
        except WorkerFailed as exc:
            item.status, item.status_reason = "failed", f"extraction {exc}"
            self.ctx.record_error("extraction", item.url, item.status_reason)
            return item
        result = result_from_dict(data)
        if isinstance(result, Extracted):
            item.extracted = result
            item.status = "extracted"
        else:
            item.status, item.status_reason = result.status, result.reason
            self.ctx.count("extract_" + result.status)
        return item
