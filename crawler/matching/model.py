"""The matcher's public values: documents in, per-topic results (with explanations) out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

ENTITY_KINDS = ("agency", "court", "place", "official")


@dataclass(frozen=True)
class Document:
    """An article as the matcher sees it: extracted title and text."""

    title: str
    text: str
    lang: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Span:
    """One piece of matched evidence: character offsets into the title or the text."""

    start: int
    end: int
    text: str
    group: str
    field: str  # "title" | "text"


@dataclass
class TopicResult:
    """How one topic scored on one document, with everything needed to explain it."""

    topic: str
    label: str
    score: float
    threshold: float
    matched: bool
    rules: list[str]
    near_misses: list[str]
    spans: list[Span]
    snippet: str
    snippet_marks: list[tuple[int, int]]
    score_parts: dict[str, float]
    entities: dict[str, list[str]] = field(default_factory=dict)
    pack_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (tuples become lists), as `dataclasses.asdict` would give — built
        by hand, since asdict's recursive deep copy of every span cost ~1.5 ms per result."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["rules"], data["near_misses"] = list(self.rules), list(self.near_misses)
        data["spans"] = [dict(vars(span)) for span in self.spans]
        data["snippet_marks"] = [list(m) for m in self.snippet_marks]
        data["score_parts"] = dict(self.score_parts)
        data["entities"] = {kind: list(names) for kind, names in self.entities.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopicResult:
        """Inverse of `to_dict`."""
        values = dict(data)
        values["spans"] = [Span(**s) for s in values.get("spans", [])]
        values["snippet_marks"] = [(int(a), int(b)) for a, b in values.get("snippet_marks", [])]
        return cls(**values)


@dataclass(frozen=True)
class PrefilterResult:
    """Whether a raw page may match (and so needs extraction), and why."""

    passed: bool
    reason: str
    hits: tuple[str, ...]


def merge_marks(marks: Sequence[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Sort, clip to [0, length] and merge overlapping or touching marks."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(marks):
        start, end = max(0, start), min(length, end)
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def mark_snippet(
    snippet: str,
    marks: Sequence[tuple[int, int]],
    escape: Callable[[str], str],
    open: str,
    close: str,
) -> str:
    """Escape every piece of the snippet and wrap the marked pieces in `open` … `close`."""
    out: list[str] = []
    pos = 0
    for start, end in merge_marks(marks, len(snippet)):
        if start > pos:
            out.append(escape(snippet[pos:start]))
        out.append(open + escape(snippet[start:end]) + close)
        pos = end
    if pos < len(snippet):
        out.append(escape(snippet[pos:]))
    return "".join(out)
