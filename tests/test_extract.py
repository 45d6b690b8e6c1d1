"""Extraction: real pages against ground truth, charsets, failures as values."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

from crawler.extract import (
    Extracted,
    ExtractFailure,
    declared_canonical,
    decode_html,
    extract_html,
    extract_to_dict,
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
