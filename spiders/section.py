"""Section-page spider: start pages whose article links are followed.

A link is taken for an article when it matches the source's `article_url` regex or, without
one, when the heuristic `looks_like_article` says so: same site; not a navigation, tag,
category, author, login, about, contact, search, feed or pagination page (courlan's
`is_navigation_page`, `is_not_crawlable` and `type_filter`, plus a list of path words); courlan's
`check_url` sanity check for public host names; and the shape of an article URL: a date in
the path (/2024/05/01/, /2024/05/, 20240501) or a long slug (four words or more, or a slug
ending in a long numeric id).

`depth` (default 1) is the number of link hops from a start page: article links are followed
at every hop, and other same-site listing pages (sections) are fetched as further section
pages while hops remain. Section pages are conditional discovery requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from courlan import check_url, is_navigation_page, is_not_crawlable
from courlan.filters import type_filter
from scrapy.http import Request, Response

from crawler.urls import canonicalize, same_site
from spiders.feed import ArticleSpider

MAX_LISTING_PAGES = 50
MAX_LISTING_LINKS_PER_PAGE = 20
NOT_ARTICLE_WORDS = frozenset(
    {
        "about",
        "account",
        "advertise",
        "archive",
        "archives",
        "author",
        "authors",
        "careers",
        "category",
        "categories",
        "contact",
        "donate",
        "events",
        "feed",
        "feeds",
        "help",
        "jobs",
        "login",
        "logout",
        "newsletter",
        "newsletters",
        "page",
        "podcasts",
        "privacy",
        "register",
        "rss",
        "search",
        "section",
        "sections",
        "signin",
        "signup",
        "static",
        "subscribe",
        "tag",
        "tags",
        "terms",
        "topic",
        "topics",
        "user",
        "users",
        "video",
        "videos",
        "wp-admin",
        "wp-login.php",
    }
)
LISTING_WORDS = frozenset({"section", "sections", "category", "categories", "news", "topic"})
_DATE_PATH = re.compile(r"/(19|20)\d{2}/(0?[1-9]|1[0-2])(/|$)|/(19|20)\d{2}(0[1-9]|1[0-2])\d{2}/")
_PAGINATION = re.compile(r"([?&](page|p|paged|pg|offset|start)=\d+)|/page/\d+/?$", re.I)
_FILE = re.compile(r"\.(jpe?g|png|gif|webp|svg|pdf|mp[34]|zip|css|js|xml|json|rss)$", re.I)
_ID_SLUG = re.compile(r"(^|[-_])\d{5,}($|[-_.])")
_IP_HOST = re.compile(r"^[\d.]+$|:")


def _segments(url: str) -> list[str]:
    return [s for s in urlsplit(url).path.lower().split("/") if s]


def _slug_words(segment: str) -> list[str]:
    stem = re.sub(r"\.(s?html?|php|aspx?)$", "", segment)
    return [w for w in re.split(r"[-_]+", stem) if w]


def is_excluded(url: str) -> bool:
    """Pages that are never articles: navigation, pagination, files, accounts, feeds."""
    if _PAGINATION.search(url) or _FILE.search(urlsplit(url).path):
        return True
    if is_navigation_page(url) or is_not_crawlable(url) or not type_filter(url, strict=True):
        return True
    return any(segment in NOT_ARTICLE_WORDS for segment in _segments(url))


def looks_like_article(url: str, page_url: str) -> bool:
    """The default heuristic: a same-site URL shaped like an article (see the module doc)."""
    if not same_site(url, page_url) or is_excluded(url):
        return False
    host = urlsplit(url).hostname or ""
    if not _IP_HOST.search(host) and host != "localhost" and check_url(url, strict=True) is None:
        return False
    segments = _segments(url)
    if not segments:
        return False
    if _DATE_PATH.search(urlsplit(url).path):
        return True
    last = segments[-1]
    if len(_slug_words(last)) >= 4 or bool(_ID_SLUG.search(last) and len(last) > 12):
        return True
    # /news/local/some-story-slug/5412345/: a numeric id after a slug
    return (
        last.isdigit()
        and len(last) >= 5
        and len(segments) > 1
        and (len(_slug_words(segments[-2])) >= 3)
    )


def looks_like_listing(url: str, page_url: str) -> bool:
    """A same-site section page worth following deeper (never pagination or accounts)."""
    if not same_site(url, page_url) or _PAGINATION.search(url) or _FILE.search(url):
        return False
    segments = _segments(url)
    if not segments or is_not_crawlable(url):
        return False
    return segments[0] in LISTING_WORDS and not any(
        s in NOT_ARTICLE_WORDS - LISTING_WORDS for s in segments
    )


def page_links(response: Response) -> list[tuple[str, str]]:
    """(absolute URL, anchor text) of every http(s) link on a page, in document order."""
    links: list[tuple[str, str]] = []
    for anchor in response.css("a[href]"):
        href = (anchor.attrib.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:")):
            continue
        url = urljoin(response.url, href).split("#", 1)[0]
        if urlsplit(url).scheme in ("http", "https"):
            text = " ".join(" ".join(anchor.css("::text").getall()).split())
            links.append((url, text))
    return links


class SectionSpider(ArticleSpider):
    """Crawls a `section` source: start pages → article links (and deeper sections)."""

    name = "section"
    kind = "section"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listing_pages: set[str] = set()

    def discovery_requests(self) -> Iterator[Request]:
        """One conditional request per start page."""
        for url in self.ctx.source.urls:
            self.listing_pages.add(canonicalize(url))
            yield self.discovery_request(url, self.parse_section, newswatch_hop=0)

    def is_article(self, url: str, page_url: str) -> bool:
        """The source's `article_url` regex when set, else the heuristic."""
        pattern = self.ctx.source.article_url
        if pattern:
            return re.search(pattern, url) is not None and not _FILE.search(url)
        return looks_like_article(url, page_url)

    def parse_section(self, response: Response) -> Iterator[Request]:
        """Request the new article links of a section page, and deeper sections if allowed."""
        if self.unchanged(response):
            return
        hop = int(response.meta.get("newswatch_hop", 0)) + 1
        if hop > self.ctx.source.depth:
            return
        articles: dict[str, dict[str, Any]] = {}
        listings: list[str] = []
        for url, text in page_links(response):
            key = canonicalize(url)
            if self.is_article(url, response.url):
                title = text if len(text.split()) >= 3 else None  # not "Read more"
                articles.setdefault(key, {"url": url, "title": title})
            elif (
                hop < self.ctx.source.depth
                and key not in self.listing_pages
                and looks_like_listing(url, response.url)
            ):
                listings.append(url)
                self.listing_pages.add(key)
        entries = [{**e, "feed_url": response.url} for e in articles.values()]
        self.ctx.count("section_links", len(entries))
        yield from self.plan_requests(entries, "section")
        for url in listings[:MAX_LISTING_LINKS_PER_PAGE]:
            if len(self.listing_pages) > MAX_LISTING_PAGES:
                self.ctx.count("listing_over_limit")
                break
            yield self.discovery_request(url, self.parse_section, newswatch_hop=hop)
