"""Source models: what to crawl, how, and how often (`[[sources]]` in the config)."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crawler.durations import Seconds

SourceKind = Literal["feed", "sitemap", "section", "search", "gdelt"]

SPIDER_FOR_KIND: dict[str, str] = {
    "feed": "feed",
    "search": "feed",
    "sitemap": "sitemap",
    "section": "section",
    "gdelt": "gdelt",
}


class SourceConfig(BaseModel):
    """One source of news: a feed, a news sitemap, section pages or a search-query feed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="Short unique name (letters, digits, - _ .).",
    )
    kind: SourceKind = Field(
        "feed",
        description="feed (RSS/Atom/RDF/JSON Feed), sitemap (news sitemap or index), "
        "section (start pages whose article links are followed), search (Google/Bing News RSS "
        "queries; links are resolved to the publisher), gdelt (GDELT DOC 2.0 ArtList JSON; query "
        'operators sourcecountry:US, sourcelang:spanish, domain:x.com, near20:"a b", (a OR b), '
        "-x).",
    )
    discover: bool = Field(
        False,
        description="sitemap: find the sitemaps in the site's robots.txt even when the URL is "
        "not the site root.",
    )
    urls: list[str] = Field(min_length=1, description="Feed, sitemap, start-page or query URLs.")
    allowed_domains: list[str] = Field(
        default_factory=list,
        description="Follow article links only to these domains (default: the URLs' own hosts; "
        "search and gdelt sources allow any public host).",
    )
    interval: Seconds | None = Field(
        None,
        gt=0,
        description="Seconds (or 15m, 2h) between crawls (default: scheduler.default_interval).",
    )
    enabled: bool = True
    language: str | None = Field(None, description="Expected language code, e.g. en or es.")
    outlet: str | None = Field(None, description="Display name of the outlet.")
    article_url: str | None = Field(
        None, description="section: regex an article URL must match (default: a heuristic)."
    )
    depth: int = Field(1, ge=0, le=3, description="section: link depth to follow.")
    lastmod_window_hours: float = Field(
        48.0, gt=0, description="sitemap: only entries modified within this window."
    )
    max_articles: int = Field(500, ge=1, description="At most this many article fetches per run.")
    allow_private_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts or IPs on loopback/private networks this source may reach "
        "(tests and the demo use 127.0.0.1). Everything else private is refused.",
    )
    alert_first_crawl: bool | None = Field(
        None, description="Override alerts.alert_first_crawl for this source."
    )
    resolve_redirects: bool | None = Field(
        None, description="search: follow aggregator redirect links (default: on for search)."
    )

    @field_validator("urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"expected an http(s) URL with a host, got {url!r}")
        return urls

    @field_validator("article_url")
    @classmethod
    def _regex(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return pattern

    @model_validator(mode="after")
    def _defaults(self) -> SourceConfig:
        if not self.allowed_domains and self.kind not in ("search", "gdelt"):
            hosts = sorted({(urlsplit(u).hostname or "").lower() for u in self.urls})
            object.__setattr__(self, "allowed_domains", hosts)
        return self

    @property
    def spider(self) -> str:
        """The Scrapy spider that crawls this kind of source."""
        return SPIDER_FOR_KIND[self.kind]

    @property
    def display_name(self) -> str:
        """The outlet name for messages."""
        return self.outlet or self.name

    def allows_domain(self, host: str) -> bool:
        """Whether an article on `host` may be followed from this source."""
        if self.kind in ("search", "gdelt") and not self.allowed_domains:
            return True
        host = host.lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)
