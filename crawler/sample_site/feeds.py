"""Syndication feeds for one site: RSS 2.0, Atom 1.0, RSS 1.0 (RDF) and JSON Feed 1.1."""

from __future__ import annotations

import json
from datetime import datetime

from crawler.sample_site.content import Article
from crawler.sample_site.render import (
    SECTION_LABELS,
    TRACKED_SLUGS,
    PageContext,
    esc,
    rfc822,
    rfc3339,
)

_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _feed_link(article: Article) -> str:
    # Feed-service style campaign tags on a few links; guids and ids stay clean.
    if article.slug in TRACKED_SLUGS:
        return article.url + "?utm_source=rss&utm_medium=feed&utm_campaign=ledger"
    return article.url


def _updated(articles: list[Article], fallback: datetime) -> datetime:
    return max((a.modified for a in articles), default=fallback)


def rss(
    ctx: PageContext, articles: list[Article], *, now: datetime, section: str | None = None
) -> str:
    """RSS 2.0 with guid, pubDate, title, link, description and dc:creator."""
    title = ctx.info.outlet
    self_path = "/feeds/rss.xml"
    if section:
        title = f"{ctx.info.outlet}: {SECTION_LABELS.get(section, section)}"
        self_path = f"/feeds/{section}.rss"
    items = "".join(
        f"""  <item>
    <title>{esc(a.title)}</title>
    <link>{esc(_feed_link(a))}</link>
    <guid isPermaLink="true">{esc(a.url)}</guid>
    <pubDate>{rfc822(a.published)}</pubDate>
    <dc:creator>{esc(a.author)}</dc:creator>
    <category>{esc(SECTION_LABELS.get(a.section, a.section))}</category>
    <description>{esc(a.summary)}</description>
  </item>
"""
        for a in articles
    )
    return f"""{_XML_DECL}<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>{esc(title)}</title>
  <link>{esc(ctx.base_url)}/</link>
  <description>{esc(ctx.info.tagline)}</description>
  <language>en-us</language>
  <lastBuildDate>{rfc822(_updated(articles, now))}</lastBuildDate>
  <atom:link href="{esc(ctx.base_url + self_path)}" rel="self" type="application/rss+xml"/>
  <ttl>15</ttl>
{items}</channel>
</rss>
"""


def atom(ctx: PageContext, articles: list[Article], *, now: datetime) -> str:
    """Atom 1.0 feed with published, updated, author and summary per entry."""
    entries = "".join(
        f"""  <entry>
    <id>{esc(a.url)}</id>
    <title type="text">{esc(a.title)}</title>
    <link rel="alternate" type="text/html" href="{esc(a.url)}"/>
    <published>{rfc3339(a.published)}</published>
    <updated>{rfc3339(a.modified)}</updated>
    <author><name>{esc(a.author)}</name></author>
    <category term="{esc(a.section)}" label="{esc(SECTION_LABELS.get(a.section, a.section))}"/>
    <summary type="text">{esc(a.summary)}</summary>
  </entry>
"""
        for a in articles
    )
    return f"""{_XML_DECL}<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <id>{esc(ctx.base_url)}/</id>
  <title>{esc(ctx.info.outlet)}</title>
  <subtitle>{esc(ctx.info.tagline)}</subtitle>
  <updated>{rfc3339(_updated(articles, now))}</updated>
  <link rel="self" type="application/atom+xml" href="{esc(ctx.base_url)}/feeds/atom.xml"/>
  <link rel="alternate" type="text/html" href="{esc(ctx.base_url)}/"/>
  <generator>newswatch sample site</generator>
{entries}</feed>
"""


def rdf(ctx: PageContext, articles: list[Article], *, now: datetime) -> str:
    """RSS 1.0 (RDF) feed with dc:date and dc:creator."""
    seq = "".join(f'      <rdf:li rdf:resource="{esc(a.url)}"/>\n' for a in articles)
    items = "".join(
        f"""<item rdf:about="{esc(a.url)}">
  <title>{esc(a.title)}</title>
  <link>{esc(a.url)}</link>
  <description>{esc(a.summary)}</description>
  <dc:date>{rfc3339(a.published)}</dc:date>
  <dc:creator>{esc(a.author)}</dc:creator>
  <dc:subject>{esc(SECTION_LABELS.get(a.section, a.section))}</dc:subject>
</item>
"""
        for a in articles
    )
    return f"""{_XML_DECL}<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
  xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="{esc(ctx.base_url)}/feeds/rdf.xml">
  <title>{esc(ctx.info.outlet)}</title>
  <link>{esc(ctx.base_url)}/</link>
  <description>{esc(ctx.info.tagline)}</description>
  <dc:date>{rfc3339(_updated(articles, now))}</dc:date>
  <items>
    <rdf:Seq>
{seq}    </rdf:Seq>
  </items>
</channel>
{items}</rdf:RDF>
"""


def json_feed(ctx: PageContext, articles: list[Article]) -> str:
    """JSON Feed 1.1."""
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": ctx.info.outlet,
        "home_page_url": ctx.base_url + "/",
        "feed_url": ctx.base_url + "/feed.json",
        "description": ctx.info.tagline,
        "language": "en-US",
        "authors": [{"name": ctx.info.outlet}],
        "items": [
            {
                "id": a.url,
                "url": a.url,
                "title": a.title,
                "summary": a.summary,
                "content_text": "\n\n".join(a.paragraphs),
                "date_published": rfc3339(a.published),
                "date_modified": rfc3339(a.modified),
                "authors": [{"name": a.author}],
                "tags": [SECTION_LABELS.get(a.section, a.section)],
                "language": a.lang,
                "image": f"{ctx.base_url}/static/img/{a.slug}.png",
            }
            for a in articles
        ],
    }
    return json.dumps(feed, ensure_ascii=False, indent=2) + "\n"
