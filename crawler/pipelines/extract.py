"""Stage 4: trafilatura extraction in a warmed process pool, off the reactor thread.

Processes, not threads: trafilatura and htmldate share one lxml parser, and threaded
extraction corrupts the heap. A page that takes longer than `crawl.extract_timeout` is
recorded as failed and the pool is recycled so the stuck worker cannot block the crawl.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from crawler.extract import Extracted, extract_to_dict, result_from_dict
from crawler.items import ArticleItem
from crawler.pipelines.base import Stage

log = logging.getLogger(__name__)


def _warm_worker() -> None:
    """Import trafilatura once per worker, before the first page arrives."""
    import trafilatura  # noqa: F401


def worker_count(configured: int) -> int:
    """Extraction processes: the configured number, or one per CPU core."""
    return configured if configured > 0 else max(1, os.cpu_count() or 1)


class ExtractPipeline(Stage):
    """Extract title, text and metadata; empty or failed extraction becomes a status."""

    pool: ProcessPoolExecutor | None = None

    def open_spider(self) -> None:
        """Start the worker pool."""
        self._start_pool()

    def _start_pool(self) -> None:
        workers = worker_count(self.ctx.settings.crawl.extract_workers)
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_warm_worker,
        )

    def _recycle_pool(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            # A stuck worker ignores shutdown(); terminate the processes themselves.
            processes = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
        self._start_pool()

    def close_spider(self) -> None:
        """Stop the worker pool."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        """Scrapy hook (awaits the worker without blocking the reactor)."""
        if item.status != "pending":
            return item
        assert self.pool is not None
        loop = asyncio.get_running_loop()
        timeout = self.ctx.settings.crawl.extract_timeout
        try:
            future = loop.run_in_executor(
                self.pool, extract_to_dict, item.body, item.url, item.encoding
            )
            data = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._fail(item, f"extraction took longer than {timeout:g} s")
            self._recycle_pool()
            return item
        except BrokenProcessPool:
            self._fail(item, "extraction worker crashed")
            self._recycle_pool()
            return item
        result = result_from_dict(data)
        if isinstance(result, Extracted):
            item.extracted = result
            item.status = "extracted"
        else:
            item.status, item.status_reason = result.status, result.reason
            self.ctx.count("extract_" + result.status)
        return item

    def _fail(self, item: ArticleItem, reason: str) -> None:
        item.status, item.status_reason = "failed", reason
        self.ctx.record_error("extraction", item.url, reason)
