"""Listing pages (home, section, tag, author, search) are told from articles (crawler.pagekind)."""

from __future__ import annotations

import gzip
import json
import urllib.request
from pathlib import Path

import pytest

from crawler import pagekind
from crawler.extract import Extracted, decode_html, extract_html, extract_to_dict
from crawler.pagekind import ARTICLE, NOT_ARTICLE, UNKNOWN
from crawler.sample_site.server import SampleSite
from crawler.sample_site.sitemaps import LISTING_PATHS

BODY = " ".join(
    "The county commission met on Tuesday and spent three hours on the budget for the new "
    "water treatment plant, which residents have asked about for years."
    for _ in range(12)
)
HEADLINES = [
    f"Agents detain man number {i} outside the county courthouse after a hearing" for i in range(12)
]


def page(head: str = "", main: str = "") -> bytes:
    """A page with site navigation around `main`."""
    nav = "".join(f'<li><a href="/section/s{i}/">Section {i}</a></li>' for i in range(8))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Page</title>{head}</head><body><header><nav><ul>{nav}</ul></nav></header>
<main>{main}</main><footer><a href="/about/">About us</a></footer></body></html>""".encode()


def listing_main() -> str:
    items = "".join(
        f'<li><a href="/news/2026/03/{i:02d}/story-{i}.html">{h}</a>'
        f"<p>Witnesses said the arrest took minutes; lawyers called it an ambush {i}.</p></li>"
        for i, h in enumerate(HEADLINES, start=1)
    )
    return f"<h1>Latest</h1><ul>{items}</ul>"


def article_main(related: int = 4) -> str:
    links = "".join(
        f'<li><a href="/news/2026/02/{i:02d}/other-{i}.html">{HEADLINES[i]}</a></li>'
        for i in range(related)
    )
    return f"<article><h1>Commission weighs plant</h1><p>{BODY}</p><p>{BODY}</p></article>" + (
        f"<aside><h2>Related</h2><ul>{links}</ul></aside>" if related else ""
    )


def verdict(body: bytes, url: str) -> pagekind.Verdict:
    """What the pipeline decides: the cheap signals, then the link evidence if needed."""
    cheap = pagekind.before_extraction(body, url)
    if cheap.kind != UNKNOWN:
        return cheap
    ex = extract_html(body, url)
    text = ex.text if isinstance(ex, Extracted) else ""
    return pagekind.after_extraction(decode_html(body)[0], url, text, body)


@pytest.mark.parametrize(
    "url",
    [
        "https://paper.example/",
        "https://paper.example",
        "https://paper.example/index.html",
        "https://paper.example/tag/immigration/",
        "https://paper.example/category/local-news/",
        "https://paper.example/news/section/courts/",
        "https://paper.example/author/jane-doe/",
        "https://paper.example/search?q=ice",
        "https://paper.example/search/ice+courthouse",
        "https://paper.example/page/3/",
        "https://paper.example/news/page/2",
        "https://paper.example/topics/immigration",
    ],
)
def test_listing_url_shapes(url: str) -> None:
    assert pagekind.url_shape(url) is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://paper.example/news/2026/03/02/agents-detain-man-at-courthouse.html",
        "https://paper.example/section/politics/2026/03/02/agents-detain-man.html",
        "https://paper.example/tag/agents-detain-man-at-the-courthouse.html",
        "https://paper.example/?p=12345",
        "https://paper.example/agents-detain-man-1839927963",
        "https://paper.example/news/us/article/Agents-detain-man-14848164.php",
        "https://paper.example/author/jane-doe/agents-detain-man-at-courthouse.html",
        "https://paper.example/searchlight-report-on-county-jails",
        "https://paper.example/category/politics/agents-detain-man-at-the-courthouse",
    ],
)
def test_article_url_shapes(url: str) -> None:
    assert pagekind.url_shape(url) is None


def test_article_metadata_wins_over_a_listing_url() -> None:
    head = '<script type="application/ld+json">{"@type": "NewsArticle"}</script>'
    body = page(head, article_main())
    result = pagekind.before_extraction(body, "https://paper.example/tag/courts/")
    assert result.kind == ARTICLE and "NewsArticle" in result.reason
    og = page('<meta property="og:type" content="article">', article_main())
    assert pagekind.before_extraction(og, "https://paper.example/").kind == ARTICLE


def test_listing_metadata_decides_before_extraction() -> None:
    head = (
        '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": '
        '[{"@type": "CollectionPage", "name": "Courts"}, {"@type": "WebSite"}]}</script>'
    )
    result = pagekind.before_extraction(page(head, listing_main()), "https://paper.example/x")
    assert result == pagekind.Verdict(NOT_ARTICLE, "page metadata says CollectionPage")


def test_broken_json_ld_is_no_evidence() -> None:
    head = '<script type="application/ld+json">{"@type": "NewsArticle",</script>'
    body = page(head, article_main())
    assert pagekind.read_metadata(body).ld_types == frozenset()
    assert verdict(body, "https://paper.example/news/commission-weighs-plant").kind == ARTICLE


def test_a_listing_without_metadata_or_url_shape_is_told_by_its_links() -> None:
    body = page(main=listing_main())
    assert pagekind.before_extraction(body, "https://paper.example/latest.html").kind == UNKNOWN
    result = verdict(body, "https://paper.example/latest.html")
    assert result.kind == NOT_ARTICLE and "headline links" in result.reason


def test_an_article_with_related_links_stays_an_article() -> None:
    for related in (0, 4):
        body = page(main=article_main(related))
        assert verdict(body, "https://paper.example/commission-weighs-plant").kind == ARTICLE


def test_extract_to_dict_reports_a_listing_as_not_article() -> None:
    body = page(main=listing_main())
    data = extract_to_dict(body, "https://paper.example/latest.html", None, True)
    assert data["ok"] is False and data["status"] == "not_article"
    # Without the check (as before) the same page extracts as an article.
    assert extract_to_dict(body, "https://paper.example/latest.html", None)["ok"] is True


def test_sample_site_listing_pages_are_not_articles() -> None:
    with SampleSite() as site:
        for path in LISTING_PATHS:
            body = urllib.request.urlopen(site.base_url + path, timeout=10).read()
            assert verdict(body, site.base_url + path).kind == NOT_ARTICLE, path
        for article in site.articles()[:8]:
            body = urllib.request.urlopen(article.url, timeout=10).read()
            assert verdict(body, article.url).kind == ARTICLE, article.url


def _corpus_pages(corpus: Path) -> list[tuple[str, str, bytes]]:
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").open(encoding="utf-8")]
    return [
        (
            row["id"],
            row["url"] or "https://unknown.example/article",
            gzip.decompress((corpus / row["file"]).read_bytes()),
        )
        for row in rows
    ]


def test_corpus_articles_stay_articles(corpus: Path) -> None:
    """The false not_article rate on the shared corpus of real articles (312 pages) is 0."""
    pages = _corpus_pages(corpus)
    offenders = [
        (pid, v.reason) for pid, url, body in pages if (v := verdict(body, url)).kind != ARTICLE
    ]
    assert len(pages) >= 300
    assert offenders == [], f"false not_article: {len(offenders)}/{len(pages)}: {offenders}"


@pytest.mark.slow
def test_corpus_articles_stay_articles_on_link_evidence_alone(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even ignoring metadata and URL shape, no real article looks like a listing."""
    pages = _corpus_pages(corpus)
    monkeypatch.setattr(
        pagekind, "before_extraction", lambda body, url: pagekind.Verdict(UNKNOWN, "")
    )
    offenders = []
    for pid, url, body in pages:
        ex = extract_html(body, url)
        text = ex.text if isinstance(ex, Extracted) else ""
        result = pagekind.after_extraction(decode_html(body)[0], url, text, body)
        if result.kind != ARTICLE:
            offenders.append((pid, result.reason))
    assert offenders == [], f"{len(offenders)}/{len(pages)}: {offenders}"
