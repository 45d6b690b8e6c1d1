"""robots.txt and sitemaps: an index, a Google News sitemap, a plain one, a gzipped archive,
and a sitemap of listing pages (home, sections, tags, a coverage hub) as real sites have:
pages full of watched headlines that are not articles and must never alert."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta

from crawler.sample_site.content import Article
from crawler.sample_site.render import SECTION_LABELS, PageContext, esc, rfc3339

NEWS_WINDOW = timedelta(hours=48)
SITEMAPS = (
    "/sitemaps/news.xml",
    "/sitemaps/articles.xml",
    "/sitemaps/archive.xml.gz",
    "/sitemaps/sections.xml",
)
# Listing pages the sections sitemap lists. The coverage hub's URL has no listing shape and the
# page no metadata: only its links tell it is not an article (crawler.pagekind).
COVERAGE_PATH = "/coverage/courthouse-arrests.html"
LISTING_PATHS = (
    "/",
    "/section/immigration/",
    "/section/courts/",
    "/tag/immigration/",
    "/tag/courts/",
    COVERAGE_PATH,
)
_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
_NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
_OLD_SLUGS = (
    "council-passes-budget-after-all-night-session",
    "ferry-ridership-hits-record",
    "marathon-road-closures-announced",
    "landlord-fined-for-heat-violations",
    "new-bike-lanes-on-fourth-avenue",
    "library-extends-weekend-hours",
    "bodega-cat-wins-online-vote",
    "school-bus-contract-renewed",
    "bridge-painting-project-finished",
    "pier-reopens-after-storm-repairs",
)


def robots_txt(ctx: PageContext) -> str:
    """robots.txt: everything allowed but /private/, with the sitemap index."""
    return f"""# robots.txt for {ctx.info.outlet}
User-agent: *
Disallow: /private/
Allow: /

User-agent: BadBot
Disallow: /

Sitemap: {ctx.base_url}/sitemap_index.xml
"""


def sitemap_index(ctx: PageContext, *, lastmod: datetime) -> str:
    """The sitemap index listing the news, plain and archive sitemaps."""
    entries = "".join(
        f"  <sitemap>\n    <loc>{esc(ctx.base_url + path)}</loc>\n"
        f"    <lastmod>{rfc3339(lastmod)}</lastmod>\n  </sitemap>\n"
        for path in SITEMAPS
    )
    return f"{_DECL}<sitemapindex {_NS}>\n{entries}</sitemapindex>\n"


def _keywords(article: Article) -> str:
    words = [SECTION_LABELS.get(article.section, article.section)]
    words += [w.strip(",.:;'\"") for w in article.title.split() if len(w) > 6][:3]
    return ", ".join(dict.fromkeys(w for w in words if w))


def news_sitemap(ctx: PageContext, articles: list[Article], *, now: datetime) -> str:
    """Google News sitemap: only articles from the last two days, as Google asks."""
    recent = [a for a in articles if now - a.published <= NEWS_WINDOW]
    entries = "".join(
        f"""  <url>
    <loc>{esc(a.url)}</loc>
    <news:news>
      <news:publication>
        <news:name>{esc(ctx.info.outlet)}</news:name>
        <news:language>{esc(a.lang)}</news:language>
      </news:publication>
      <news:publication_date>{rfc3339(a.published)}</news:publication_date>
      <news:title>{esc(a.title)}</news:title>
      <news:keywords>{esc(_keywords(a))}</news:keywords>
    </news:news>
  </url>
"""
        for a in recent
    )
    return f"{_DECL}<urlset {_NS}\n        {_NEWS_NS}>\n{entries}</urlset>\n"


def old_entries(ctx: PageContext, *, now: datetime) -> list[tuple[str, datetime]]:
    """About ten year-old sitemap entries whose pages no longer exist."""
    out = []
    for i, slug in enumerate(_OLD_SLUGS):
        when = now - timedelta(days=365 + 3 * i)
        section = ("nyc", "politics", "business")[i % 3]
        out.append((f"{ctx.base_url}/{section}/{when:%Y/%m/%d}/{slug}.html", when))
    return out


def _urlset(entries: list[tuple[str, datetime]]) -> str:
    body = "".join(
        f"  <url>\n    <loc>{esc(loc)}</loc>\n    <lastmod>{rfc3339(when)}</lastmod>\n"
        f"    <changefreq>{'hourly' if i < 20 else 'never'}</changefreq>\n  </url>\n"
        for i, (loc, when) in enumerate(entries)
    )
    return f"{_DECL}<urlset {_NS}>\n{body}</urlset>\n"


def articles_sitemap(ctx: PageContext, articles: list[Article], *, now: datetime) -> str:
    """Plain sitemap: every visible article with lastmod, then the year-old entries."""
    entries = [(a.url, a.modified) for a in articles]
    return _urlset(entries + old_entries(ctx, now=now))


def archive_sitemap_gz(ctx: PageContext, articles: list[Article], *, now: datetime) -> bytes:
    """Gzip-compressed plain sitemap of articles older than a day plus the year-old entries."""
    older = [(a.url, a.modified) for a in articles if now - a.published > timedelta(hours=24)]
    text = _urlset(older + old_entries(ctx, now=now))
    return gzip.compress(text.encode("utf-8"), mtime=0)


def sections_sitemap(ctx: PageContext, *, lastmod: datetime) -> str:
    """Plain sitemap of the listing pages, dated like the newest article (they change with it)."""
    return _urlset([(ctx.base_url + path, lastmod) for path in LISTING_PATHS])
