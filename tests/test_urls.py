"""URL canonicalisation and fingerprints."""

from __future__ import annotations

import pytest

from crawler.urls import canonicalize, choose_canonical, fingerprint, same_site


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM:80/a", "http://example.com/a"),
        ("https://example.com:443/a#comments", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a?utm_source=x&utm_medium=y&id=7", "https://example.com/a?id=7"),
        ("https://example.com/a?fbclid=1&gclid=2&b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com//news///x.html", "https://example.com/news/x.html"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a?mc_cid=1&mc_eid=2", "https://example.com/a"),
    ],
)
def test_canonicalize(raw: str, expected: str) -> None:
    assert canonicalize(raw) == expected


def test_canonicalize_keeps_meaningful_parameters() -> None:
    assert canonicalize("https://example.com/story?id=42&page=2") == (
        "https://example.com/story?id=42&page=2"
    )


def test_relative_urls_resolve_against_base() -> None:
    assert canonicalize("../b.html", base="https://x.org/news/a/") == "https://x.org/news/b.html"


def test_fingerprint_is_stable_and_distinct() -> None:
    a, b = fingerprint("https://x.org/a"), fingerprint("https://x.org/b")
    assert a == fingerprint("https://x.org/a") and a != b and len(a) == 16


def test_same_site_ignores_www_and_mobile() -> None:
    assert same_site("https://www.x.org/a", "https://x.org/b")
    assert same_site("https://m.x.org/a", "https://news.x.org/b")
    assert not same_site("https://x.org/a", "https://evil.org/x.org")


def test_rel_canonical_only_when_same_site() -> None:
    fetched = "https://www.paper.com/story?utm_source=feed"
    assert choose_canonical(fetched, "/2024/story.html") == "https://www.paper.com/2024/story.html"
    assert choose_canonical(fetched, "https://aggregator.net/copy") == "https://www.paper.com/story"
    assert choose_canonical(fetched, "javascript:alert(1)") == "https://www.paper.com/story"
    assert choose_canonical(fetched, None) == "https://www.paper.com/story"
