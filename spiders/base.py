"""What every newswatch spider shares: the source, dedup before fetching, article requests,
content-type checks and error classification into recorded kinds."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import defer
from twisted.internet.error import (
    ConnectError,
    ConnectionLost,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from crawler.errors import BlockedURL
from crawler.items import ArticleItem
from crawler.runtime import CrawlContext, create_context
from crawler.storage import repo
from crawler.urls import canonicalize, host_of

HTML_TYPES = ("text/html", "application/xhtml+xml")


def classify_failure(failure: Failure) -> tuple[str, str]:
    """Map a download failure to a recorded error kind and a one-line reason."""
    exc = failure.value
    if isinstance(exc, HttpError):
        status = exc.response.status
        kind = "http_5xx" if status >= 500 else "http_429" if status == 429 else f"http_{status}"
        if 400 <= status < 500 and status not in (403, 404, 410, 429):
            kind = "http_4xx"
        return kind, f"HTTP {status}"
    if isinstance(exc, BlockedURL):
        return "blocked", str(exc)
    if isinstance(exc, IgnoreRequest):
        text = str(exc) or "ignored"
        if "robots" in text.lower():
            return "robots", "disallowed by robots.txt"
        if "redirect" in text.lower():
            return "redirect", f"redirect loop or too many redirects ({text})"
        return "ignored", text
    if isinstance(exc, (DNSLookupError, CannotResolveHostError)):
        return "dns", "DNS lookup failed"
    if isinstance(exc, (TimeoutError, TCPTimedOutError, DownloadTimeoutError)):
        return "timeout", "timed out"
    if isinstance(exc, (defer.CancelledError, DownloadCancelledError)):
        return "too_large", "download cancelled: larger than max_page_bytes"
    connection_errors = (
        ConnectError,
        ConnectionLost,
        ResponseFailed,
        ResponseNeverReceived,
        DownloadConnectionRefusedError,
        DownloadFailedError,
        ResponseDataLossError,
    )
    if isinstance(exc, connection_errors):
        return "connection", f"connection failed: {type(exc).__name__}"
    return "error", f"{type(exc).__name__}: {exc}"[:300]


def header(response: Response, name: bytes) -> str:
    """A response header as text ('' when absent)."""
    value = response.headers.get(name)
    return value.decode("latin-1") if value else ""


def body_sha1(body: bytes) -> str:
    """Hash of a feed body, to skip parsing an unchanged one."""
    return hashlib.sha1(body, usedforsecurity=False).hexdigest()


class NewsSpider(scrapy.Spider):
    """Base spider: one source per crawl, given as `-a source=NAME` (and `-a run_id=N`)."""

    kind = "base"
    ctx: CrawlContext

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        """Create the crawl context (config, database, run row) with the spider."""
        source = kwargs.get("source")
        if not source:
            raise ValueError("a newswatch spider needs -a source=NAME")
        run_id = kwargs.get("run_id")
        ctx = create_context(crawler, source, int(run_id) if run_id else None)
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.ctx = ctx
        # Domains are checked per article against the source (OffsiteMiddleware stays idle).
        return spider  # type: ignore[no-any-return]

    # -- article requests -------------------------------------------------------------------

    def article_requests(self, entries: Iterable[dict[str, Any]], via: str) -> list[Request]:
        """Requests for the entries not stored yet, within the source's domains and limits.

        Each entry has `url` and optionally `title`, `published` (datetime), `guid`, `feed_url`.
        """
        source = self.ctx.source
        by_url: dict[str, dict[str, Any]] = {}
        for entry in entries:
            url = entry.get("url")
            if not url or not str(url).startswith(("http://", "https://")):
                continue
            if not source.allows_domain(host_of(url)) and not entry.get("resolve"):
                self.ctx.count("off_site")
                continue
            by_url.setdefault(canonicalize(url), entry)
        with self.ctx.db.session() as session:
            seen = repo.seen_urls(session, by_url)
        self.ctx.count("discovered", len(by_url))
        self.ctx.count("duplicates", len(seen))
        requests: list[Request] = []
        for canonical, entry in by_url.items():
            if canonical in seen:
                continue
            if len(requests) >= source.max_articles:
                self.ctx.count("over_limit")
                break
            requests.append(self.article_request(entry, via))
        return requests

    def article_request(self, entry: dict[str, Any], via: str) -> Request:
        """A request for one article page, carrying feed metadata as extraction fallbacks."""
        meta = {
            "newswatch_entry": {
                "title": entry.get("title"),
                "published": entry.get("published"),
                "guid": entry.get("guid"),
                "feed_url": entry.get("feed_url"),
                "via": via,
            }
        }
        return Request(
            entry["url"],
            callback=self.parse_article,
            errback=self.on_error,
            meta=meta,
            priority=1,
            # Seen-URL dedup is ours (database + run set); Scrapy's filter would silently
            # swallow a redirect loop instead of letting it be recorded.
            dont_filter=True,
        )

    def parse_article(self, response: Response) -> Iterable[ArticleItem]:
        """Turn an article response into an item (non-HTML bodies are recorded and skipped)."""
        self.ctx.count("pages_fetched")
        entry = response.meta.get("newswatch_entry", {})
        content_type = header(response, b"Content-Type").lower()
        mime = content_type.split(";")[0].strip()
        if mime and mime not in HTML_TYPES:
            self.ctx.record_error("not_html", response.url, f"content type {mime}")
            return
        encoding = None
        if "charset=" in content_type:
            encoding = content_type.split("charset=", 1)[1].split(";")[0].strip(" \"'") or None
        published = entry.get("published")
        yield ArticleItem(
            url=response.url,
            request_url=response.request.url if response.request else response.url,
            body=response.body,
            encoding=encoding,
            content_type=mime or "text/html",
            http_status=response.status,
            discovered_via=entry.get("via", self.kind),
            feed_title=entry.get("title"),
            feed_published=published if isinstance(published, datetime) else None,
            feed_guid=entry.get("guid"),
            feed_url=entry.get("feed_url"),
        )

    def on_error(self, failure: Failure) -> None:
        """Record a failed request by kind; the crawl carries on."""
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        kind, reason = classify_failure(failure)
        self.ctx.record_error(kind, url, reason)

    # -- discovery documents (feeds, sitemaps, section pages) --------------------------------

    def discovery_request(self, url: str, callback: Any, **meta: Any) -> Request:
        """A request for a feed/sitemap/section page, conditional on its last validators."""
        return Request(
            url,
            callback=callback,
            errback=self.on_error,
            dont_filter=True,
            priority=10,
            meta={"newswatch_conditional": True, "handle_httpstatus_list": [304], **meta},
        )

    def unchanged(self, response: Response) -> bool:
        """True (and counted) when a discovery document is 304 or byte-identical to last time."""
        if response.status == 304:
            self.ctx.count("not_modified")
            return True
        digest = body_sha1(response.body)
        previous = response.meta.get("newswatch_previous_sha1")
        self.ctx.feed_states[response.url] = (
            header(response, b"ETag") or None,
            header(response, b"Last-Modified") or None,
            digest,
        )
        if previous and previous == digest:
            self.ctx.count("not_modified")
            return True
        self.ctx.count("documents_fetched")
        return False

    async def start(self) -> AsyncIterator[Any]:
        """Scrapy ≥2.13 entry point: subclasses yield their discovery requests."""
        for request in self.discovery_requests():
            yield request

    def discovery_requests(self) -> Iterable[Request]:
        """The first requests of this kind of source."""
        raise NotImplementedError
