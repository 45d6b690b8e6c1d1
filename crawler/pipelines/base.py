"""Shared plumbing for pipeline stages: the crawl context from the crawler."""

from __future__ import annotations

from scrapy.crawler import Crawler

from crawler.runtime import CrawlContext, get_context


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
