"""Extraction: real pages against ground truth, charsets, failures as values."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from crawler.extract import (
    _DATE_PARAMS,
    LD_SLIM_CHARS,
    Extracted,
    ExtractFailure,
    declared_canonical,
    decode_html,
    extract_html,
    extract_to_dict,
    page_metadata,
    result_from_dict,
)

PARAGRAPHS = "".join(
    f"<p>Paragraph {i}: the county commission met on Tuesday to debate the budget, and residents "
    f"spoke for hours about roads, schools and the new library branch on Main Street.</p>"
    for i in range(8)
)
PAGE = (
    "<html><head><title>Budget night</title>"
    '<meta property="article:published_time" content="2026-11-27T14:05:00Z">'
    '<link rel="canonical" href="https://paper.example/news/budget.html"></head>'
    f"<body><nav>Home | News</nav><article><h1>Budget night</h1>{PARAGRAPHS}</article>"
    "<footer>© Paper</footer></body></html>"
)


def _tokens(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


def test_extracts_text_title_and_date() -> None:
    result = extract_html(PAGE.encode(), "https://paper.example/news/budget.html")
    assert isinstance(result, Extracted)
    assert result.title == "Budget night"
    assert "library branch" in result.text and "Home | News" not in result.text
    assert result.published is not None and result.published.year == 2026


def test_empty_and_garbage_are_statuses_not_exceptions() -> None:
    assert extract_html(b"") == ExtractFailure("empty", "empty page")
    garbage = bytes(range(256)) * 50
    assert isinstance(extract_html(garbage), ExtractFailure)
    short = extract_html(b"<html><body><p>Too short.</p></body></html>")
    assert isinstance(short, ExtractFailure) and short.status == "empty"


def test_lying_charset_header_does_not_garble_text() -> None:
    text = "José Núñez said the “hearing” was postponed. " * 20
    body = (
        '<html><head><meta charset="windows-1252"></head>'
        f"<body><article><p>{text}</p></article></body></html>"
    )
    decoded, encoding = decode_html(body.encode("cp1252"), "utf-8")
    assert "José Núñez" in decoded and "“hearing”" in decoded and encoding == "cp1252"


def test_declared_canonical() -> None:
    assert declared_canonical(PAGE.encode()) == "https://paper.example/news/budget.html"
    assert declared_canonical(b"<html><head></head></html>") is None
    assert declared_canonical(b"<link href='/x' rel=canonical>") == "/x"


def test_worker_round_trip_is_picklable() -> None:
    data = extract_to_dict(PAGE.encode(), "https://paper.example/x", None)
    json.dumps(data)
    result = result_from_dict(data)
    assert isinstance(result, Extracted) and result.title == "Budget night"
    failed = result_from_dict(extract_to_dict(b"", None, None))
    assert isinstance(failed, ExtractFailure)


def test_corpus_token_f1(corpus: Path) -> None:
    """trafilatura reaches F1 ≥ 0.90 over the real pages with full-body ground truth."""
    tp = fp = fn = 0
    pages = 0
    for line in (corpus / "manifest.jsonl").read_text().splitlines():
        meta = json.loads(line)
        if meta["ground_truth_kind"] == "snippets_with_without":
            continue
        truth = json.loads((corpus / meta["ground_truth_file"]).read_text())["article_body"]
        result = extract_html(gzip.decompress((corpus / meta["file"]).read_bytes()), meta["url"])
        got = _tokens(result.text if isinstance(result, Extracted) else "")
        want = _tokens(truth)
        common = sum((got & want).values())
        tp, fp, fn = tp + common, fp + sum(got.values()) - common, fn + sum(want.values()) - common
        pages += 1
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    print(f"corpus extraction over {pages} pages: P={precision:.3f} R={recall:.3f} F1={f1:.3f}")
    assert pages >= 250
    assert f1 >= 0.90


def _ld_page(ld: str, body: str = PARAGRAPHS) -> bytes:
    return (
        f'<html><head><title>Live</title><script type="application/ld+json">{ld}</script>'
        f"</head><body><article><h1>Protests live</h1>{body}</article></body></html>"
    ).encode()


def _live_blog(updates: int) -> str:
    """A live blog's JSON-LD as big sites write it: escaped slashes (so trafilatura un-escapes
    the whole text) and `&quot;` in the updates' bodies (which that turns into bare quotes)."""
    posts = [
        {
            "@type": "BlogPosting",
            "headline": f"Update number {i}",
            "datePublished": "2026-03-02T12:00:00Z",
            "articleBody": f"Witnesses described a &quot;loud bang&quot; near the station ({i}).",
            "author": [{"@type": "Person", "name": "Rota Writer"}],
        }
        for i in range(updates)
    ]
    blog = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "headline": "Protests live: clashes in the square",
        "datePublished": "2026-03-01T09:30:00Z",
        "url": "https://paper.example/live/protests",
        "author": [{"@type": "Person", "name": "Jane Reporter"}],
        "publisher": {"@type": "Organization", "name": "The Paper"},
        "liveBlogUpdate": posts,
    }
    return json.dumps(blog).replace("/", "\\/")


