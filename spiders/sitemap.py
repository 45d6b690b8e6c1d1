"""News-sitemap spider: sitemap indexes, Google News sitemaps and plain sitemaps with lastmod.

- A source URL that is a site root (or ends in /robots.txt) is looked up in robots.txt's
  `Sitemap:` lines; with none there, the usual paths are tried (/sitemap_index.xml,
  /news-sitemap.xml, /sitemap_news.xml, /sitemap.xml) and misses are only counted.
- An index is followed recursively to `MAX_DEPTH`, newest children first, skipping children
  whose `lastmod` is older than the source's `lastmod_window_hours` (at most
  `MAX_CHILD_SITEMAPS` per index).
- A Google News sitemap (`xmlns:news`) gives title, publication date and keywords, carried to
  the article as feed metadata (extraction fallbacks). Entries are kept when their lastmod or
  publication date is inside the window; a plain sitemap's undated entries are skipped (a
  plain sitemap lists the whole archive, and without a date new cannot be told from old).
- Gzip is recognised by its magic bytes, not the extension, and decompressed up to
  `MAX_SITEMAP_BYTES` (the sitemaps.org limit is 50 MB uncompressed).
- Anything that is not a sitemap is recorded as `unparseable_sitemap`; the crawl carries on.

Top-level sitemaps (configured, from robots.txt or guessed) are fetched unconditionally: an
index is tiny and often byte-identical while its children change, and a 304 would leave no
list of children to follow. An unchanged top-level *urlset* is still not re-parsed (body hash),
and child sitemaps are conditional requests (If-None-Match / If-Modified-Since).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.etree  # type: ignore[import-untyped]
from scrapy.http import Request, Response
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.python.failure import Failure

from crawler.extract import parse_datetime
from crawler.storage import repo
from crawler.storage.models import utcnow
from spiders.feed import ArticleSpider

MAX_DEPTH = 3
MAX_CHILD_SITEMAPS = 50
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
SITEMAP_GUESSES = ("/sitemap_index.xml", "/news-sitemap.xml", "/sitemap_news.xml", "/sitemap.xml")
NEWS_FIELDS = ("title", "publication_date", "keywords", "name", "language")
GZIP_MAGIC = b"\x1f\x8b"


class NewsSitemap(Sitemap):  # type: ignore[misc]
    """Scrapy's Sitemap parser, also reading the nested `<news:news>` element of each URL."""

    def _process_sitemap_element(self, elem: Any) -> dict[str, Any] | None:
        news: dict[str, str] = {}
        for child in elem:
            if self._get_tag_name(child) == "news":
                for node in child.iter():
                    name = self._get_tag_name(node)
                    if name in NEWS_FIELDS and node.text and node.text.strip():
                        news[name] = node.text.strip()
        entry: dict[str, Any] | None = super()._process_sitemap_element(elem)
        if entry is not None and news:
            entry["news"] = news
        return entry


def parse_sitemap(body: bytes) -> tuple[str, list[dict[str, Any]], str | None]:
    """(type, entries, problem) of a sitemap body; ValueError when it is not a sitemap.

    `type` is `urlset` or `sitemapindex`; `problem` describes XML errors recovered from
    (the last entry of a truncated file is dropped, as its URL may be cut short).
    """
    try:
        sitemap = NewsSitemap(body)
    except (lxml.etree.XMLSyntaxError, StopIteration) as exc:
        raise ValueError(f"not XML: {exc or 'empty document'}") from None
    if sitemap.type not in ("urlset", "sitemapindex"):
        raise ValueError(f"root element <{sitemap.type}> is not a sitemap")
    try:
        entries = list(sitemap)
    except lxml.etree.XMLSyntaxError as exc:
        raise ValueError(f"broken XML: {exc}") from None
    errors = getattr(sitemap.xmliter, "error_log", None)
    problem = str(errors[0]) if errors else None
    if problem and entries:
        entries = entries[:-1]
    if problem and not entries:
        raise ValueError(f"broken XML: {problem}")
    return str(sitemap.type), entries, problem


def decompress(body: bytes) -> bytes:
    """The body, gunzipped when it starts with the gzip magic bytes (size-capped)."""
    if body[:2] != GZIP_MAGIC:
        return body
    try:
        return gunzip(body, max_size=MAX_SITEMAP_BYTES)
    except ValueError as exc:  # scrapy's _DecompressionMaxSizeExceeded
        raise ValueError(f"gzip sitemap larger than {MAX_SITEMAP_BYTES} bytes: {exc}") from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"broken gzip: {exc}") from None


def is_site_root(url: str) -> bool:
    """Whether a URL names a whole site (its sitemaps are then found via robots.txt)."""
    parts = urlsplit(url)
    return parts.path in ("", "/", "/robots.txt") and not parts.query


def keywords_of(news: dict[str, str]) -> list[str]:
    """The comma-separated keywords of a news entry, as a list."""
    return [k.strip() for k in news.get("keywords", "").split(",") if k.strip()]


