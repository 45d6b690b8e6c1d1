"""Topic matching: rules over word tokens, entities, explanations and a raw-page prefilter.

matcher = load_matcher()
for result in matcher.match(Document(title, text)):
    result.topic, result.score, result.rules, result.snippet
matcher.prefilter.scan(raw_html_bytes).passed
"""

from crawler.matching.matcher import Matcher, load_matcher, near_matches
from crawler.matching.model import (
    Document,
    PrefilterResult,
    Span,
    TopicResult,
    mark_snippet,
)
from crawler.matching.prefilter import Prefilter

__all__ = [
    "Document",
    "Matcher",
    "Prefilter",
    "PrefilterResult",
    "Span",
    "TopicResult",
    "load_matcher",
    "mark_snippet",
    "near_matches",
]
