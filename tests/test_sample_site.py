"""Tests for the offline sample news site (crawler/sample_site): content, routes, feeds, faults."""

from __future__ import annotations

import gzip
import json
import re
import threading
import tomllib
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest

from crawler.sample_site import SampleSite, serve_pair
from crawler.sample_site.content import ARTICLES_DIR, REQUIRED_FIELDS, TOPICS, load_specs
from crawler.sample_site.faults import FAULT_PATHS

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rss1": "http://purl.org/rss/1.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
}
GDELT_FIELDS = {
    "url",
    "url_mobile",
    "title",
    "seendate",
    "socialimage",
    "domain",
    "language",
    "sourcecountry",
}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class Fetched:
    """A response read in full: status, headers and body."""

    def __init__(self, status: int, headers: Message, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def fetch(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Fetched:
    """GET a URL without following redirects; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with _OPENER.open(request, timeout=10) as response:
            return Fetched(response.status, response.headers, response.read())
    except urllib.error.HTTPError as err:
        with err:
            return Fetched(err.code, err.headers, err.read())


def strip_tracking(url: str) -> str:
    """Drop query and fragment, as a crawler's canonicaliser would."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[SampleSite, SampleSite]]:
    main, wire = serve_pair()
    main.faults = True
    yield main, wire
    main.stop()
    wire.stop()


@pytest.fixture(scope="module")
def site(pair: tuple[SampleSite, SampleSite]) -> SampleSite:
    return pair[0]


@pytest.fixture(scope="module")
def wire(pair: tuple[SampleSite, SampleSite]) -> SampleSite:
    return pair[1]


@pytest.fixture
def fresh() -> Iterator[SampleSite]:
    """A private main site for tests that change state."""
    with SampleSite(faults=True) as fresh_site:
        yield fresh_site


# -- content ------------------------------------------------------------------------------


def test_every_article_file_loads_with_required_fields() -> None:
    files = sorted(ARTICLES_DIR.glob("*.toml"))
    assert len(files) >= 46
    for path in files:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        missing = [key for key in REQUIRED_FIELDS if key not in data]
        assert not missing, f"{path.name} lacks {missing}"
        assert data["slug"] == path.stem
    specs = load_specs()
    assert len(specs) == len(files)
    assert len({s.slug for s in specs}) == len(specs)


def test_article_bodies_are_long_enough_and_labels_consistent() -> None:
    specs = load_specs()
    slugs = {s.slug for s in specs}
    for spec in specs:
        assert spec.word_count >= 200, f"{spec.slug} has only {spec.word_count} words"
        assert len(spec.paragraphs) >= 5, spec.slug
        assert set(spec.expected_topics) <= set(TOPICS)
        assert (spec.kind == "positive") == bool(spec.expected_topics), spec.slug
        if not spec.hidden:
            assert 0.5 <= spec.age_hours <= 60, spec.slug
        if spec.syndicated_from:
            assert spec.syndicated_from in slugs
            assert spec.site == "wire"


def test_content_mix_matches_the_brief() -> None:
    specs = load_specs()
    main_visible = [s for s in specs if s.site == "main" and not s.hidden]
    kinds = Counter(s.kind for s in main_visible)
    assert len(main_visible) >= 40
    assert kinds["positive"] >= 12
    assert sum(n for k, n in kinds.items() if k.startswith("hard_negative:")) >= 20
    both = [s for s in specs if set(s.expected_topics) == set(TOPICS)]
    assert len(both) >= 3
    spanish = [s for s in specs if s.lang == "es"]
    assert sum(1 for s in spanish if s.expected_topics) >= 3
    assert any(not s.expected_topics for s in spanish)
    hidden = [s for s in specs if s.hidden]
    assert sorted(bool(s.expected_topics) for s in hidden) == [False, True]
    assert any(s.updated_hours is not None for s in specs)
    copies = [s for s in specs if s.syndicated_from]
    assert len(copies) == 1
    original = next(s for s in specs if s.slug == copies[0].syndicated_from)
    assert original.site == "main" and original.section == "immigration"
    assert original.expected_topics == ["courthouse_arrest"]
    assert copies[0].title != original.title
    assert copies[0].body != original.body


def test_publication_times_follow_the_clock() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    with SampleSite(now=now) as fixed:
        for article in fixed.articles():
            assert article.published == now - timedelta(hours=article.age_hours)
            assert article.url == fixed.base_url + article.path
            assert f"/{article.published:%Y/%m/%d}/" in article.url
        updated = [a for a in fixed.articles() if a.updated_hours is not None]
        assert updated and all(a.modified > a.published for a in updated)


# -- routes ---------------------------------------------------------------------------------

HTML = "text/html; charset=utf-8"
ROUTES = [
    ("/", 200, "text/html"),
    ("/section/nyc/", 200, "text/html"),
    ("/section/courts/?page=2", 200, "text/html"),
    ("/section/nonsense/", 404, "text/html"),
    ("/tag/immigration/", 200, "text/html"),
    ("/about/", 200, "text/html"),
    ("/contact/", 200, "text/html"),
    ("/login/", 200, "text/html"),
    ("/feeds/rss.xml", 200, "application/rss+xml"),
    ("/feeds/atom.xml", 200, "application/atom+xml"),
    ("/feeds/rdf.xml", 200, "application/rdf+xml"),
    ("/feeds/courts.rss", 200, "application/rss+xml"),
    ("/feed.json", 200, "application/feed+json"),
    ("/robots.txt", 200, "text/plain"),
    ("/sitemap_index.xml", 200, "application/xml"),
    ("/sitemaps/news.xml", 200, "application/xml"),
    ("/sitemaps/articles.xml", 200, "application/xml"),
    ("/sitemaps/archive.xml.gz", 200, "application/x-gzip"),
    ("/private/secret.html", 200, "text/html"),
    ("/static/site.css", 200, "text/css"),
    ("/static/img/anything.png", 200, "image/png"),
    ("/search/rss?q=ICE", 200, "application/rss+xml"),
    ("/bing/news?q=sanctuary&format=rss", 200, "application/rss+xml"),
    ("/gdelt/api/v2/doc/doc?query=court&mode=ArtList&format=json", 200, "application/json"),
    ("/gdelt/api/v2/doc/doc?query=court&mode=TimelineVol&format=json", 400, "text/plain"),
    ("/no/such/page", 404, "text/html"),
    ("/r/not-a-token", 404, "text/html"),
    ("/faults/feed.xml", 200, "application/rss+xml"),
    ("/faults/404", 404, "text/html"),
    ("/faults/500", 500, "text/html"),
    ("/faults/doc.pdf", 200, "application/pdf"),
    ("/faults/binary.html", 200, "text/html"),
    ("/faults/broken.html", 200, "text/html"),
    ("/faults/empty.html", 200, "text/html"),
    ("/faults/malformed.xml", 200, "application/rss+xml"),
    ("/faults/redirect-loop", 302, "text/html"),
]


@pytest.mark.parametrize(("path", "status", "content_type"), ROUTES)
def test_route_status_and_content_type(
    site: SampleSite, path: str, status: int, content_type: str
) -> None:
    response = fetch(site.base_url + path)
    assert response.status == status
    assert response.content_type.startswith(content_type)
    if "charset" not in content_type and content_type.startswith(("text/", "application/r")):
        assert "charset=utf-8" in response.content_type


def test_every_visible_article_page_answers(site: SampleSite, wire: SampleSite) -> None:
    for article in site.articles() + wire.articles():
        response = fetch(article.url)
        assert response.status == 200, article.url
        assert response.content_type == HTML


def test_head_sends_headers_without_body(site: SampleSite) -> None:
    response = fetch(site.base_url + "/feeds/rss.xml", method="HEAD")
    assert response.status == 200
    assert response.body == b""
    assert int(response.headers["Content-Length"]) > 1000


def test_wrong_date_in_article_url_redirects_to_canonical(site: SampleSite) -> None:
    article = site.articles()[0]
    response = fetch(f"{site.base_url}/{article.section}/1999/01/01/{article.slug}.html")
    assert response.status == 301
    assert response.headers["Location"] == article.url


# -- feeds ----------------------------------------------------------------------------------


def _rss_links(xml_text: str) -> list[str]:
    return [item.findtext("link") or "" for item in ET.fromstring(xml_text).iter("item")]


def test_feeds_list_every_visible_article_exactly_once(site: SampleSite) -> None:
    expected = sorted(a.url for a in site.articles())
    base = site.base_url

    rss = fetch(base + "/feeds/rss.xml").text
    assert sorted(strip_tracking(u) for u in _rss_links(rss)) == expected
    assert all(item.findtext("guid") for item in ET.fromstring(rss).iter("item"))
    assert all(
        item.findtext("dc:creator", namespaces=NS) for item in ET.fromstring(rss).iter("item")
    )

    atom = ET.fromstring(fetch(base + "/feeds/atom.xml").text)
    links = [e.find("atom:link", NS).get("href") for e in atom.findall("atom:entry", NS)]  # type: ignore[union-attr]
    assert sorted(str(u) for u in links) == expected

    rdf = ET.fromstring(fetch(base + "/feeds/rdf.xml").text)
    items = [i.findtext("rss1:link", namespaces=NS) for i in rdf.findall("rss1:item", NS)]
    assert sorted(str(u) for u in items) == expected

    feed = json.loads(fetch(base + "/feed.json").text)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert sorted(item["url"] for item in feed["items"]) == expected


def test_section_feed_lists_only_that_section(site: SampleSite) -> None:
    links = _rss_links(fetch(site.base_url + "/feeds/courts.rss").text)
    expected = sorted(a.url for a in site.articles() if a.section == "courts")
    assert sorted(strip_tracking(u) for u in links) == expected


def test_rss_dates_are_rfc822_and_atom_rfc3339(site: SampleSite) -> None:
    rss = fetch(site.base_url + "/feeds/rss.xml").text
    dates = [i.findtext("pubDate") or "" for i in ET.fromstring(rss).iter("item")]
    assert all(re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT", d) for d in dates)
    atom = fetch(site.base_url + "/feeds/atom.xml").text
    published = re.findall(r"<published>([^<]+)</published>", atom)
    assert published and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", p) for p in published)


def test_conditional_requests_answer_304(site: SampleSite) -> None:
    for path in ("/feeds/rss.xml", "/feeds/atom.xml", "/feed.json", "/sitemaps/news.xml"):
        first = fetch(site.base_url + path)
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert etag and modified
        again = fetch(site.base_url + path, {"If-None-Match": etag})
        assert again.status == 304 and again.body == b""
        since = fetch(site.base_url + path, {"If-Modified-Since": modified})
        assert since.status == 304
        stale = fetch(site.base_url + path, {"If-None-Match": '"something-else"'})
        assert stale.status == 200 and stale.body == first.body


# -- hidden articles, run-time changes, faults --------------------------------------------


def test_hidden_articles_appear_only_after_publish(fresh: SampleSite) -> None:
    hidden = [a for a in fresh.articles(include_hidden=True) if a.hidden]
    assert len(hidden) == 2
    slug = next(a.slug for a in hidden if a.expected_topics)
    assert slug not in {a.slug for a in fresh.articles()}
    before = fetch(fresh.base_url + "/feeds/rss.xml")
    assert slug not in before.text
    assert fetch(hidden[0].url).status == 404

    url = fresh.publish(slug)
    assert url.startswith(fresh.base_url + "/courts/")
    assert fetch(url).status == 200
    after = fetch(fresh.base_url + "/feeds/rss.xml", {"If-None-Match": before.headers["ETag"]})
    assert after.status == 200
    assert url in [strip_tracking(u) for u in _rss_links(after.text)]
    published = next(a for a in fresh.articles() if a.slug == slug)
    assert published.published >= max(a.published for a in fresh.articles() if a.slug != slug)


def test_add_article_at_run_time_and_revise_it(fresh: SampleSite) -> None:
    body = "\n\n".join(["Word " * 60] * 5)
    record: dict[str, object] = {
        "slug": "late-breaking-story",
        "section": "nyc",
        "title": "A late-breaking story",
        "summary": "Something happened.",
        "body": body,
    }
    url = fresh.add_article(record)
    assert fetch(url).status == 200
    assert url in fetch(fresh.base_url + "/feeds/atom.xml").text
    revised = fresh.add_article(record | {"body": body + "\n\nCorrection: a fix.", "age_hours": 3})
    assert revised == url
    article = next(a for a in fresh.articles() if a.slug == "late-breaking-story")
    assert "Correction: a fix." in fetch(url).text
    assert article.modified >= article.published


def test_set_fault_and_clear_faults(fresh: SampleSite) -> None:
    assert fetch(fresh.base_url + "/feeds/rss.xml").status == 200
    fresh.set_fault("/feeds/", 500)
    assert fetch(fresh.base_url + "/feeds/rss.xml").status == 500
    assert fetch(fresh.base_url + "/feeds/atom.xml").status == 500
    assert fetch(fresh.base_url + "/robots.txt").status == 200
    fresh.set_fault("/robots.txt", 503)
    assert fetch(fresh.base_url + "/robots.txt").status == 503
    fresh.clear_faults()
    assert fetch(fresh.base_url + "/feeds/rss.xml").status == 200
    assert fetch(fresh.base_url + "/robots.txt").status == 200


def test_requests_are_logged_with_headers(fresh: SampleSite) -> None:
    fetch(fresh.base_url + "/private/secret.html", {"User-Agent": "newswatch-test"})
    method, path, headers = fresh.requests[-1]
    assert (method, path) == ("GET", "/private/secret.html")
    assert headers["User-Agent"] == "newswatch-test"


def test_fault_feed_links_to_every_fault(site: SampleSite) -> None:
    links = _rss_links(fetch(site.base_url + "/faults/feed.xml").text)
    paths = {urlsplit(u).path for u in links}
    for path in FAULT_PATHS:
        assert path in paths
    good = [u for u in links if "/faults/" not in u]
    assert len(good) == 2 and all(fetch(u).status == 200 for u in good)


def test_redirect_faults(site: SampleSite) -> None:
    first = fetch(site.base_url + "/faults/redirect-loop")
    second = fetch(site.base_url + first.headers["Location"])
    assert second.status == 302 and second.headers["Location"] == "/faults/redirect-loop"
    port = urlsplit(site.base_url).port
    loop = fetch(site.base_url + "/faults/loopback-redirect")
    assert loop.status == 302
    assert loop.headers["Location"] == f"http://127.0.0.2:{port}/secret"


def test_odd_bodies(site: SampleSite) -> None:
    assert fetch(site.base_url + "/faults/empty.html").body == b""
    assert fetch(site.base_url + "/faults/doc.pdf").body.startswith(b"%PDF-")
    latin = fetch(site.base_url + "/faults/latin1.html")
    assert latin.content_type == "text/html; charset=utf-8"
    with pytest.raises(UnicodeDecodeError):
        latin.body.decode("utf-8")
    text = latin.body.decode("cp1252")
    assert '<meta charset="windows-1252">' in text and "José Peñafiel" in text and "’" in text
    broken = fetch(site.base_url + "/faults/broken.html").body.decode("utf-8", "replace")
    assert "into custody" in broken and "</html>" not in broken
    with pytest.raises(ET.ParseError):
        ET.fromstring(fetch(site.base_url + "/faults/malformed.xml").body)
    malformed = fetch(site.base_url + "/faults/malformed.xml").text
    assert len(re.findall(r"<link>(http[^<]+\.html)</link>", malformed)) >= 2


def test_huge_bodies_stream_and_stop_when_client_leaves(site: SampleSite) -> None:
    for path, length in (("/faults/huge", "52428800"), ("/faults/nolength-huge", None)):
        with urllib.request.urlopen(site.base_url + path, timeout=10) as response:
            assert response.headers.get("Content-Length") == length
            assert response.headers["Content-Type"] == HTML
            assert len(response.read(256 * 1024)) == 256 * 1024


def test_slow_fault_answers_after_the_delay_and_wakes_on_stop() -> None:
    with SampleSite(faults=True, slow_seconds=0) as quick:
        assert fetch(quick.base_url + "/faults/slow").status == 200

    slow = SampleSite(faults=True, slow_seconds=600).start()
    outcome: list[object] = []

    def request() -> None:
        try:
            outcome.append(fetch(slow.base_url + "/faults/slow").status)
        except OSError as exc:  # the server drops the connection when it stops
            outcome.append(exc)

    worker = threading.Thread(target=request)
    worker.start()
    arrived = threading.Event()
    for _ in range(500):  # wait for the server to log the request, not for a fixed time
        if any(path == "/faults/slow" for _, path, _ in slow.requests):
            arrived.set()
            break
        arrived.wait(0.01)
    assert arrived.is_set()
    slow.stop()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert outcome and outcome[0] != 200


def test_faults_are_off_by_default() -> None:
    with SampleSite() as plain:
        assert fetch(plain.base_url + "/faults/feed.xml").status == 404


# -- robots and sitemaps --------------------------------------------------------------------


def test_robots_txt_disallows_private_and_points_to_sitemaps(site: SampleSite) -> None:
    robots = fetch(site.base_url + "/robots.txt").text
    assert "User-agent: *" in robots
    assert "Disallow: /private/" in robots
    assert f"Sitemap: {site.base_url}/sitemap_index.xml" in robots


def test_sitemap_index_and_sitemaps(site: SampleSite) -> None:
    index = ET.fromstring(fetch(site.base_url + "/sitemap_index.xml").body)
    locs = [loc.text for loc in index.findall("sm:sitemap/sm:loc", NS)]
    assert locs == [
        site.base_url + "/sitemaps/news.xml",
        site.base_url + "/sitemaps/articles.xml",
        site.base_url + "/sitemaps/archive.xml.gz",
        site.base_url + "/sitemaps/sections.xml",
    ]

    news = ET.fromstring(fetch(site.base_url + "/sitemaps/news.xml").body)
    entries = news.findall("sm:url", NS)
    assert entries
    for entry in entries:
        assert entry.findtext("news:news/news:publication/news:name", namespaces=NS)
        assert entry.findtext("news:news/news:publication/news:language", namespaces=NS)
        assert entry.findtext("news:news/news:publication_date", namespaces=NS)
        assert entry.findtext("news:news/news:title", namespaces=NS)
        assert entry.findtext("news:news/news:keywords", namespaces=NS)

    plain = ET.fromstring(fetch(site.base_url + "/sitemaps/articles.xml").body)
    urls = [u.findtext("sm:loc", namespaces=NS) for u in plain.findall("sm:url", NS)]
    assert all(u.findtext("sm:lastmod", namespaces=NS) for u in plain.findall("sm:url", NS))
    visible = {a.url for a in site.articles()}
    assert visible <= set(urls)
    old = [u for u in urls if u not in visible]
    assert len(old) >= 10
    assert all(fetch(str(u)).status == 404 for u in old[:2])

    archive = fetch(site.base_url + "/sitemaps/archive.xml.gz").body
    tree = ET.fromstring(gzip.decompress(archive))
    assert tree.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}urlset"
    assert len(tree.findall("sm:url", NS)) >= 10


# -- aggregators ------------------------------------------------------------------------------


def test_search_rss_redirects_to_articles_on_both_sites(site: SampleSite, wire: SampleSite) -> None:
    feed = fetch(site.base_url + "/search/rss?q=Bronx+courthouse").text
    links = _rss_links(feed)
    assert links and all(u.startswith(site.base_url + "/r/") for u in links)
    targets = []
    for link in links:
        response = fetch(link)
        assert response.status == 302
        targets.append(response.headers["Location"])
    wire_copy = wire.articles(include_hidden=True)
    assert any(t.startswith(wire.base_url) for t in targets)
    assert any(a.url in targets for a in wire_copy)
    assert all(fetch(t).status == 200 for t in targets)


def test_search_is_a_case_insensitive_word_match(site: SampleSite) -> None:
    links = _rss_links(fetch(site.base_url + "/search/rss?q=sanctuary").text)
    hits = {fetch(u).headers["Location"] for u in links}
    assert any("bird-sanctuary" in h for h in hits)
    nothing = _rss_links(fetch(site.base_url + "/search/rss?q=zzyzx-unfindable").text)
    assert nothing == []


def test_bing_apiclick_redirects(site: SampleSite) -> None:
    feed = fetch(site.base_url + "/bing/news?q=detainer&format=rss").text
    links = _rss_links(feed)
    assert links
    for link in links:
        assert "/bing/apiclick?" in link
        real = parse_qs(urlsplit(link).query)["url"][0]
        response = fetch(link)
        assert response.status == 302 and response.headers["Location"] == real


def test_gdelt_artlist_json(site: SampleSite, wire: SampleSite) -> None:
    data = json.loads(
        fetch(
            site.base_url + "/gdelt/api/v2/doc/doc?query=%22immigration%20court%22&mode=ArtList"
            "&format=json&maxrecords=250"
        ).body
    )
    assert data["articles"]
    known = {a.url for a in site.articles() + wire.articles()}
    for item in data["articles"]:
        assert set(item) == GDELT_FIELDS
        assert item["url"] in known
        assert re.fullmatch(r"\d{8}T\d{6}Z", item["seendate"])


def test_wire_site_has_no_aggregators(wire: SampleSite) -> None:
    assert fetch(wire.base_url + "/search/rss?q=ICE").status == 404


# -- article pages ------------------------------------------------------------------------------


def test_article_page_structure(site: SampleSite) -> None:
    article = next(a for a in site.articles() if a.slug == "nypd-flagged-court-dates-to-ice")
    html = fetch(article.url).text
    assert html.lower().startswith("<!doctype html>")
    assert '<html lang="en">' in html and '<meta charset="utf-8">' in html
    assert f'<link rel="canonical" href="{article.url}">' in html
    assert 'property="og:title"' in html and 'property="article:published_time"' in html
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert block
    ld = json.loads(block.group(1))
    assert ld["@type"] == "NewsArticle" and ld["headline"] == article.title
    assert ld["publisher"]["name"] == "The Gotham Ledger"
    assert ld["datePublished"] and ld["dateModified"] and ld["author"][0]["name"]
    assert "cookie" in html.lower() and 'class="breadcrumbs"' in html
    assert "<h1" in html and "<time datetime=" in html and "<figcaption>" in html
    related = re.search(r'<section class="related-stories">(.*?)</section>', html, re.S)
    assert related and len(re.findall(r"<a href=", related.group(1))) == 3
    assert 2 <= html.count('<li class="comment">') <= 4
    assert "newsletter" in html and "<footer" in html
    assert "sanctuary city" in html


def test_some_links_carry_tracking_junk(site: SampleSite) -> None:
    home = fetch(site.base_url + "/").text + fetch(site.base_url + "/section/courts/").text
    assert re.search(r'href="[^"]+\.html\?utm_source=[^"]*fbclid=[^"]*#comments"', home)
    tracked = next(a for a in site.articles() if a.slug == "queens-court-hallway-arrest")
    own = fetch(tracked.url).text
    assert f'<link rel="canonical" href="{tracked.url}">' in own


def test_wire_site_is_a_different_outlet(site: SampleSite, wire: SampleSite) -> None:
    home = fetch(wire.base_url + "/").text
    assert "Tri-State Wire" in home and "The Gotham Ledger" in home  # partner link
    copy = next(a for a in wire.articles() if a.syndicated_from)
    html = fetch(copy.url).text
    assert f'<link rel="canonical" href="{copy.url}">' in html
    assert 'class="wire-story"' in html and 'class="story-body"' not in html
    assert site.base_url in html
    original = next(a for a in site.articles() if a.slug == copy.syndicated_from)
    assert fetch(original.url).status == 200
    assert copy.url not in {a.url for a in site.articles()}
    assert all(a.site == "wire" for a in wire.articles())


def test_correction_is_rendered_on_updated_article(site: SampleSite) -> None:
    article = next(a for a in site.articles() if a.updated_hours is not None)
    html = fetch(article.url).text
    assert '<p class="correction">Correction:' in html
    assert 'class="updated"' in html
