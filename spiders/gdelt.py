"""GDELT DOC 2.0 spider: `mode=ArtList&format=json` query results, fetched and extracted here.

A `gdelt` source's URLs are DOC 2.0 API queries, e.g.

    https://api.gdeltproject.org/api/v2/doc/doc?query=(ICE%20OR%20%22immigration%20agents%22)%20courthouse%20sourcecountry:US&mode=ArtList&format=json&timespan=24h

The query language: words are ANDed; `OR` inside parentheses; phrases in double quotes;
`-word` excludes; operators `sourcecountry:US` (publisher's country), `sourcelang:spanish`
(article language), `domain:nytimes.com`, `near20:"ice courthouse"` (words within 20 of each
other), `theme:`/`tone<-5` and more. Missing `mode`, `format`, `sort` and `maxrecords` are
filled in (ArtList, json, DateDesc, 75); choose `timespan` (e.g. 24h) yourself. GDELT asks for
no more than one request every five seconds: keep intervals at 15 minutes or more.

GDELT only lists URLs (with title, seen date, language, country); every article is fetched
and extracted locally like any other. A body that is not JSON (GDELT answers query errors in
plain text with status 200) is recorded as `unparseable_feed` with GDELT's message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrapy.http import Request, Response

from spiders.feed import ArticleSpider

DEFAULT_PARAMS = {"mode": "ArtList", "format": "json", "sort": "DateDesc", "maxrecords": "75"}


def api_url(url: str) -> str:
    """The query URL with ArtList/json defaults filled in where the user left them out."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    present = {k.lower() for k, _ in params}
    params += [(k, v) for k, v in DEFAULT_PARAMS.items() if k.lower() not in present]
    return urlunsplit(parts._replace(query=urlencode(params, safe=":()\"'")))


def parse_seendate(value: Any) -> datetime | None:
    """GDELT's `seendate` (20240501T123000Z) as an aware datetime."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_artlist(body: bytes, api: str) -> list[dict[str, Any]]:
    """Entries of an ArtList JSON response; ValueError (with GDELT's words) otherwise."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"GDELT did not answer JSON: {text[:200]}") from None
    if not isinstance(data, dict):
        raise ValueError("GDELT answered JSON that is not an object")
    articles = data.get("articles") or []
    if not isinstance(articles, list):
        raise ValueError("GDELT's 'articles' is not a list")
    entries = []
    for article in articles:
        if not isinstance(article, dict) or not isinstance(article.get("url"), str):
            continue
        title = article.get("title")
        entries.append(
            {
                "url": article["url"],
                "title": title if isinstance(title, str) and title.strip() else None,
                "published": parse_seendate(article.get("seendate")),
                "feed_url": api,
                "language": article.get("language"),
                "country": article.get("sourcecountry"),
            }
        )
    return entries


class GdeltSpider(ArticleSpider):
    """Crawls a `gdelt` source: each API query, then the new articles it lists."""

    name = "gdelt"
    kind = "gdelt"

    def discovery_requests(self) -> Iterator[Request]:
        """One (conditional) request per query URL."""
        for url in self.ctx.source.urls:
            yield self.discovery_request(api_url(url), self.parse_api)

    def parse_api(self, response: Response) -> Iterator[Request]:
        """Request the articles of an ArtList answer that are not stored yet."""
        if self.unchanged(response):
            return
        try:
            entries = parse_artlist(response.body, response.url)
        except ValueError as exc:
            self.ctx.record_error("unparseable_feed", response.url, str(exc)[:300])
            return
        self.ctx.count("feed_entries", len(entries))
        yield from self.plan_requests(entries, "gdelt")