def test_large_live_blog_json_ld_gives_the_blogs_own_metadata() -> None:
    """Past LD_SLIM_CHARS a block is parsed raw and cut to what trafilatura's walk reads:
    the blog's headline, byline and publisher, not its updates' (nor trafilatura's regex
    fallback over the whole text, which its un-escaping would send it down)."""
    ld = _live_blog(300)
    assert len(ld) > LD_SLIM_CHARS
    result = extract_html(_ld_page(ld), "https://paper.example/live/protests")
    assert isinstance(result, Extracted)
    assert result.title == "Protests live: clashes in the square"
    assert result.author == "Jane Reporter"
    assert result.sitename == "The Paper"
    assert result.published == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_large_json_ld_that_is_not_json_goes_to_the_regexes_head_only() -> None:
    """A large block that no parser accepts goes to trafilatura's regexes (quadratic in the
    text's length), over its first LD_SLIM_CHARS only."""
    ld = _live_blog(300)
    ld = ld[: ld.rindex("Rota Writer")] + 'Late Writer"}]},,]}'  # the last update: not JSON
    result = extract_html(_ld_page(ld), "https://paper.example/live/protests")
    assert isinstance(result, Extracted) and result.author is not None
    assert result.author.split("; ") == ["Jane Reporter", "Rota Writer"]


def test_large_json_ld_article_body_still_rescues_the_text() -> None:
    """Only the metadata reads the cut block: trafilatura's text rescue still finds the
    articleBody of a page that carries its article only in JSON-LD."""
    body = " ".join(f"Paragraph {i}: the council voted on the library budget." for i in range(1200))
    ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": "Council budget vote",
            "author": {"@type": "Person", "name": "Sam Writer"},
            "articleBody": body,
        }
    )
    assert len(ld) > LD_SLIM_CHARS
    result = extract_html(_ld_page(ld, body="<div id='app'></div>"), "https://paper.example/x")
    assert isinstance(result, Extracted)
    assert result.title == "Council budget vote" and result.author == "Sam Writer"
    assert "Paragraph 1199: the council voted" in result.text


def test_page_metadata_equals_trafilaturas(corpus: Path) -> None:
    """Our metadata pass is trafilatura's `extract_metadata` less the fields we discard: on
    every corpus page without a large JSON-LD block the fields we keep are the same."""
    from trafilatura.metadata import extract_metadata
    from trafilatura.utils import load_html

    fields = ("title", "author", "date", "sitename", "description")
    compared = 0
    for line in (corpus / "manifest.jsonl").read_text().splitlines():
        meta = json.loads(line)
        tree = load_html(decode_html(gzip.decompress((corpus / meta["file"]).read_bytes()))[0])
        assert tree is not None
        blocks = tree.xpath('.//script[@type="application/ld+json"]')
        if any(len(block.text or "") >= LD_SLIM_CHARS for block in blocks):
            continue
        ours = page_metadata(tree, meta["url"])
        theirs = extract_metadata(tree, meta["url"], dict(_DATE_PARAMS))
        assert [getattr(ours, f) for f in fields] == [getattr(theirs, f) for f in fields]
        compared += 1
    assert compared >= 300
