"""Scores and explanations: score parts from rule outcomes, spans, and the densest snippet."""

from __future__ import annotations

import re
from collections.abc import Sequence

from crawler.matching.describe import whole_term
from crawler.matching.keywords import Hit
from crawler.matching.model import Span, merge_marks
from crawler.matching.pack import TopicSpec
from crawler.matching.rules import RuleOutcome, Window
from crawler.matching.text import FieldTokens

SNIPPET_CHARS = 500


def score_parts(settings: TopicSpec, outcomes: Sequence[RuleOutcome]) -> dict[str, float]:
    """Rule weights over distinct sentences, plus the title bonus.

    One sentence is one piece of evidence: when several rules fire on the same sentences, only
    the heaviest counts. A rule's first window counts its weight, each further window (on
    other sentences) `repeat_bonus` × weight, up to `repeat_cap` extra windows.
    """
    pending = [(o.rule.id, o.rule.weight, w) for o in outcomes for w in o.windows]
    taken: list[Window] = []
    counts: dict[str, int] = {}
    parts: dict[str, float] = {}
    in_title = False

    def gain(rule_id: str, weight: float, window: Window) -> float:
        seen = counts.get(rule_id, 0)
        if seen > settings.repeat_cap or any(
            t.field == window.field and t.sent_lo <= window.sent_hi and window.sent_lo <= t.sent_hi
            for t in taken
        ):
            return 0.0
        return weight if seen == 0 else weight * settings.repeat_bonus

    while pending:
        # the window adding most, the narrower one on ties: greedy over distinct sentences
        best = max(pending, key=lambda c: (gain(*c), c[2].sent_lo - c[2].sent_hi))
        value = gain(*best)
        if value <= 0:
            break
        rule_id, _, window = best
        pending.remove(best)
        taken.append(window)
        counts[rule_id] = counts.get(rule_id, 0) + 1
        parts[rule_id] = round(parts.get(rule_id, 0.0) + value, 4)
        in_title = in_title or window.field == "title"
    if parts and in_title and settings.title_bonus:
        parts["title"] = settings.title_bonus
    return parts


def hits_to_spans(
    hits: Sequence[Hit], fields: dict[str, FieldTokens], groups: Sequence[str]
) -> list[Span]:
    """Unique spans, title first, in reading order."""
    seen: set[tuple[str, int, int, int]] = set()
    spans: list[Span] = []
    for hit in sorted(hits, key=lambda h: (h.field != "title", h.cstart, h.cend)):
        key = (hit.field, hit.cstart, hit.cend, hit.group)
        if key in seen:
            continue
        seen.add(key)
        whole = fields[hit.field].text
        start, end = whole_term(whole, hit.cstart, hit.cend)  # "287(g)", not "287("
        spans.append(Span(start, end, whole[start:end], groups[hit.group], hit.field))
    return spans


def window_hits(windows: Sequence[Window]) -> list[Hit]:
    """Every hit of the windows."""
    return [h for w in windows for h in w.hits]


def _densest(spans: Sequence[Span], size: int) -> tuple[int, int]:
    ordered = sorted(spans, key=lambda s: s.start)
    best = (0, -1, 0)  # count, first index, last index
    j = 0
    for i, first in enumerate(ordered):
        j = max(j, i)
        while j + 1 < len(ordered) and ordered[j + 1].end - first.start <= size:
            j += 1
        if ordered[j].end - first.start <= size and j - i + 1 > best[0]:
            best = (j - i + 1, i, j)
    if best[1] < 0:
        return ordered[0].start, min(ordered[0].end, ordered[0].start + size)
    return ordered[best[1]].start, ordered[best[2]].end


_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+|\n\s*")


def _sentence_start(text: str, lo: int, reach: int) -> int | None:
    """Where the sentence holding `lo` starts, if that is within `reach` characters before it."""
    last = None
    for m in _SENTENCE_END.finditer(text, max(0, lo - reach), lo):
        last = m.end()
    if last is not None:
        return last
    return 0 if lo - reach <= 0 else None


def _expand(text: str, lo: int, hi: int, size: int) -> tuple[int, int]:
    """Grow [lo, hi) to at most `size` characters: from the start of the sentence holding the
    first evidence (looked for up to half the snippet back; else a word boundary), to the end
    of a sentence (or a word) after the last."""
    slack = size - (hi - lo)
    start = _sentence_start(text, lo, max(slack, size // 2))
    if start is None:
        space = text.find(" ", max(0, lo - slack // 3), lo)
        start = space + 1 if space >= 0 else lo
    while start < lo and text[start].isspace():
        start += 1
    end = min(len(text), start + size)
    if end < len(text):
        stop = max(text.rfind(". ", hi, end - 1), text.rfind("\n", hi, end))
        space = text.rfind(" ", hi, end)
        end = stop + 1 if stop >= hi else (space if space >= hi else end)
    return start, end


def snippet(
    spans: Sequence[Span], fields: dict[str, FieldTokens]
) -> tuple[str, list[tuple[int, int]]]:
    """At most 500 characters around the densest evidence, with its marks as offsets."""
    if not spans:
        return "", []
    text_spans = [s for s in spans if s.field == "text"]
    chosen = text_spans or [s for s in spans if s.field == "title"]
    field = chosen[0].field
    text = fields[field].text
    lo, hi = _densest(chosen, SNIPPET_CHARS)
    start, end = _expand(text, lo, hi, SNIPPET_CHARS)
    marks = [(s.start - start, s.end - start) for s in chosen if s.start >= start and s.end <= end]
    return text[start:end], merge_marks(marks, end - start)
