"""URL routing of the sample site: which page, feed, sitemap or fault answers a path."""

from __future__ import annotations

import re
import sys
import traceback
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from crawler.sample_site import aggregators, faults
from crawler.sample_site import feeds as feedgen
from crawler.sample_site import sitemaps as smap
from crawler.sample_site.content import SITE_INFO, Article, matches_query
from crawler.sample_site.render import (
    PAGE_SIZE,
    SECTION_LABELS,
    TAGS,
    Listing,
    PageContext,
    Theme,
    related_for,
)
from crawler.sample_site.responses import (
    ATOM,
    CSS,
    GZIP,
    HTML,
    JSON,
    JSON_FEED,
    PDF,
    PNG,
    RDF,
    RSS,
    SITE_CSS,
    TEXT,
    XML,
    Response,
    finalize,
    huge_response,
    placeholder_png,
)
from crawler.sample_site.theme_main import MainTheme
from crawler.sample_site.theme_wire import WireTheme

if TYPE_CHECKING:
    from crawler.sample_site.server import SampleSite

_ARTICLE_RE = re.compile(r"^/([a-z]+)/(\d{4})/(\d{2})/(\d{2})/([a-z0-9-]+)\.html$")
_LISTING_RE = re.compile(r"^/(section|tag)/([a-z0-9-]+)/?$")
_SIMPLE_PAGES = {
    "/about/": ("About us", ["We are a fictional newsroom serving a sample site for tests."]),
    "/contact/": ("Contact", ["Newsroom tips: tips@example.com. Corrections: desk@example.com."]),
    "/login/": ("Log in", ["Subscribers can log in to comment and manage newsletters."]),
    "/subscribe/": ("Subscribe", ["Support local journalism: digital access from $1 a week."]),
}