def entry_time(entry: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """(lastmod, publication date) of a sitemap entry, timezone-aware."""
    news = entry.get("news") or {}
    return parse_datetime(entry.get("lastmod")), parse_datetime(news.get("publication_date"))


class SitemapSpider(ArticleSpider):
    """Crawls a `sitemap` source: robots.txt → indexes → (news) sitemaps → new articles."""

    name = "sitemap"
    kind = "sitemap"

    def discovery_requests(self) -> Iterable[Request]:
        """robots.txt for site roots, the sitemap itself otherwise."""
        for url in self.ctx.source.urls:
            if is_site_root(url) or getattr(self.ctx.source, "discover", False):
                yield Request(
                    urljoin(url, "/robots.txt"),
                    callback=self.parse_robots,
                    errback=self.robots_failed,
                    dont_filter=True,
                    priority=10,
                )
            else:
                yield self.top_level_request(url)

    def top_level_request(self, url: str, *, guess: bool = False) -> Request:
        """An unconditional request for a top-level sitemap (see the module doc)."""
        with self.ctx.db.session() as session:
            state = repo.feed_state(session, url)
        return Request(
            url,
            callback=self.parse_sitemap,
            errback=self.guess_missed if guess else self.on_error,
            dont_filter=True,
            priority=10,
            meta={
                "newswatch_previous_sha1": state.body_sha1 if state else None,
                "newswatch_depth": 0,
                "handle_httpstatus_list": [304],
            },
        )

    def parse_robots(self, response: Response) -> Iterator[Request]:
        """Request the sitemaps robots.txt names, or the usual paths when it names none."""
        urls = list(dict.fromkeys(sitemap_urls_from_robots(response.body, base_url=response.url)))
        self.ctx.count("robots_sitemaps", len(urls))
        if not urls:
            yield from self.guesses(response.url)
        for url in urls[:MAX_CHILD_SITEMAPS]:
            yield self.top_level_request(url)

    def robots_failed(self, failure: Failure) -> Iterator[Request]:
        """No robots.txt: try the usual sitemap paths."""
        request = getattr(failure, "request", None)
        self.ctx.count("robots_missing")
        if request is not None:
            yield from self.guesses(request.url)

    def guesses(self, base: str) -> Iterator[Request]:
        """Requests for the common sitemap locations of a site."""
        for path in SITEMAP_GUESSES:
            yield self.top_level_request(urljoin(base, path), guess=True)

    def guess_missed(self, failure: Failure) -> None:
        """A guessed sitemap path that does not exist is not an error."""
        self.ctx.count("sitemap_guess_missed")

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        """Follow an index's children, or request the new articles of a urlset."""
        same = self.unchanged(response)
        if response.status == 304:
            return
        try:
            kind, entries, problem = parse_sitemap(decompress(response.body))
        except ValueError as exc:
            self.ctx.record_error("unparseable_sitemap", response.url, str(exc)[:300])
            return
        if problem:
            self.ctx.count("sitemap_recovered")
            self.logger.warning("event=sitemap_recovered url=%s problem=%s", response.url, problem)
        depth = int(response.meta.get("newswatch_depth", 0))
        if kind == "sitemapindex":
            yield from self.child_requests(entries, depth, response.url)
        elif not same:
            yield from self.urlset_requests(entries, response.url)

    def window_start(self) -> datetime:
        """The oldest lastmod/publication date still taken as new."""
        return utcnow() - timedelta(hours=self.ctx.source.lastmod_window_hours)

    def child_requests(
        self, entries: list[dict[str, Any]], depth: int, index_url: str
    ) -> Iterator[Request]:
        """Conditional requests for an index's recent children, newest first."""
        if depth + 1 > MAX_DEPTH:
            self.ctx.record_error("sitemap_too_deep", index_url, f"nested deeper than {MAX_DEPTH}")
            return
        start = self.window_start()
        undated = datetime.max.replace(tzinfo=UTC)
        children: list[tuple[datetime, str]] = []
        for entry in entries:
            lastmod, _ = entry_time(entry)
            if lastmod is not None and lastmod < start:
                self.ctx.count("sitemaps_skipped_old")
                continue
            children.append((lastmod or undated, urljoin(index_url, entry["loc"])))
        children.sort(key=lambda c: c[0], reverse=True)
        for _, url in children[:MAX_CHILD_SITEMAPS]:
            yield self.discovery_request(url, self.parse_sitemap, newswatch_depth=depth + 1)

    def urlset_requests(self, entries: list[dict[str, Any]], sitemap_url: str) -> list[Request]:
        """Article requests for a urlset's entries inside the lastmod window."""
        start = self.window_start()
        wanted: list[dict[str, Any]] = []
        for entry in entries:
            news: dict[str, str] = entry.get("news") or {}
            lastmod, published = entry_time(entry)
            dates = [d for d in (lastmod, published) if d is not None]
            if not dates and not news:
                self.ctx.count("sitemap_undated")
                continue
            if dates and max(dates) < start:
                self.ctx.count("sitemap_old")
                continue
            wanted.append(
                {
                    "url": urljoin(sitemap_url, entry["loc"]),
                    "title": news.get("title"),
                    "published": published or lastmod,
                    "updated": lastmod,
                    "keywords": keywords_of(news),
                    "feed_url": sitemap_url,
                }
            )
        self.ctx.count("sitemap_entries", len(wanted))
        return self.plan_requests(wanted, "sitemap")
