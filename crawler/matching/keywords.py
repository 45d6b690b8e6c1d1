"""Term groups compiled into one Aho-Corasick automaton over the joined token stream.

Keys are space-padded token sequences (" immigration agents "), matched against
" tok tok tok " built from the document's tokens, so every hit is whole words by construction:
"ice" can never match inside "police". Acronyms are checked against the raw token ("ICE" only
in capitals), and exclusion phrases cancel nearby hits of their group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import ahocorasick

from crawler.matching.pack import GroupSpec, MergedPack
from crawler.matching.text import FieldTokens, inflections, term_tokens


class Hit(NamedTuple):
    """One group hit: token range, sentence, field and character range."""

    group: int
    start: int
    end: int
    sent: int
    field: str
    cstart: int
    cend: int


@dataclass(frozen=True)
class Exclusion:
    """A compiled exclusion context of one group."""

    group: int
    within: int
    document: bool


@dataclass
class _Entry:
    length: int
    ntok: int
    terms: list[tuple[int, str | None]] = field(default_factory=list)
    exclusions: list[int] = field(default_factory=list)


def _key(tokens: Sequence[str]) -> str:
    return " " + " ".join(tokens) + " "


def group_forms(spec: GroupSpec) -> Iterable[tuple[tuple[str, ...], str | None]]:
    """Every token sequence a group spec matches, with the exact raw form for acronyms."""
    for term in spec.en:
        for form in inflections(term_tokens(term), spec.inflect):
            yield form, None
    for term in spec.es:
        yield term_tokens(term), None
    for acronym in spec.acronyms:
        yield term_tokens(acronym), acronym


def exclusion_forms(term: str) -> set[tuple[str, ...]]:
    """An exclusion phrase and its plural."""
    return inflections(term_tokens(term), "noun")


class Lexicon:
    """Compiled term groups: one automaton, the group names and their exclusions."""

    def __init__(self, pack: MergedPack) -> None:
        self.groups: list[str] = sorted(pack.groups)
        self.index: dict[str, int] = {name: i for i, name in enumerate(self.groups)}
        self.exclusions: list[Exclusion] = []
        self.forms: dict[int, set[tuple[tuple[str, ...], str | None]]] = defaultdict(set)
        entries: dict[str, _Entry] = {}

        def entry(tokens: tuple[str, ...]) -> _Entry:
            key = _key(tokens)
            if key not in entries:
                entries[key] = _Entry(len(key), len(tokens))
            return entries[key]

        for name in self.groups:
            gi = self.index[name]
            for spec in pack.groups[name]:
                for tokens, exact in group_forms(spec):
                    self.forms[gi].add((tokens, exact))
                    entry(tokens).terms.append((gi, exact))
                for excl in spec.exclude:
                    xi = len(self.exclusions)
                    self.exclusions.append(Exclusion(gi, excl.within, excl.scope == "document"))
                    for term in excl.terms:
                        for tokens in exclusion_forms(term):
                            entry(tokens).exclusions.append(xi)
        automaton: Any = ahocorasick.Automaton()
        for key, value in entries.items():
            automaton.add_word(
                key, (value.length, value.ntok, tuple(value.terms), value.exclusions)
            )
        automaton.make_automaton()
        self._automaton = automaton

    def scan(self, ft: FieldTokens) -> tuple[list[Hit], list[tuple[int, Hit]]]:
        """Raw hits and exclusion hits (exclusion id, span) in one field."""
        hits: list[Hit] = []
        excl: list[tuple[int, Hit]] = []
        name = ft.field
        for end_char, (length, ntok, terms, exclusions) in self._automaton.iter(ft.joined):
            i = ft.token_at(end_char - length + 2)
            j = i + ntok
            span: Hit | None = None
            for gi, exact in terms:
                if exact is not None and (ft.raw(i) != exact or ft.shouting(i)):
                    continue
                if span is None:
                    span = Hit(gi, i, j, -1, name, ft.start(i), ft.end(j - 1))
                    hits.append(span)
                else:
                    hits.append(span._replace(group=gi))
            for xi in exclusions:
                span = span or Hit(-1, i, j, -1, name, ft.start(i), ft.end(j - 1))
                excl.append((xi, span))
        return hits, excl

    def find(self, fields: Sequence[FieldTokens]) -> list[Hit]:
        """Group hits across fields, after exclusions and de-duplication (sentences unset)."""
        hits: list[Hit] = []
        excl: list[tuple[int, Hit]] = []
        for ft in fields:
            h, x = self.scan(ft)
            hits.extend(h)
            excl.extend(x)
        if excl:
            hits = self._apply_exclusions(hits, excl)
        hits.sort(key=lambda h: (h.field, h.group, h.start, -h.end))
        kept: list[Hit] = []
        for hit in hits:
            last = kept[-1] if kept else None
            if (
                last is not None
                and last.field == hit.field
                and last.group == hit.group
                and hit.end <= last.end
            ):
                continue  # contained in a longer hit of the same group
            kept.append(hit)
        return kept

    def _apply_exclusions(self, hits: list[Hit], excl: list[tuple[int, Hit]]) -> list[Hit]:
        dead_groups = {self.exclusions[xi].group for xi, _ in excl if self.exclusions[xi].document}
        near: dict[int, list[tuple[Hit, int]]] = defaultdict(list)
        for xi, span in excl:
            rule = self.exclusions[xi]
            if not rule.document:
                near[rule.group].append((span, rule.within))

        def cancelled(hit: Hit) -> bool:
            if hit.group in dead_groups:
                return True
            for span, within in near.get(hit.group, ()):
                if span.field == hit.field:
                    gap = max(0, hit.start - span.end, span.start - hit.end)
                    if gap <= within and (
                        within > 0 or (span.start < hit.end and hit.start < span.end)
                    ):
                        return True
            return False

        return [h for h in hits if not cancelled(h)]


def with_sentences(hits: Sequence[Hit], fields: dict[str, FieldTokens]) -> list[Hit]:
    """The hits with their sentence numbers filled in (computed only when rules need them)."""
    return [h._replace(sent=fields[h.field].sent(h.start)) for h in hits]
