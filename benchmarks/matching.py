"""Matching speed: the full matcher over extracted texts, and the raw-page prefilter."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from benchmarks.baseline import naive_match


def bench_matcher(texts: Sequence[tuple[str, str]], rounds: int) -> dict[str, Any]:
    """Documents per second of `Matcher.match` over (title, text) pairs, best of `rounds`."""
    from crawler.matching import Document, load_matcher

    matcher = load_matcher()
    docs = [Document(title=title, text=text) for title, text in texts]
    if not docs:
        return {"skipped": "no extracted texts"}
    matched = sum(1 for d in docs if matcher.match(d))  # warm-up round, and the match count
    timings = []
    for _ in range(rounds):
        start = time.process_time()
        for doc in docs:
            matcher.match(doc)
        timings.append(time.process_time() - start)
    best = min(timings)
    naive_start = time.process_time()
    for _ in range(rounds):
        for doc in docs:
            naive_match(doc.title + "\n" + doc.text)
    naive = (time.process_time() - naive_start) / rounds
    chars = sum(len(d.text) for d in docs)
    return {
        "docs": len(docs),
        "rounds": rounds,
        "avg_chars": chars / len(docs),
        "docs_per_s": len(docs) / best if best else 0.0,
        "ms_per_doc": best * 1000 / len(docs),
        "ms_per_doc_median_round": sorted(timings)[len(timings) // 2] * 1000 / len(docs),
        "matched_docs": matched,
        "naive_substring_ms_per_doc": naive * 1000 / len(docs),
    }


def bench_prefilter(bodies: Sequence[bytes], rounds: int) -> dict[str, Any]:
    """Pass rate of the prefilter on raw pages, and its CPU ms per page (best of `rounds`)."""
    from crawler.matching import load_matcher

    prefilter = load_matcher().prefilter
    if not bodies:
        return {"skipped": "no pages"}
    results = [prefilter.scan(b) for b in bodies]  # warm-up and the pass rate
    timings = []
    for _ in range(rounds):
        start = time.process_time()
        for body in bodies:
            prefilter.scan(body)
        timings.append(time.process_time() - start)
    best = min(timings)
    passed = sum(r.passed for r in results)
    return {
        "pages": len(bodies),
        "avg_kb": sum(len(b) for b in bodies) / len(bodies) / 1024,
        "passed": passed,
        "pass_rate": passed / len(bodies),
        "ms_per_page": best * 1000 / len(bodies),
        "terms": len(prefilter.terms),
    }
