"""How many general-news pages of the shared corpus would become possible matches (goal < 1%).

Every page is extracted and scored, whether or not the prefilter would pass it (stricter than a
crawl, where pages the prefilter skips are never scored). Skips where the corpus is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.corpus import load_corpus
from crawler.config import MatchingConfig
from crawler.extract import Extracted, extract_html
from crawler.matching import Document, load_matcher, near_matches

pytestmark = pytest.mark.slow
GOAL = 0.01


def test_under_one_percent_of_general_news_becomes_possible(corpus: Path) -> None:
    matcher = load_matcher()
    share = MatchingConfig().possible_share
    pages = load_corpus(corpus)
    assert len(pages) >= 300
    scored = 0
    possible: list[str] = []
    for page in pages:
        extracted = extract_html(page.body, page.url)
        if not isinstance(extracted, Extracted):
            continue
        scored += 1
        doc = Document(extracted.title or "", extracted.text, extracted.language)
        if near_matches(matcher.evaluate(doc), share):
            possible.append(page.id)
    rate = len(possible) / scored
    print(f"possible: {len(possible)} of {scored} extracted corpus pages ({rate:.2%})")
    assert scored >= 300
    assert rate < GOAL, f"{len(possible)} possible pages: {possible[:20]}"
