"""Highlighting helpers for the review CLI and page: marked snippet pieces and checked spans."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from crawler.matching.describe import whole_marks


def snippet_segments(snippet: str, marks: Iterable[Sequence[int]] | None) -> list[tuple[str, bool]]:
    """Split a snippet into (text, marked) pieces; bad or overlapping marks are skipped.

    Marks are widened to whole terms, so older rows marking "287(" show "287(g)".
    """
    spans: list[tuple[int, int]] = []
    for start, end in whole_marks(snippet, marks or ()):
        if start < end:
            spans.append((start, end))
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        if start > pos:
            pieces.append((snippet[pos:start], False))
        pieces.append((snippet[start:end], True))
        pos = end
    if pos < len(snippet):
        pieces.append((snippet[pos:], False))
    return pieces


def text_marks(text: str, spans: Iterable[Any], field_name: str = "text") -> list[tuple[int, int]]:
    """Offsets of explanation spans for one field that really point at their text in `text`."""
    found: list[tuple[int, int]] = []
    for span in spans:
        if not isinstance(span, dict) or span.get("field", field_name) != field_name:
            continue
        start, end = span.get("start"), span.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            expected = span.get("text")
            if expected is None or text[start:end] == expected:
                found.append((start, end))
    return found
