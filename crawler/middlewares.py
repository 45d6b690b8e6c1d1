"""Downloader middlewares: the network guard, conditional requests for discovery documents, and
meta-refresh redirects that do not decode every page to look for one.

The network guard refuses URLs whose host is, or resolves to, a loopback, private, link-local
(cloud metadata: 169.254.169.254, fd00:ec2::254), carrier-grade NAT, reserved or multicast
address, unless the source lists the host (or the address) in `allow_private_hosts`. IPv6
forms that embed an IPv4 address (::ffff:10.0.0.1, 64:ff9b::/96, 2002::/16, Teredo, ::a.b.c.d)
are judged by the embedded address.

Redirects are covered because Scrapy's RedirectMiddleware schedules the redirected request
anew: it passes through `NetworkGuardMiddleware.process_request` like any first request, and
a refusal reaches the spider's errback as `BlockedURL` (recorded as error kind `blocked`).

DNS-rebinding limits, honestly: the middleware resolves the host itself (results cached for
five minutes) and the downloader resolves it again when it connects. A hostile name server can
answer a public address to the first lookup and a private one to the second. `GuardedResolver`
closes that window for Scrapy's default resolver by checking the very address the connection
will use (enable it with `TWISTED_DNS_RESOLVER = "crawler.middlewares.GuardedResolver"`;
its refusals are recorded as `dns` errors, with a log line); it cannot help
when an HTTP proxy resolves names for us, and the urllib client of `crawler.discovery` has the
same check-then-connect window (it only fetches a handful of documents when adding a source).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.resolver import CachingThreadedResolver
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

from crawler.errors import BlockedURL
from crawler.runtime import get_context
from crawler.storage import repo

log = logging.getLogger(__name__)
_DNS_TTL = 300.0
_DNS_CACHE_MAX = 10_000
_dns_cache: dict[str, tuple[float, list[str]]] = {}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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
    if len(_dns_cache) >= _DNS_CACHE_MAX:
        _dns_cache.clear()
    _dns_cache[host] = (now, addresses)
    return addresses


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo, compatible)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local (cloud metadata), CGNAT, reserved and multicast."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return is_public_address(str(inner))
        if ip.is_site_local:
            return False
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback or ip.is_link_local:
        return False
    return ip.is_global and not ip.is_private and not ip.is_reserved


def _normal_host(host: str) -> str:
    host = host.lower().rstrip(".")
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def check_host(host: str, allowed_private: Iterable[str]) -> None:
    """Raise BlockedURL unless `host` only resolves to public (or explicitly allowed) addresses."""
    host = _normal_host(host)
    allowed = {_normal_host(h) for h in allowed_private}
    allowed |= {lit for h in allowed if (lit := _literal(h))}
    if host in allowed:
        return
    literal = _literal(host)
    addresses = [literal] if literal else resolve(host)
    for address in addresses:
        if address in allowed or address.split("%", 1)[0] in allowed:
            continue
        if not is_public_address(address):
            how = "is" if literal else f"resolves to {address},"
            raise BlockedURL(f"{host} {how} a non-public address not in allow_private_hosts")


def check_url(url: str, allowed_private: Iterable[str]) -> None:
    """Raise BlockedURL when `url` would reach a non-public address not explicitly allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedURL(f"refused {parts.scheme or 'schemeless'} URL {url}")
    try:
        host = parts.hostname or ""
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        raise BlockedURL(f"refused malformed URL {url}") from None
    if not host:
        raise BlockedURL(f"refused URL without host {url}")
    try:
        check_host(host, allowed_private)
    except BlockedURL as exc:
        raise BlockedURL(f"refused {url}: {exc}") from None


def _allowed_for(crawler: Any) -> list[str]:
    """The source's allowed private hosts; `crawler` may also be the CrawlerProcess (resolver)."""
    crawlers = getattr(crawler, "crawlers", None) or [crawler]
    allowed: list[str] = []
    for each in crawlers:
        ctx = getattr(each, "newswatch", None)
        if ctx is not None:
            allowed += ctx.source.allow_private_hosts
    return allowed


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
        check_url(request.url, _allowed_for(self.crawler))


class GuardedResolver(CachingThreadedResolver):  # type: ignore[misc]
    """Scrapy's caching resolver, refusing answers that are not public (see the module doc)."""

    crawler: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> GuardedResolver:
        """Scrapy hook (given the CrawlerProcess): remember it to find the allowed hosts."""
        resolver: GuardedResolver = super().from_crawler(crawler, reactor)
        resolver.crawler = crawler
        return resolver

    def getHostByName(self, name: str, timeout: Any = ()) -> Deferred[str]:
        """Resolve, then refuse a non-public address the source does not allow."""
        d: Deferred[str] = super().getHostByName(name, timeout)
        d.addCallback(self.check_answer, name)
        return d

    def check_answer(self, address: str, name: str) -> str:
        """The address, if the source may reach it; DNSLookupError (logged) otherwise."""
        allowed = _allowed_for(self.crawler)
        if _normal_host(name) in {_normal_host(h) for h in allowed}:
            return address
        if address not in allowed and not is_public_address(address):
            # Twisted reduces any resolver failure to "no address"; say why here.
            log.warning("event=dns_answer_refused host=%s address=%s", name, address)
            raise DNSLookupError(f"refused {name}: resolved to non-public address {address}")
        return address


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
        meta = request.meta
        if not meta.get("newswatch_conditional") or "newswatch_previous_sha1" in meta:
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


class LeanMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's meta-refresh redirects, for the pages whose first bytes can hold a refresh.

    Scrapy's looks for one in the first 4096 characters of `response.text`, which decodes the
    whole body and keeps the text on the response: about twice the page held for every response
    in flight (~20 MB at a concurrency of 32) and reactor time on every page. 4096 characters
    take at most `SCAN_BYTES` bytes in any encoding, and a refresh spells "refresh" in them;
    UTF-16/32 pages (NUL bytes) are always handed on.
    """

    SCAN_BYTES = 4 * 4096

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Request | Response:
        """Scrapy hook (`spider` is never passed: Scrapy passes it only where it is required)."""
        head = response.body[: self.SCAN_BYTES]
        if b"\0" not in head and b"refresh" not in head.lower():
            return response
        return super().process_response(request, response)
