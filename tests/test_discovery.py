"""Finding a site's feeds and sitemaps (the sample site on loopback) with the guarded client."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest

from crawler.discovery import (
    Client,
    Discovery,
    Fetched,
    Found,
    choose,
    default_name,
    discover,
    inspect_document,
    normalise_input,
    source_toml,
)
from crawler.errors import BlockedURL, FetchError
from crawler.sample_site.server import SampleSite

ALLOW = ["127.0.0.1"]


@pytest.fixture(scope="module")
def site() -> Iterator[SampleSite]:
    with SampleSite(faults=True) as server:
        yield server


def test_the_home_page_gives_feeds_and_robots_gives_sitemaps(site: SampleSite) -> None:
    result = discover(site.base_url + "/", client=Client(ALLOW))
    feeds = {f.url: f for f in result.feeds}
    base = site.base_url
    assert list(feeds) == [f"{base}/feeds/rss.xml", f"{base}/feeds/atom.xml", f"{base}/feed.json"]
    assert {f.via for f in feeds.values()} == {"autodiscovery"}
    assert feeds[f"{base}/feeds/atom.xml"].detail.startswith("Atom feed")
    assert [(s.url, s.via) for s in result.sitemaps] == [
        (f"{base}/sitemap_index.xml", "robots.txt")
    ]
    assert result.title == "The Gotham Ledger"
    assert choose(result) == ("feed", [f"{base}/feeds/rss.xml"])
    assert choose(result, "sitemap") == ("sitemap", [f"{base}/sitemap_index.xml"])


def test_a_section_page_leads_to_the_same_feeds(site: SampleSite) -> None:
    result = discover(site.base_url + "/section/courts/", client=Client(ALLOW))
    assert f"{site.base_url}/feeds/rss.xml" in [f.url for f in result.feeds]


def test_a_sitemap_url_is_taken_as_it_is(site: SampleSite) -> None:
    result = discover(site.base_url + "/sitemaps/news.xml", client=Client(ALLOW))
    news = result.sitemaps[0]
    assert (news.via, news.news) == ("given URL", True)
    assert choose(result) == ("sitemap", [news.url])


def test_loopback_is_refused_unless_allowed(site: SampleSite) -> None:
    with pytest.raises(BlockedURL):
        discover(site.base_url + "/")


def test_redirects_are_guarded_too(site: SampleSite) -> None:
    with pytest.raises(BlockedURL, match="non-public"):
        Client(ALLOW).get(site.base_url + "/faults/loopback-redirect")


def test_unreachable_and_empty_sites(site: SampleSite) -> None:
    with pytest.raises(FetchError):
        discover(site.base_url + "/no-such-page/", client=Client(ALLOW))
    empty = Discovery(url="https://x.example/", site="https://x.example/")
    with pytest.raises(FetchError, match="no usable"):
        choose(empty)


def test_documents_are_classified_by_content() -> None:
    sitemap = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    sitemap += b"<url><loc>https://a.example/x</loc></url></urlset>"
    found = inspect_document(
        Fetched("https://a.example/s.gz", 200, "", gzip.compress(sitemap)), "t"
    )
    assert found is not None and (found.kind, found.entries) == ("sitemap", 1)
    html = Fetched("https://a.example/", 200, "text/html", b"<html><p>hello</p></html>")
    assert inspect_document(html, "t") is None
    assert inspect_document(Fetched("https://a.example/", 404, "", b""), "t") is None


def test_names_inputs_and_toml() -> None:
    assert normalise_input("thecity.nyc") == "https://thecity.nyc/"
    assert default_name("https://www.thecity.nyc/") == "thecity.nyc"
    assert default_name("http://127.0.0.1:8765/") == "127.0.0.1-8765"
    result = Discovery(url="https://a.example/", site="https://a.example/")
    result.feeds.append(Found("https://a.example/feed", "feed", "RSS feed, 3 entries", 3, "x"))
    result.feeds.append(Found("https://a.example/atom", "feed", "Atom feed, 3 entries", 3, "x"))
    text = source_toml(result, {"name": "a", "kind": "feed", "urls": ["https://a.example/feed"]})
    assert "# also found: https://a.example/atom" in text
    assert '[[sources]]\nname = "a"\nkind = "feed"\nurls = ["https://a.example/feed"]' in text
