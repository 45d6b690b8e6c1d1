"""Every discovery path, as real crawls of the local sample site (one crawl per source kind)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from test_spiders_support import Crawled, canonical, prepare, run_crawls, source_toml

from crawler.sample_site.content import Article as SampleArticle
from crawler.sample_site.content import matches_query
from crawler.sample_site.server import SampleSite, serve_pair
from crawler.sample_site.sitemaps import LISTING_PATHS

pytestmark = pytest.mark.slow
QUERY = "ICE courthouse"
ARTICLE_PATH = re.compile(r"^http://127\.0\.0\.1:\d+/[a-z]+/\d{4}/\d{2}/\d{2}/[a-z0-9-]+\.html$")
WINDOW = timedelta(hours=48)


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[SampleSite, SampleSite]]:
    main, wire = serve_pair(faults=True)
    try:
        yield main, wire
    finally:
        main.stop()
        wire.stop()


@pytest.fixture(scope="module")
def crawled(
    sites: tuple[SampleSite, SampleSite], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Crawled]:
    main, _ = sites
    m = main.base_url
    q = QUERY.replace(" ", "+")
    plan = {
        "rss": ("feed", [f"{m}/feeds/rss.xml"], {}),
        "atom": ("feed", [f"{m}/feeds/atom.xml"], {}),
        "rdf": ("feed", [f"{m}/feeds/rdf.xml"], {}),
        "jsonfeed": ("feed", [f"{m}/feed.json"], {}),
        "sitemap-index": ("sitemap", [f"{m}/sitemap_index.xml"], {}),
        "sitemap-robots": ("sitemap", [f"{m}/"], {}),
        "sitemap-malformed": (
            "sitemap",
            [f"{m}/faults/malformed.xml", f"{m}/sitemaps/news.xml"],
            {},
        ),
        "section-heuristic": ("section", [f"{m}/section/immigration/", f"{m}/section/courts/"], {}),
        "section-regex": (
            "section",
            [f"{m}/"],
            {"article_url": r"/(courts|immigration)/\d{4}/\d{2}/\d{2}/"},
        ),
        "google": ("search", [f"{m}/search/rss?q={q}"], {}),
        "bing": ("search", [f"{m}/bing/news?q={q}&format=rss"], {}),
        "gdelt": ("gdelt", [f"{m}/gdelt/api/v2/doc/doc?query={q}&mode=ArtList&format=json"], {}),
    }
    tmp = tmp_path_factory.mktemp("paths")
    jobs = []
    for name, (kind, urls, fields) in plan.items():
        job = prepare(tmp, name, source_toml(name, kind, urls, **fields))
        jobs.append((job, [name]))
    run_crawls(jobs)
    return {job.name: job for job, _ in jobs}


def visible(site: SampleSite) -> list[SampleArticle]:
    return site.articles()


def search_hits(sites: tuple[SampleSite, SampleSite]) -> set[str]:
    return canonical(a for s in sites for a in s.articles() if matches_query(a, QUERY))


def assert_clean(job: Crawled) -> None:
    run = job.last_run()
    assert job.returncode == 0, job.output[-3000:]
    assert run.status == "ok", (run.status, run.errors, run.error_samples)


@pytest.mark.parametrize("name", ["rss", "atom", "rdf", "jsonfeed"])
def test_feeds_find_every_article(
    crawled: dict[str, Crawled], sites: tuple[SampleSite, SampleSite], name: str
) -> None:
    job = crawled[name]
    assert_clean(job)
    assert job.urls() == canonical(visible(sites[0]))
    assert {a.discovered_via for a in job.articles()} == {"feed"}


def in_window(article: SampleArticle, now: datetime) -> bool:
    return max(article.modified, article.published) >= now - WINDOW


@pytest.mark.parametrize("name", ["sitemap-index", "sitemap-robots"])
def test_sitemaps_follow_the_index_and_keep_the_lastmod_window(
    crawled: dict[str, Crawled], sites: tuple[SampleSite, SampleSite], name: str
) -> None:
    job = crawled[name]
    assert_clean(job)
    now = datetime.now(UTC)
    articles = visible(sites[0])
    expected = canonical(a for a in articles if in_window(a, now))
    too_old = canonical(a for a in articles if not in_window(a, now - timedelta(minutes=30)))
    stored = job.articles()
    # The sections sitemap lists listing pages: stored as not_article, never as articles.
    listings = {a.url for a in stored if a.status == "not_article"}
    assert listings == canonical(sites[0].base_url + p for p in LISTING_PATHS)
    urls = {a.url for a in stored if a.status != "not_article"}
    assert too_old and not urls & too_old  # the articles past the window were not fetched
    assert expected - urls == set()
    assert urls <= canonical(articles)  # nothing else: no year-old entry (those 404)
    assert {a.discovered_via for a in job.articles()} == {"sitemap"}


def test_sitemap_paths_were_fetched(sites: tuple[SampleSite, SampleSite]) -> None:
    paths = [path for _, path, _ in sites[0].requests]
    for needed in (
        "/robots.txt",
        "/sitemap_index.xml",
        "/sitemaps/news.xml",
        "/sitemaps/articles.xml",
        "/sitemaps/archive.xml.gz",
        "/sitemaps/sections.xml",
    ):
        assert needed in paths
    old = [p for p in paths if "bodega-cat-wins-online-vote" in p or "ferry-ridership" in p]
    assert old == []  # year-old sitemap entries are filtered, never requested


def test_malformed_sitemap_is_recorded_and_the_crawl_carries_on(
    crawled: dict[str, Crawled], sites: tuple[SampleSite, SampleSite]
) -> None:
    job = crawled["sitemap-malformed"]
    run = job.last_run()
    assert job.returncode == 0, job.output[-3000:]
    assert run.status == "partial"
    assert run.errors == {"unparseable_sitemap": 1}
    assert "malformed.xml" in run.error_samples["unparseable_sitemap"][0]
    now = datetime.now(UTC)
    news = canonical(a for a in visible(sites[0]) if a.published >= now - WINDOW)
    assert news - job.urls() == set() and job.urls() <= news | canonical(visible(sites[0]))


def test_section_pages_follow_article_links_by_heuristic(
    crawled: dict[str, Crawled], sites: tuple[SampleSite, SampleSite]
) -> None:
    job = crawled["section-heuristic"]
    assert_clean(job)
    expected = [a for a in visible(sites[0]) if a.section in ("immigration", "courts")]
    per_section = {
        s: [a for a in expected if a.section == s][:10] for s in ("immigration", "courts")
    }
    assert job.urls() == canonical(per_section["immigration"] + per_section["courts"])
    assert all(ARTICLE_PATH.match(url) for url in job.urls())  # no tag/about/login/nav page
    assert {a.discovered_via for a in job.articles()} == {"section"}


def test_section_pages_with_an_article_url_regex(
    crawled: dict[str, Crawled], sites: tuple[SampleSite, SampleSite]
) -> None:
    job = crawled["section-regex"]
    assert_clean(job)
    home = visible(sites[0])[:10]
    expected = canonical(a for a in home if a.section in ("courts", "immigration"))
    assert expected and job.urls() == expected


@pytest.mark.parametrize("name", ["google", "bing", "gdelt"])
def test_search_sources_store_publisher_urls(
    crawled: dict[str, Crawled], sites: tuple[SampleSite, SampleSite], name: str
) -> None:
    job = crawled[name]
    assert_clean(job)
    urls = job.urls()
    assert urls == search_hits(sites)
    assert any(sites[1].base_url in u for u in urls)  # the wire partner's copy too
    for article in job.articles():
        assert "/r/" not in article.url and "apiclick" not in article.url
        assert "/r/" not in article.fetched_url and "apiclick" not in article.fetched_url
        assert article.discovered_via == ("gdelt" if name == "gdelt" else "search")


def test_google_links_were_resolved_by_redirect_and_bing_links_unwrapped(
    crawled: dict[str, Crawled], sites: tuple[SampleSite, SampleSite]
) -> None:
    paths = [path for _, path, _ in sites[0].requests]
    assert len([p for p in paths if p.startswith("/r/")]) == len(search_hits(sites))
    assert not [p for p in paths if p.startswith("/bing/apiclick")]  # no request needed


def test_every_crawl_wrote_its_run(crawled: dict[str, Crawled]) -> None:
    for job in crawled.values():
        assert job.last_run().status in ("ok", "partial"), job.name
