"""Stage 4: trafilatura extraction in the crawl's worker processes, off the reactor thread.

A worker that died or timed out is our failure, not the page's: the item becomes
`failed_internal` (retried by a later crawl), never a terminal `failed`.
"""

from __future__ import annotations

from crawler.extract import Extracted, extract_to_dict, result_from_dict
from crawler.items import ArticleItem
from crawler.pagekind import ARTICLE
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
        # The link evidence of crawler.pagekind is only needed where the cheap signals
        # (metadata, URL shape) left the page kind open.
        page_kind = item.extra.get("page_kind") != ARTICLE
        done = item.extra.pop("extracted_done", None)  # the prefilter's worker task did it
        try:
            data = done or await self.ctx.workers.run(
                extract_to_dict, item.body, item.url, item.encoding, page_kind
            )
            result = result_from_dict(data)
        except WorkerFailed as exc:
            self.fail_internal(item, "extraction", str(exc))
            return item
        except Exception as exc:  # a bug of ours must not make the page count as seen
            self.fail_internal(item, "extraction", exc)
            return item
        if isinstance(result, Extracted):
            item.extracted = result
            item.status = "extracted"
        else:
            item.status, item.status_reason = result.status, result.reason
            self.ctx.count("extract_" + result.status)
        return item
