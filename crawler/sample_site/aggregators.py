"""Search-aggregator stand-ins: Google-News-style RSS, Bing-News-style RSS and GDELT DOC 2.0."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC
from urllib.parse import quote, quote_plus, urlsplit

from crawler.sample_site.content import Article
from crawler.sample_site.render import esc, rfc822

_TOKEN_PREFIX = "CBMi"  # noqa: S105 - looks like Google News ids, not a secret


@dataclass(frozen=True, kw_only=True)
class Hit:
    """A search result: an article and the outlet that published it."""

    article: Article
    outlet: str
    outlet_url: str


def token_for(url: str) -> str:
    """An opaque-looking redirect token that encodes the article URL."""
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def url_for_token(token: str) -> str | None:
    """Decode a redirect token back to its URL, or None if it is not one of ours."""
    if not token.startswith(_TOKEN_PREFIX):
        return None
    raw = token[len(_TOKEN_PREFIX) :]
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def google_news_rss(base_url: str, query: str, hits: list[Hit]) -> str:
    """A Google-News-style search feed whose links are `/r/<token>` redirects."""
    items = []
    for hit in hits:
        a = hit.article
        token = token_for(a.url)
        blurb = (
            f'<a href="{base_url}/r/{token}" target="_blank">{esc(a.title)}</a>'
            f'&nbsp;&nbsp;<font color="#6f6f6f">{esc(hit.outlet)}</font>'
        )
        items.append(
            f"""    <item>
      <title>{esc(a.title)} - {esc(hit.outlet)}</title>
      <link>{esc(base_url)}/r/{token}</link>
      <guid isPermaLink="false">{token}</guid>
      <pubDate>{rfc822(a.published)}</pubDate>
      <description>{esc(blurb)}</description>
      <source url="{esc(hit.outlet_url)}">{esc(hit.outlet)}</source>
    </item>
"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
  <channel>
    <generator>NFE/5.0</generator>
    <title>"{esc(query)}" - Google News</title>
    <link>{esc(base_url)}/search?q={esc(quote_plus(query))}&amp;hl=en-US&amp;gl=US&amp;ceid=US:en</link>
    <language>en-US</language>
    <webMaster>news-webmaster@example.com</webMaster>
    <copyright>Copyright the publishers. All rights reserved.</copyright>
    <description>Google News</description>
{"".join(items)}  </channel>
</rss>
"""


def bing_news_rss(base_url: str, query: str, hits: list[Hit]) -> str:
    """A Bing-News-style RSS whose links are `/bing/apiclick?url=...` redirects."""
    items = []
    for hit in hits:
        a = hit.article
        link = (
            f"{base_url}/bing/apiclick?ref=FexRss&aid=&tid=S4MPL3"
            f"&url={quote(a.url, safe='')}&c=1&mkt=en-us"
        )
        items.append(
            f"""<item><title>{esc(a.title)}</title><link>{esc(link)}</link>
<description>{esc(a.summary)}</description><pubDate>{rfc822(a.published)}</pubDate>
<News:Source>{esc(hit.outlet)}</News:Source></item>
"""
        )
    head = (
        '<?xml version="1.0" encoding="utf-8" ?>'
        '<rss version="2.0" xmlns:News="https://www.bing.com/news/search?format=rss"><channel>'
        f"<title>{esc(query)} - BingNews</title>"
        f"<link>{esc(base_url)}/bing/news?q={esc(quote_plus(query))}&amp;format=rss</link>"
        "<description>Search results</description>"
        f"<image><url>{esc(base_url)}/static/img/bing.png</url><title>Bing News</title>"
        f"<link>{esc(base_url)}/bing/news</link></image>"
        "<copyright>Copyright the publishers</copyright>"
    )
    return f"""{head}
{"".join(items)}</channel></rss>
"""


def gdelt_artlist(hits: list[Hit]) -> str:
    """GDELT DOC 2.0 `mode=ArtList&format=json` with direct article URLs."""
    articles = [
        {
            "url": h.article.url,
            "url_mobile": "",
            "title": h.article.title,
            "seendate": h.article.published.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"),
            "socialimage": "",
            "domain": urlsplit(h.article.url).netloc,
            "language": "Spanish" if h.article.lang == "es" else "English",
            "sourcecountry": "United States",
        }
        for h in hits
    ]
    return json.dumps({"articles": articles}, ensure_ascii=False, indent=1) + "\n"
