"""Explanations for people: each rule's plain-language description from the topic packs.

Used by the review page, `matches show`, the demo report and the Slack messages.

Rule ids (`sd.287g`) and character offsets stay in the details fold and in JSON; what a person
reads first is the description the pack gives the rule (else its topic's, else the id made
readable).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from crawler.errors import NewswatchError

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def _descriptions(extra: tuple[str, ...]) -> dict[str, str]:
    from crawler.matching.pack import load_pack

    try:
        pack = load_pack([Path(p) for p in extra])
    except (NewswatchError, OSError) as exc:  # a broken pack must not break the review page
        log.warning("event=rule_descriptions_unavailable error=%s", exc)
        return {}
    out: dict[str, str] = {}
    for topic in pack.topics.values():
        for sourced in topic.rules:
            text = sourced.spec.description.strip() or topic.settings.description.strip()
            if text:
                out[sourced.spec.id] = text
    return out


def rule_descriptions(extra_packs: Sequence[Path | str] = ()) -> dict[str, str]:
    """Rule id → description for the built-in pack plus `extra_packs` (cached per pack list)."""
    return _descriptions(tuple(str(p) for p in extra_packs))


def readable(rule_id: str) -> str:
    """A rule id as words when the pack gives no description (`ca.detainer_hold` → …)."""
    tail = rule_id.split(".", 1)[-1]
    return tail.replace("_", " ").replace("-", " ").strip() or rule_id


def rule_id(value: Any) -> str:
    """The id of a rule as the explanation stores it (a string or a dict with one)."""
    if isinstance(value, dict):
        for key in ("id", "rule", "name"):
            if isinstance(value.get(key), str):
                return str(value[key])
        return ""
    return str(value) if value is not None else ""


def explain_rules(rules: Iterable[Any], descriptions: dict[str, str]) -> list[tuple[str, str]]:
    """(plain-language reason, rule id) for each fired rule, without repeats."""
    out: dict[str, str] = {}
    for value in rules:
        ident = rule_id(value)
        if ident and ident not in out:
            out[ident] = descriptions.get(ident) or readable(ident)
    return [(text, ident) for ident, text in out.items()]


_BRACKETS = (("(", ")"), ("[", "]"))


def whole_term(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a mark to the whole term: to word ends and through a bracket it opened ("287(g)")."""
    start, end = max(0, start), min(len(text), end)
    if start >= end:
        return start, end
    while end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    while start > 0 and text[start].isalnum() and text[start - 1].isalnum():
        start -= 1
    piece = text[start:end]
    for opening, closing in _BRACKETS:
        if piece.count(opening) > piece.count(closing):
            close = text.find(closing, end, end + 12)
            if close != -1 and not any(ch.isspace() for ch in text[end:close]):
                end = close + 1
    return start, end


def whole_marks(text: str, marks: Iterable[Sequence[int]]) -> list[tuple[int, int]]:
    """Every well-formed mark widened by `whole_term` (malformed ones are dropped)."""
    out = []
    for mark in marks:
        try:
            start, end = int(mark[0]), int(mark[1])
        except (TypeError, ValueError, IndexError):
            continue
        out.append(whole_term(text, start, end))
    return out
