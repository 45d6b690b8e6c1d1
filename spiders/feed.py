"""Feed spider: RSS 2.0, Atom, RDF (via feedparser) and JSON Feed; follows each item's link."""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import feedparser
from scrapy.http import Request, Response

from spiders.base import NewsSpider, header

JSON_TYPES = ("application/feed+json", "application/json")


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
                "guid": entry.get("id"),
                "feed_url": feed_url,
            }
        )
    return entries, problem


class FeedSpider(NewsSpider):
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
        via = "search" if self.ctx.source.kind == "search" else "feed"
        if via == "search":
            for entry in entries:
                entry["resolve"] = True
        self.ctx.count("feed_entries", len(entries))
        yield from self.article_requests(entries, via)
