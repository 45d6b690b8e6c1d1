"""Find a site's feeds and sitemaps, and turn the best of them into a `[[sources]]` entry.

Used by `newswatch sources add URL`. What it looks at, in order, stopping early where it can:

1. the URL itself: a feed (RSS/Atom/RDF/JSON Feed) or a sitemap is taken as it is; an HTML
   page is searched for `<link rel="alternate" type="application/rss+xml">` and friends
   (trafilatura's `determine_feed`), and so is the site's home page;
2. robots.txt `Sitemap:` lines (Scrapy's `sitemap_urls_from_robots`);
3. only where 1–2 found nothing of a kind, the common paths: /feed, /rss.xml, /feed.xml,
   /atom.xml, /index.xml for feeds; /sitemap_index.xml, /news-sitemap.xml, /sitemap_news.xml,
   /sitemap.xml for sitemaps.

Every candidate is fetched and parsed before it is offered. Fetching uses a small urllib client
with a timeout, a size cap, at most `MAX_FETCHES` requests, and the crawler's private-address
guard on the URL and on every redirect (see `crawler.middlewares` for its DNS-rebinding limits).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPMessage
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from courlan import get_hostinfo
from scrapy.utils.sitemap import sitemap_urls_from_robots
from trafilatura.feeds import FeedParameters, determine_feed

from crawler.errors import BlockedURL, FetchError
from crawler.middlewares import check_url
from crawler.urls import canonicalize
from spiders.feed import parse_json_feed, parse_xml_feed
from spiders.sitemap import decompress, parse_sitemap

TIMEOUT = 10.0
MAX_BYTES = 3_000_000
MAX_FETCHES = 20
USER_AGENT = "newswatch/0.1 source discovery (+https://github.com/newswatch/newswatch)"
FEED_PATHS = ("/feed", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml")
SITEMAP_PATHS = ("/sitemap_index.xml", "/news-sitemap.xml", "/sitemap_news.xml", "/sitemap.xml")
FEED_MARKERS = (b"<rss", b"<feed", b"<rdf:rdf")
NEWS_NAMESPACE = b"sitemap-news"


@dataclass(frozen=True)
class Fetched:
    """One fetched document."""

    url: str
    status: int
    content_type: str
    body: bytes


class _GuardedRedirects(urllib.request.HTTPRedirectHandler):
    """Refuse redirects to private addresses, as the crawler does."""

    def __init__(self, allowed: list[str]) -> None:
        self.allowed = allowed

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        check_url(newurl, self.allowed)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class Client:
    """A small, capped, guarded HTTP client for discovery (no cookies, no JavaScript)."""

    def __init__(self, allow_private: list[str] | None = None, timeout: float = TIMEOUT) -> None:
        self.allowed = list(allow_private or [])
        self.timeout = timeout
        self.fetches = 0
        self.problems: list[str] = []
        self.opener = urllib.request.build_opener(_GuardedRedirects(self.allowed))

    def get(self, url: str) -> Fetched | None:
        """Fetch a URL (None on network errors, noted in `problems`); BlockedURL if refused."""
        check_url(url, self.allowed)
        if self.fetches >= MAX_FETCHES:
            return None
        self.fetches += 1
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - check_url: http(s)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                body = response.read(MAX_BYTES + 1)
                status, final, ctype = response.status, response.url, response.headers
        except urllib.error.HTTPError as exc:
            self.problems.append(f"{url}: HTTP {exc.code}")
            return Fetched(url, exc.code, "", b"")
        except BlockedURL:
            raise
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            self.problems.append(f"{url}: {getattr(exc, 'reason', exc)}")
            return None
        if len(body) > MAX_BYTES:
            self.problems.append(f"{url}: larger than {MAX_BYTES} bytes, ignored")
            return None
        return Fetched(final, status, ctype.get("Content-Type", "") or "", body)


@dataclass(frozen=True)
class Found:
    """A feed or sitemap that was fetched and parsed."""

    url: str
    kind: str  # feed | sitemap
    detail: str
    entries: int
    via: str
    news: bool = False


@dataclass
class Discovery:
    """What was found on a site."""

    url: str
    site: str
    title: str | None = None
    feeds: list[Found] = field(default_factory=list)
    sitemaps: list[Found] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def normalise_input(url: str) -> str:
    """An http(s) URL from what a person typed (`example.com` → `https://example.com/`)."""
    url = url.strip()
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not a web address: {url}")
    return url if parts.path else url + "/"


def inspect_document(doc: Fetched, via: str) -> Found | None:
    """A Found when the document is a feed or a sitemap with entries, else None."""
    if doc.status != 200 or not doc.body:
        return None
    try:
        body = decompress(doc.body)
    except ValueError:
        return None
    head = body.lstrip()[:3000].lower()
    if head[:1] in (b"{", b"["):
        try:
            entries = parse_json_feed(body, doc.url)
        except ValueError:
            return None
        return Found(doc.url, "feed", f"JSON Feed, {len(entries)} entries", len(entries), via)
    if b"<urlset" in head or b"<sitemapindex" in head:
        try:
            kind, items, _ = parse_sitemap(body)
        except ValueError:
            return None
        news = NEWS_NAMESPACE in head
        label = "sitemap index" if kind == "sitemapindex" else "news sitemap" if news else "sitemap"
        return Found(doc.url, "sitemap", f"{label}, {len(items)} entries", len(items), via, news)
    if any(marker in head for marker in FEED_MARKERS):
        feed_entries, _ = parse_xml_feed(body, doc.url, doc.content_type)
        if feed_entries:
            flavour = "Atom" if b"<feed" in head else "RDF" if b"<rdf:rdf" in head else "RSS"
            detail = f"{flavour} feed, {len(feed_entries)} entries"
            return Found(doc.url, "feed", detail, len(feed_entries), via)
    return None


def _html_title(body: bytes) -> str | None:
    lowered = body[:100_000].lower()
    start = lowered.find(b"<title")
    if start < 0:
        return None
    start = lowered.find(b">", start) + 1
    end = lowered.find(b"</title", start)
    if start <= 0 or end < 0:
        return None
    title = " ".join(body[start:end].decode("utf-8", "replace").split())
    return title.split(" | ")[-1].split(" - ")[-1].strip() or None


def feed_links(doc: Fetched) -> list[str]:
    """Feed URLs an HTML page advertises (`<link rel=alternate>`, then likely `<a>` links)."""
    domain, base = get_hostinfo(doc.url)
    host = urlsplit(doc.url).netloc
    params = FeedParameters(base or f"{urlsplit(doc.url).scheme}://{host}", domain or host, doc.url)
    links = determine_feed(doc.body.decode("utf-8", "replace"), params)
    return [urljoin(doc.url, link) for link in links]


class _Finder:
    def __init__(self, client: Client, result: Discovery) -> None:
        self.client, self.result = client, result
        self.seen: set[str] = set()

    def consider(self, url: str, via: str) -> Found | None:
        key = canonicalize(url)
        if key in self.seen:
            return None
        self.seen.add(key)
        try:
            doc = self.client.get(url)
        except BlockedURL as exc:
            self.result.problems.append(str(exc))
            return None
        found = inspect_document(doc, via) if doc is not None else None
        if found is not None:
            target = self.result.feeds if found.kind == "feed" else self.result.sitemaps
            target.append(found)
        return found


def discover(url: str, *, client: Client | None = None) -> Discovery:
    """Find the feeds and sitemaps of the site at `url` (FetchError if it cannot be reached)."""
    url = normalise_input(url)
    client = client or Client()
    parts = urlsplit(url)
    site = f"{parts.scheme}://{parts.netloc}/"
    result = Discovery(url=url, site=site)
    finder = _Finder(client, result)
    first = client.get(url)
    if first is None or first.status >= 400:
        detail = "; ".join(client.problems) or "no answer"
        raise FetchError(f"cannot fetch {url}: {detail}")
    finder.seen.add(canonicalize(first.url))
    own = inspect_document(first, "given URL")
    if own is not None:
        (result.feeds if own.kind == "feed" else result.sitemaps).append(own)
    else:
        result.title = _html_title(first.body)
        pages = [first]
        if canonicalize(first.url) != canonicalize(site) and (home := client.get(site)):
            pages.append(home)
            result.title = _html_title(home.body) or result.title
        for page in pages:
            for link in feed_links(page)[:8]:
                finder.consider(link, "autodiscovery")
    robots = client.get(urljoin(site, "/robots.txt"))
    if robots is not None and robots.status == 200:
        for sitemap in list(sitemap_urls_from_robots(robots.body, base_url=robots.url))[:5]:
            finder.consider(sitemap, "robots.txt")
    if not result.feeds:
        for path in FEED_PATHS:
            if finder.consider(urljoin(site, path), "common path"):
                break
    if not result.sitemaps:
        for path in SITEMAP_PATHS:
            finder.consider(urljoin(site, path), "common path")
    result.problems.extend(client.problems)
    return result


def default_name(url: str) -> str:
    """A source name from a site's host: `www.thecity.nyc` → `thecity.nyc`."""
    parts = urlsplit(url)
    name = (parts.hostname or "source").lower().removeprefix("www.")
    return f"{name}-{parts.port}" if parts.port else name


