"""Pure parts of the spiders: sitemaps, gzip, aggregator links, URL heuristics, GDELT JSON."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from spiders.feed import decode_google_news_id, parse_xml_feed, search_title, unwrap_redirect
from spiders.gdelt import api_url, parse_artlist, parse_seendate
from spiders.section import is_excluded, looks_like_article, looks_like_listing
from spiders.sitemap import MAX_SITEMAP_BYTES, decompress, is_site_root, parse_sitemap

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url>
    <loc>https://news.example/2024/05/01/ice-arrest-at-court.html</loc>
    <news:news>
      <news:publication><news:name>Example</news:name><news:language>en</news:language>
      </news:publication>
      <news:publication_date>2024-05-01T10:00:00+00:00</news:publication_date>
      <news:title>ICE arrest at court</news:title>
      <news:keywords>immigration, courts</news:keywords>
    </news:news>
  </url>
  <url><loc>https://news.example/2024/05/01/plain.html</loc><lastmod>2024-05-01</lastmod></url>
</urlset>
"""
INDEX = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://news.example/news.xml</loc><lastmod>2024-05-01T00:00:00Z</lastmod></sitemap>
</sitemapindex>"""


def test_news_sitemap_entries_carry_title_date_and_keywords() -> None:
    kind, entries, problem = parse_sitemap(NEWS_SITEMAP)
    assert (kind, problem) == ("urlset", None)
    assert entries[0]["news"] == {
        "name": "Example",
        "language": "en",
        "publication_date": "2024-05-01T10:00:00+00:00",
        "title": "ICE arrest at court",
        "keywords": "immigration, courts",
    }
    assert entries[1] == {
        "loc": "https://news.example/2024/05/01/plain.html",
        "lastmod": "2024-05-01",
    }


def test_sitemap_index_is_recognised() -> None:
    kind, entries, _ = parse_sitemap(INDEX)
    assert kind == "sitemapindex" and entries[0]["loc"] == "https://news.example/news.xml"


@pytest.mark.parametrize(
    "body",
    [b"", b"not xml", b"<html><body>404</body></html>", b"<rss version='2.0'><channel/></rss>"],
)
def test_what_is_not_a_sitemap_raises(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_sitemap(body)


def test_a_truncated_sitemap_keeps_the_complete_entries() -> None:
    cut = NEWS_SITEMAP[: NEWS_SITEMAP.index(b"plain.html") - 5]
    _, entries, problem = parse_sitemap(cut)
    assert problem and [e["loc"] for e in entries] == [
        "https://news.example/2024/05/01/ice-arrest-at-court.html"
    ]


def test_gzip_is_recognised_by_magic_bytes_and_capped() -> None:
    assert decompress(gzip.compress(INDEX)) == INDEX
    assert decompress(INDEX) == INDEX
    bomb = gzip.compress(b"<" * (MAX_SITEMAP_BYTES + 1024))
    with pytest.raises(ValueError, match="larger than"):
        decompress(bomb)
    with pytest.raises(ValueError):
        decompress(b"\x1f\x8b" + b"garbage")


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("https://a.example/", True),
        ("https://a.example", True),
        ("https://a.example/robots.txt", True),
        ("https://a.example/sitemap.xml", False),
        ("https://a.example/?q=1", False),
    ],
)
def test_site_roots(url: str, root: bool) -> None:
    assert is_site_root(url) is root


def test_bing_apiclick_links_are_unwrapped_without_a_request() -> None:
    link = (
        "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=X&url=https%3a%2f%2f"
        "www.example.com%2fnews%2fstory.html%3fa%3d1&c=1&mkt=en-us"
    )
    assert unwrap_redirect(link) == "https://www.example.com/news/story.html?a=1"
    assert unwrap_redirect("https://www.google.com/url?q=https://x.example/a&sa=U") == (
        "https://x.example/a"
    )
    assert unwrap_redirect("https://www.example.com/news/story.html") is None


def test_old_google_news_ids_decode_offline() -> None:
    target = b"https://www.example.com/2024/05/01/ice-court.html"
    raw = b"\x08\x13\x22" + bytes([len(target)]) + target + b"\xd2\x01\x00"
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    link = f"https://news.google.com/rss/articles/{token}?oc=5"
    assert unwrap_redirect(link) == target.decode()
    assert decode_google_news_id("AU_yqLopaque") is None


def test_search_titles_lose_the_outlet_suffix() -> None:
    feed = b"""<rss version="2.0"><channel><item><title>ICE arrests man - The Outlet</title>
    <link>https://news.google.com/rss/articles/x</link>
    <source url="https://outlet.example">The Outlet</source></item></channel></rss>"""
    entries, _ = parse_xml_feed(feed, "https://news.google.com/rss/search?q=x")
    assert search_title(entries[0]) == "ICE arrests man"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.thecity.nyc/2024/05/01/ice-arrests-courthouse/",
        "https://gothamist.com/news/ice-agents-arrest-man-at-queens-courthouse-lawyers-say",
        "https://www.univision.com/noticias/inmigracion/ice-arresta-inmigrante-corte-nueva-york",
        "https://www.nbcnewyork.com/news/local/ice-arrest-courthouse/5412345/",
        "https://eldiariony.com/2024/05/01/ice-arresta/",
    ],
)
def test_article_shaped_urls(url: str) -> None:
    assert looks_like_article(url, "https://" + url.split("/")[2] + "/")


@pytest.mark.parametrize(
    "url",
    [
        "https://www.example.com/tag/ice-arrests-in-the-city/",
        "https://www.example.com/news/page/2/",
        "https://www.example.com/section/nyc/?page=2",
        "https://www.example.com/author/jane-doe-reporter-at-large/",
        "https://www.example.com/about/",
        "https://www.example.com/login/",
        "https://www.example.com/feed/",
        "https://www.example.com/news",
        "https://other.example/2024/05/01/ice-arrests-courthouse/",
        "https://www.example.com/2024/05/01/photo.jpg",
    ],
)
def test_not_article_urls(url: str) -> None:
    assert not looks_like_article(url, "https://www.example.com/")


def test_listing_pages_and_exclusions() -> None:
    assert looks_like_listing("https://www.example.com/section/courts/", "https://www.example.com/")
    assert not looks_like_listing(
        "https://www.example.com/section/courts/?page=3", "https://www.example.com/"
    )
    assert is_excluded("https://www.example.com/tag/ice/")


def test_gdelt_urls_get_artlist_defaults_and_keep_operators() -> None:
    url = api_url("https://api.gdeltproject.org/api/v2/doc/doc?query=ICE%20sourcecountry:US")
    assert "mode=ArtList" in url and "format=json" in url and "sourcecountry:US" in url
    explicit = api_url("https://x.example/doc?query=a&MODE=ArtList&format=json&maxrecords=10")
    assert explicit.count("mode=") + explicit.count("MODE=") == 1 and "maxrecords=10" in explicit


def test_gdelt_artlist_parsing() -> None:
    first = {
        "url": "https://a.example/x",
        "title": "T",
        "seendate": "20240501T123000Z",
        "language": "Spanish",
        "sourcecountry": "United States",
    }
    body = json.dumps({"articles": [first, {"title": "no url"}]}).encode()
    entries = parse_artlist(body, "https://api.example/doc")
    assert [e["url"] for e in entries] == ["https://a.example/x"]
    assert entries[0]["published"] == parse_seendate("20240501T123000Z")
    assert parse_artlist(b"", "u") == [] and parse_artlist(b"{}", "u") == []
    with pytest.raises(ValueError, match="Your query"):
        parse_artlist(b"Your query was too short or too long.", "u")
