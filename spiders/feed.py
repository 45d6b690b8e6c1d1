"""Feed spider: RSS 2.0, Atom, RDF (via feedparser) and JSON Feed; follows each item's link.

It also crawls `search` sources: Google-News-style and Bing News RSS query feeds. Their links
point at the aggregator, so each is resolved to the publisher's URL *before* dedup and
canonicalisation: Bing's `apiclick?url=` (and Google's `/url?q=`) are unwrapped without a
request; Google News `/rss/articles/<token>` ids of the older kind embed the URL and are decoded
offline; other links on the feed's own host are requested without following redirects, and the
`Location` is taken. Limits: Google's newer opaque tokens answer 200 with a script page instead
of a redirect; those are recorded as `unresolved_redirect`, not stored.

`ArticleSpider` (here because every other spider builds on it) adds to `NewsSpider` what all
kinds of source share: refetching a stored article when its feed/sitemap date says it changed
(a revision, see `crawler.pipelines.store`), and carrying sitemap keywords to the item.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import feedparser
from scrapy.http import Request, Response
from sqlalchemy import select

from crawler.items import ArticleItem
from crawler.storage import repo
from crawler.storage.models import Article, utcnow
from crawler.urls import canonicalize, fingerprint, host_of
from spiders.base import HTML_TYPES, NewsSpider, header

JSON_TYPES = ("application/feed+json", "application/json")
REDIRECT_STATUSES = [301, 302, 303, 307, 308]
MAX_HOPS = 3
REVISIT_CAP = 50  # refetches of changed articles per run: a CMS that bumps every lastmod
REVISIT_SLACK = timedelta(seconds=5)  # date rounding; clock skew costs one refetch at most
FUTURE_SLACK = timedelta(minutes=10)  # dates further in the future are not trusted
GOOGLE_NEWS_HOST = "news.google.com"


def _struct_to_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_json_feed(body: bytes, feed_url: str) -> list[dict[str, Any]]:
    """Entries of a JSON Feed (1.0/1.1); ValueError when it is not one."""
    data = json.loads(body.decode("utf-8", "replace"))
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ValueError("not a JSON Feed (no items list)")
    entries = []
    for item in data["items"]:
        if not isinstance(item, dict):
            continue
        url = item.get("url") or item.get("external_url")
        if isinstance(url, str):
            entries.append(
                {
                    "url": url,
                    "title": item.get("title") if isinstance(item.get("title"), str) else None,
                    "published": _parse_iso(
                        item.get("date_published") or item.get("date_modified")
                    ),
                    "updated": _parse_iso(item.get("date_modified")),
                    "guid": str(item.get("id")) if item.get("id") is not None else None,
                    "feed_url": feed_url,
                }
            )
    return entries


def parse_xml_feed(
    body: bytes, feed_url: str, content_type: str = ""
) -> tuple[list[dict[str, Any]], str | None]:
    """Entries of an RSS/Atom/RDF feed and, when it is broken, feedparser's complaint."""
    parsed = feedparser.parse(
        body,
        response_headers={
            "content-type": content_type or "application/xml",
            "content-location": feed_url,
        },
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    problem = None
    if parsed.get("bozo"):
        problem = f"{type(parsed.get('bozo_exception')).__name__}: {parsed.get('bozo_exception')}"
    entries = []
    for entry in parsed.entries:
        url = entry.get("link")
        if not url:
            links = entry.get("links") or []
            url = next((lk.get("href") for lk in links if lk.get("href")), None)
        if not url and str(entry.get("id", "")).startswith(("http://", "https://")):
            url = entry.get("id")
        if not url:
            continue
        entries.append(
            {
                "url": url,
                "title": entry.get("title"),
                "published": _struct_to_datetime(
                    entry.get("published_parsed") or entry.get("updated_parsed")
                ),
                "updated": _struct_to_datetime(dict.get(entry, "updated_parsed")),  # no fallback
                "guid": entry.get("id"),
                "feed_url": feed_url,
                "source_name": (entry.get("source") or {}).get("title"),
            }
        )
    return entries, problem


def decode_google_news_id(token: str) -> str | None:
    """The publisher URL inside an older Google News article id (base64 protobuf), if any."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    start = raw.find(b"http")
    if start < 0:
        return None
    end = start
    while end < len(raw) and 0x21 <= raw[end] < 0x7F:
        end += 1
    url = raw[start:end].decode("ascii")
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def unwrap_redirect(url: str) -> str | None:
    """The target of an aggregator redirect link that carries it, without any request."""
    parts = urlsplit(url)
    host, path = (parts.hostname or "").lower(), parts.path.lower()
    query = parse_qs(parts.query)
    keys: tuple[str, ...] = ()
    if "apiclick" in path:
        keys = ("url",)
    elif path == "/url" and (host.startswith("google.") or ".google." in host):
        keys = ("q", "url")
    for key in keys:
        for value in query.get(key, []):
            if urlsplit(value).scheme in ("http", "https") and urlsplit(value).hostname:
                return value
    if host == GOOGLE_NEWS_HOST and "/articles/" in path:
        return decode_google_news_id(parts.path.rsplit("/", 1)[-1])
    return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def search_title(entry: Mapping[str, Any]) -> str | None:
    """An aggregator item's title without the ' - Outlet' it appends."""
    title, outlet = entry.get("title"), entry.get("source_name")
    if isinstance(title, str) and isinstance(outlet, str) and title.endswith(f" - {outlet}"):
        return title[: -len(outlet) - 3].strip()
    return title if isinstance(title, str) else None


class ArticleSpider(NewsSpider):
    """A NewsSpider that also refetches changed articles and carries sitemap keywords."""

    revisited: set[int] | None = None

    def plan_requests(self, entries: list[dict[str, Any]], via: str) -> list[Request]:
        """Revision refetches for changed stored articles, then requests for unseen ones."""
        return self.revisit_requests(entries, via) + self.article_requests(entries, via)

    def revisit_requests(self, entries: Iterable[dict[str, Any]], via: str) -> list[Request]:
        """Refetch stored articles whose `updated` date is newer than our last fetch."""
        now = utcnow()
        dated: dict[str, dict[str, Any]] = {}
        for entry in entries:
            updated, url = entry.get("updated"), entry.get("url")
            if (
                isinstance(updated, datetime)
                and isinstance(url, str)
                and updated <= now + FUTURE_SLACK
            ):
                dated.setdefault(canonicalize(url), entry)
        requests: list[Request] = []
        if self.revisited is None:
            self.revisited = set()
        for canonical, (article_id, last) in self._stored_fetch_times(dated).items():
            entry = dated[canonical]
            if entry["updated"] <= last + REVISIT_SLACK or article_id in self.revisited:
                continue
            if len(self.revisited) >= REVISIT_CAP:
                self.ctx.count("revisit_over_limit")
                break
            self.revisited.add(article_id)
            request = self.article_request(entry, via)
            request.meta["newswatch_revision_of"] = article_id
            requests.append(request.replace(dont_filter=True))
        self.ctx.count("revisits", len(requests))
        return requests

    def _stored_fetch_times(self, urls: Iterable[str]) -> dict[str, tuple[int, datetime]]:
        wanted = list(urls)
        found: dict[str, tuple[int, datetime]] = {}
        with self.ctx.db.session() as session:
            for start in range(0, len(wanted), 500):
                batch = wanted[start : start + 500]
                rows = session.execute(
                    select(Article.id, Article.url, Article.fetched_at, Article.updated_at).where(
                        Article.url_hash.in_([fingerprint(u) for u in batch]),
                        # failed_internal ones are fetched again anyway, as retries
                        Article.status.not_in(repo.RETRYABLE_STATUSES),
                    )
                )
                for article_id, url, fetched, updated in rows:
                    found[url] = (article_id, max(fetched, updated or fetched))
        return {u: found[u] for u in wanted if u in found}

    def article_request(self, entry: dict[str, Any], via: str) -> Request:
        """The base request, also carrying the entry's keywords (news sitemaps)."""
        request = super().article_request(entry, via)
        if entry.get("keywords"):
            request.meta["newswatch_entry"]["keywords"] = entry["keywords"]
        return request

    def parse_article(self, response: Response) -> Iterable[ArticleItem]:
        """The base item, marked as a revision of a stored article where it is one."""
        entry = response.meta.get("newswatch_entry", {})
        for item in super().parse_article(response):
            if response.meta.get("newswatch_revision_of") is not None:
                item.extra["revision_of"] = response.meta["newswatch_revision_of"]
            if entry.get("keywords"):
                item.extra["feed_keywords"] = entry["keywords"]
            yield item


class FeedSpider(ArticleSpider):
    """Crawls a `feed` or `search` source: every feed URL, then the new articles it lists."""

    name = "feed"
    kind = "feed"

    def discovery_requests(self) -> Iterable[Request]:
        """One conditional request per configured feed URL."""
        for url in self.ctx.source.urls:
            yield self.discovery_request(url, self.parse_feed)

    def parse_feed(self, response: Response) -> Iterable[Request]:
        """Parse the feed (unless unchanged) and request the articles not seen yet."""
        if self.unchanged(response):
            return
        content_type = header(response, b"Content-Type").lower()
        body = response.body
        entries: list[dict[str, Any]]
        if any(t in content_type for t in JSON_TYPES) or body.lstrip()[:1] == b"{":
            try:
                entries = parse_json_feed(body, response.url)
            except ValueError as exc:
                self.ctx.record_error("unparseable_feed", response.url, f"bad JSON Feed: {exc}")
                return
        else:
            entries, problem = parse_xml_feed(body, response.url, content_type)
            if problem and not entries:
                self.ctx.record_error("unparseable_feed", response.url, problem[:300])
                return
            if problem:
                self.ctx.count("feed_recovered")
                self.logger.warning(
                    "event=feed_recovered url=%s problem=%s", response.url, problem[:200]
                )
        self.ctx.count("feed_entries", len(entries))
        if self.ctx.source.kind == "search":
            yield from self.search_requests(entries, response.url)
        else:
            yield from self.plan_requests(entries, "feed")

    # -- search sources: aggregator links → publisher URLs ------------------------------------

    resolutions = 0

    def search_requests(self, entries: list[dict[str, Any]], feed_url: str) -> Iterator[Request]:
        """Unwrap or resolve each aggregator link, then request the unseen publisher URLs."""
        resolve = self.ctx.source.resolve_redirects is not False
        direct: list[dict[str, Any]] = []
        pending: list[dict[str, Any]] = []
        for entry in entries:
            entry["title"] = search_title(entry)
            target = unwrap_redirect(entry["url"])
            if target:
                self.ctx.count("redirects_unwrapped")
                direct.append({**entry, "url": target, "aggregator_url": entry["url"]})
            elif (
                _origin(entry["url"]) == _origin(feed_url)
                or host_of(entry["url"]) == GOOGLE_NEWS_HOST
            ):
                pending.append(entry if resolve else {**entry, "resolve": True})
            else:
                direct.append(entry)
        if resolve:
            yield from self.plan_requests(direct, "search")
            for entry in pending:
                if self.resolutions >= self.ctx.source.max_articles:
                    self.ctx.count("over_limit")
                    break
                self.resolutions += 1
                yield self.resolve_request(entry, hops=0)
        else:  # fetch aggregator links as they are; the redirect is followed on download
            yield from self.plan_requests(direct + pending, "search")

    def resolve_request(self, entry: dict[str, Any], *, hops: int) -> Request:
        """A request that reads an aggregator link's redirect target without following it."""
        return Request(
            entry["url"],
            callback=self.parse_redirect,
            errback=self.on_error,
            dont_filter=True,
            priority=5,
            meta={
                "dont_redirect": True,
                "handle_httpstatus_list": REDIRECT_STATUSES,
                "newswatch_search_entry": entry,
                "newswatch_hops": hops,
            },
        )

    def parse_redirect(self, response: Response) -> Iterable[Request | ArticleItem]:
        """Follow the `Location` of an aggregator link to the publisher's article."""
        entry: dict[str, Any] = response.meta["newswatch_search_entry"]
        hops: int = response.meta.get("newswatch_hops", 0)
        location = header(response, b"Location")
        if response.status in REDIRECT_STATUSES and location:
            target = urljoin(response.url, location.strip())
            target = unwrap_redirect(target) or target
            resolved = {**entry, "url": target, "aggregator_url": entry["url"]}
            if host_of(target) == GOOGLE_NEWS_HOST and hops + 1 < MAX_HOPS:
                yield self.resolve_request(resolved, hops=hops + 1)
                return
            self.ctx.count("redirects_resolved")
            yield from self.plan_requests([resolved], "search")
            return
        mime = header(response, b"Content-Type").split(";")[0].strip().lower()
        if (
            response.status == 200
            and host_of(response.url) != GOOGLE_NEWS_HOST
            and (not mime or mime in HTML_TYPES)
        ):
            # Not a redirect after all: a search feed linking straight to articles on its host.
            response.meta["newswatch_entry"] = {**entry, "via": "search"}
            yield from self.parse_article(response)
            return
        self.ctx.record_error(
            "unresolved_redirect", response.url, f"HTTP {response.status} without a Location"
        )