def choose(result: Discovery, kind: str = "auto") -> tuple[str, list[str]]:
    """The kind and URLs of the source to write: a feed if there is one, else sitemaps."""
    if kind in ("auto", "feed") and result.feeds:
        return "feed", [result.feeds[0].url]
    if kind in ("auto", "sitemap") and result.sitemaps:
        news = [s.url for s in result.sitemaps if s.news]
        return "sitemap", news or [s.url for s in result.sitemaps][:3]
    raise FetchError(f"no usable {'feed or sitemap' if kind == 'auto' else kind} found")


def toml_value(value: Any) -> str:
    """A TOML literal for a str/bool/number/list (JSON's escapes are valid TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def source_toml(result: Discovery, fields: dict[str, Any], *, now: datetime | None = None) -> str:
    """The `[[sources]]` TOML block, with what else was found as comments."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
    lines = [f"# Added by `newswatch sources add` on {when} from {result.url}"]
    chosen = set(fields.get("urls", []))
    for found in result.feeds + result.sitemaps:
        if found.url not in chosen:
            lines.append(f"# also found: {found.url} ({found.detail}, via {found.via})")
    lines.append("[[sources]]")
    lines += [f"{key} = {toml_value(value)}" for key, value in fields.items() if value is not None]
    return "\n".join(lines) + "\n"
