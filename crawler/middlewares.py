"""Downloader middlewares: the network guard and conditional requests for discovery documents."""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request

from crawler.errors import BlockedURL
from crawler.runtime import get_context
from crawler.storage import repo

_DNS_TTL = 300.0
_dns_cache: dict[str, tuple[float, list[str]]] = {}


def resolve(host: str) -> list[str]:
    """The addresses a host resolves to (cached for a few minutes; [] when it does not)."""
    now = time.monotonic()
    cached = _dns_cache.get(host)
    if cached and now - cached[0] < _DNS_TTL:
        return cached[1]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        addresses: list[str] = []
    else:
        addresses = sorted({str(info[4][0]) for info in infos})
    _dns_cache[host] = (now, addresses)
    return addresses


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local (cloud metadata), reserved and similar ranges."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    bad = (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )
    if isinstance(ip, ipaddress.IPv6Address):
        bad = bad or ip.is_site_local
    return not bad


def check_url(url: str, allowed_private: list[str]) -> None:
    """Raise BlockedURL when `url` would reach a non-public address not explicitly allowed."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https"):
        raise BlockedURL(f"refused {parts.scheme or 'schemeless'} URL {url}")
    if not host:
        raise BlockedURL(f"refused URL without host {url}")
    allowed = {h.lower() for h in allowed_private}
    if host in allowed:
        return
    try:
        literal = [str(ipaddress.ip_address(host))]
    except ValueError:
        literal = []
    addresses = literal or resolve(host)
    for address in addresses:
        if address in allowed:
            continue
        if not is_public_address(address):
            raise BlockedURL(f"refused {url}: {host} resolves to non-public address {address}")


class NetworkGuardMiddleware:
    """Refuse requests (and redirects, which come through here again) to private addresses."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NetworkGuardMiddleware:
        """Scrapy hook."""
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        """Let public (or explicitly allowed) destinations through; raise BlockedURL otherwise."""
        ctx = getattr(self.crawler, "newswatch", None)
        allowed = list(ctx.source.allow_private_hosts) if ctx is not None else []
        check_url(request.url, allowed)


class ConditionalRequestMiddleware:
    """Send If-None-Match / If-Modified-Since for feeds and sitemaps from their last response."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        """Scrapy hook; off when HTTPCACHE-style revalidation is not wanted."""
        if not crawler.settings.getbool("NEWSWATCH_CONDITIONAL_REQUESTS", True):
            raise NotConfigured("conditional requests disabled")
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        """Add validators from the feed_states table to a discovery request."""
        if (
            not request.meta.get("newswatch_conditional")
            or "newswatch_previous_sha1" in request.meta
        ):
            return
        ctx = get_context(self.crawler)
        with ctx.db.session() as session:
            state = repo.feed_state(session, request.url)
        request.meta["newswatch_previous_sha1"] = state.body_sha1 if state else None
        if state is None:
            return
        if state.etag:
            request.headers.setdefault(b"If-None-Match", state.etag.encode("latin-1"))
        if state.last_modified:
            request.headers.setdefault(b"If-Modified-Since", state.last_modified.encode("latin-1"))