class Router:
    """Maps a request path to a Response for one SampleSite."""

    def __init__(self, site: SampleSite) -> None:
        self._site = site
        self.theme: Theme = MainTheme() if site.site == "main" else WireTheme()

    # -- routing -----------------------------------------------------------------------------

    def respond(self, path_qs: str, headers: dict[str, str]) -> Response:
        """Build the response for a GET of `path_qs` (path plus query string)."""
        with self._site._lock:
            fault = next((s for p, s in self._site._faults.items() if path_qs.startswith(p)), None)
        if fault is not None:
            return self._error(fault)
        split = urlsplit(path_qs)
        path, query = split.path, parse_qs(split.query)
        try:
            response = self._route(path, query)
        except Exception:  # a bug in the sample site must not hang the crawler under test
            traceback.print_exc(file=sys.stderr)
            response = self._error(500)
        return finalize(response, headers)

    def _error(self, status: int) -> Response:
        titles = {404: "Page not found", 500: "Internal server error", 503: "Service unavailable"}
        title = titles.get(status, f"Error {status}")
        html = self.theme.simple_page(self._site._context(), title, [f"HTTP {status}: {title}."])
        response = Response.text(html, status=status)
        response.conditional = False
        return response

    def _route(self, path: str, query: dict[str, list[str]]) -> Response:
        ctx = self._site._context()
        visible = self._site.articles()
        now = self._site._clock()
        newest = max((a.modified for a in visible), default=self._site._start)
        if path in ("/", "/index.html"):
            return self._listing(ctx, "Latest news", "/", visible, query)
        if path in _SIMPLE_PAGES:
            title, paragraphs = _SIMPLE_PAGES[path]
            return Response.text(self.theme.simple_page(ctx, title, paragraphs))
        if match := _LISTING_RE.match(path):
            return self._listing_route(ctx, match.group(1), match.group(2), visible, query)
        if match := _ARTICLE_RE.match(path):
            return self._article_route(ctx, path, match.group(5), visible)
        feed_section = re.fullmatch(r"/feeds/([a-z]+)\.rss", path)
        if feed_section and feed_section.group(1) in ctx.sections:
            section = feed_section.group(1)
            items = [a for a in visible if a.section == section]
            text = feedgen.rss(ctx, items, now=now, section=section)
            changed = max((a.modified for a in items), default=self._site._start)
            return Response.text(text, RSS, last_modified=changed)
        if path == "/feeds/rss.xml":
            return Response.text(feedgen.rss(ctx, visible, now=now), RSS, last_modified=newest)
        if path == "/feeds/atom.xml":
            return Response.text(feedgen.atom(ctx, visible, now=now), ATOM, last_modified=newest)
        if path == "/feeds/rdf.xml":
            return Response.text(feedgen.rdf(ctx, visible, now=now), RDF, last_modified=newest)
        if path == "/feed.json":
            return Response.text(feedgen.json_feed(ctx, visible), JSON_FEED, last_modified=newest)
        if path == "/robots.txt":
            return Response.text(smap.robots_txt(ctx), TEXT, last_modified=self._site._start)
        if path == "/sitemap_index.xml":
            return Response.text(smap.sitemap_index(ctx, lastmod=newest), XML, last_modified=newest)
        if path == "/sitemaps/news.xml":
            text = smap.news_sitemap(ctx, visible, now=now)
            return Response.text(text, XML, last_modified=newest)
        if path == "/sitemaps/articles.xml":
            text = smap.articles_sitemap(ctx, visible, now=now)
            return Response.text(text, XML, last_modified=newest)
        if path == "/sitemaps/sections.xml":
            text = smap.sections_sitemap(ctx, lastmod=newest)
            return Response.text(text, XML, last_modified=newest)
        if path == smap.COVERAGE_PATH:
            items = [a for a in visible if matches_query(a, "courthouse")]
            intro = "Every story on immigration arrests at the city's courthouses."
            return self._listing(ctx, "Courthouse arrests", path, items, query, intro)
        if path == "/sitemaps/archive.xml.gz":
            body = smap.archive_sitemap_gz(ctx, visible, now=self._site._start)
            return Response(body=body, content_type=GZIP, last_modified=self._site._start)
        if path == "/private/secret.html":
            return Response.text(self.theme.simple_page(ctx, "Staff only", ["Embargoed drafts."]))
        if path == "/static/site.css":
            return Response.text(SITE_CSS, CSS, last_modified=self._site._start)
        if path.startswith("/static/img/") and path.endswith(".png"):
            return Response(body=placeholder_png(path), content_type=PNG)
        if self._site.site == "main" and (response := self._aggregator(path, query)) is not None:
            return response
        if self._site.faults and path.startswith("/faults/"):
            return self._fault(path, visible, now)
        return self._error(404)

    def _listing(
        self,
        ctx: PageContext,
        title: str,
        path: str,
        articles: list[Article],
        query: dict[str, list[str]],
        intro: str = "",
    ) -> Response:
        try:
            page = max(1, int(query.get("page", ["1"])[0]))
        except ValueError:
            page = 1
        chunk = articles[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        listing = Listing(
            title=title,
            path=path,
            articles=chunk,
            page=page,
            has_next=len(articles) > page * PAGE_SIZE,
            intro=intro,
        )
        changed = max((a.modified for a in articles), default=self._site._start)
        return Response.text(self.theme.listing_page(ctx, listing), last_modified=changed)

    def _listing_route(
        self,
        ctx: PageContext,
        kind: str,
        name: str,
        visible: list[Article],
        query: dict[str, list[str]],
    ) -> Response:
        path = f"/{kind}/{name}/"
        if kind == "section":
            if name not in ctx.sections:
                return self._error(404)
            items = [a for a in visible if a.section == name]
            return self._listing(ctx, SECTION_LABELS[name], path, items, query)
        if name not in TAGS:
            return self._error(404)
        items = [a for a in visible if matches_query(a, name.replace("-", " "))]
        return self._listing(ctx, f"Stories tagged {name}", path, items, query)

    def _article_route(
        self, ctx: PageContext, path: str, slug: str, visible: list[Article]
    ) -> Response:
        article = next((a for a in visible if a.slug == slug), None)
        if article is None:
            return self._error(404)
        if article.path != path:
            return Response.redirect(article.url, status=301)
        html = self.theme.article_page(ctx, article, related_for(article, visible))
        return Response.text(html, last_modified=article.modified)

    def _search_hits(self, query: str) -> list[aggregators.Hit]:
        peer = self._site._peer
        sites = [self._site] if peer is None else [self._site, peer]
        hits = [
            aggregators.Hit(article=a, outlet=SITE_INFO[s.site].outlet, outlet_url=s.base_url)
            for s in sites
            for a in s.articles()
            if matches_query(a, query)
        ]
        hits.sort(key=lambda h: (h.article.published, h.article.url), reverse=True)
        return hits

    def _known_url(self, url: str) -> bool:
        bases = [self._site.base_url] + ([self._site._peer.base_url] if self._site._peer else [])
        return any(url.startswith(base + "/") for base in bases)

    def _aggregator(self, path: str, query: dict[str, list[str]]) -> Response | None:
        def arg(name: str, default: str = "") -> str:
            return query.get(name, [default])[0]

        if path == "/search/rss":
            q = arg("q")
            text = aggregators.google_news_rss(self._site.base_url, q, self._search_hits(q))
            return Response.text(text, RSS, last_modified=self._site._clock())
        if path == "/bing/news":
            q = arg("q")
            text = aggregators.bing_news_rss(self._site.base_url, q, self._search_hits(q))
            return Response.text(text, RSS, last_modified=self._site._clock())
        if path == "/gdelt/api/v2/doc/doc":
            if arg("mode", "ArtList").lower() != "artlist" or arg("format", "json") != "json":
                return Response.text("Invalid mode or format.\n", TEXT, status=400)
            try:
                limit = min(250, max(1, int(arg("maxrecords", "75"))))
            except ValueError:
                limit = 75
            hits = self._search_hits(arg("query"))[:limit]
            return Response.text(aggregators.gdelt_artlist(hits), JSON)
        target: str | None = None
        if path.startswith("/r/"):
            target = aggregators.url_for_token(path[3:])
        elif path == "/bing/apiclick":
            target = arg("url")
        else:
            return None
        if target and self._known_url(target):
            return Response.redirect(target)
        return self._error(404)

    def _fault(self, path: str, visible: list[Article], now: datetime) -> Response:
        name = path.removeprefix("/faults/")
        good = visible[:2]
        if name == "feed.xml":
            return Response.text(faults.fault_feed(self._site.base_url, good, now=now), RSS)
        if name in ("404", "500"):
            return self._error(int(name))
        if name == "slow":
            page = self.theme.simple_page(self._site._context(), "Slow", ["Done."])
            response = Response.text(page)
            response.delay = self._site.slow_seconds
            return response
        if name == "redirect-loop":
            return Response.redirect("/faults/redirect-loop-b")
        if name == "redirect-loop-b":
            return Response.redirect("/faults/redirect-loop")
        if name in ("huge", "nolength-huge"):
            return huge_response(with_length=name == "huge")
        if name == "loopback-redirect":
            port = self._site._server.server_address[1]
            return Response.redirect(f"http://127.0.0.2:{port}/secret")
        static: dict[str, tuple[bytes, str]] = {
            "doc.pdf": (faults.PDF_BYTES, PDF),
            "binary.html": (faults.binary_bytes(), HTML),
            "broken.html": (faults.broken_html(), HTML),
            "latin1.html": (faults.latin1_html(), HTML),
            "empty.html": (b"", HTML),
            "malformed.xml": (faults.malformed_xml(self._site.base_url, good), RSS),
        }
        if name in static:
            body, content_type = static[name]
            return Response(body=body, content_type=content_type, conditional=False)
        return self._error(404)
