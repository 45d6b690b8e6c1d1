"""Shared plumbing for pipeline stages: the crawl context, and recording our own failures.

A stage that fails on OUR side (a worker died or timed out, the matcher raised, a bug) marks
the item `failed_internal` instead of letting the exception drop it: the store stage records
it with the reason and an attempt count, and a later crawl (or `newswatch rematch`) processes
it again, since a `failed_internal` article does not count as seen (crawler.storage.repo).
"""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler

from crawler.items import ArticleItem
from crawler.runtime import INTERNAL_ERROR_KIND, CrawlContext, get_context
from crawler.storage.repo import FAILED_INTERNAL

log = logging.getLogger(__name__)


class Stage:
    """A pipeline stage with access to the crawl context."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Stage:
        """Scrapy hook."""
        return cls(crawler)

    @property
    def ctx(self) -> CrawlContext:
        """This crawl's context."""
        return get_context(self.crawler)

    def fail_internal(self, item: ArticleItem, stage: str, reason: str | BaseException) -> None:
        """Mark the item as failed on our side (retryable), with the stage and the reason."""
        if isinstance(reason, BaseException):
            log.exception("event=pipeline_stage_error stage=%s url=%s", stage, item.url)
            reason = f"{type(reason).__name__}: {reason}"
        item.status, item.status_reason = FAILED_INTERNAL, f"{stage}: {reason}"[:500]
        self.ctx.record_error(INTERNAL_ERROR_KIND, item.url, item.status_reason)
