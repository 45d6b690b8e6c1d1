"""A raw-bytes prefilter: one cheap pass decides whether extraction and matching can pay.

It is derived from the compiled rules so that it does not drop a page the matcher would match:
a rule fires only where a term of each required group occurs, so a page passes when, for some
rule, every (selective) requirement has one of its terms somewhere in the page. A term is
looked for as the matcher sees it: its words, whole and in order (` immigration agents `), in
the page's text read as words — the matcher only ever sees whole words, and as substrings
"migra" is in every "immigration" and "order" in every "border"; as scattered words
"immigration" and "agents" are in most politics pages.

The text is read loosely, so as to see every way extraction may render it, and never glued
where the matcher breaks: `crawler.matching.pageview` (scripts cut, entities and accents
resolved, typographic punctuation a break, tags read both as nothing and as breaks, a
possessive 's dropped). Terms with letters beyond [a-z0-9] (no accent folding reaches them)
are looked for by their words, anywhere, as substrings. Acronyms ("ICE") are checked
case-sensitively, as whole words. The feed title, which the match stage falls back on, is read
as a document of its own beside the page: the matcher never joins title and text.

What it assumes of extraction: the words of one term that are next to each other in the
article were next to each other in the page — extraction removes whole elements, and a term
split by an element it drops (an ad between the last word of one paragraph and the first of
the next) would be missed. `tests/test_prefilter.py` renders matching stories in many markups
(entities, tag-split words, line breaks, inline and block tags) and checks that each passes.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import ahocorasick

from crawler.matching.keywords import Lexicon
from crawler.matching.model import PrefilterResult
from crawler.matching.pageview import G287_FORM, TextViews, page_views
from crawler.matching.rules import Rule

_WORD_KEY = re.compile(r"[a-z0-9]+")
MIN_KEY = 3  # "de", "la", "of": in every page, looking for them filters nothing
# Words in nearly every page, dozens of times: looking for them filters nothing and costs time.
# fmt: off
STOPWORDS = frozenset((
    "the", "and", "for", "are", "was", "with", "from", "this", "that", "not", "but", "you", "his",
    "her", "its", "our", "out", "has", "had", "who", "all", "del", "los", "las", "una", "por",
    "con", "para", "que", "mas", "sus", "les",
))
# fmt: on
_KEY = itemgetter(1)  # (end, key) → key


def _word(token: str) -> str:
    """A matcher token as the page views spell it."""
    return "287g" if token == G287_FORM else token


def term_keys(tokens: Sequence[str]) -> frozenset[str]:
    """The words of a term worth looking for (all must be in a page that has the term)."""
    return frozenset(w for w in map(_word, tokens) if len(w) >= MIN_KEY and w not in STOPWORDS)


def term_phrase(tokens: Sequence[str]) -> str | None:
    """` w1 w2 … `: how a term made of [a-z0-9] words shows in a word view (None for a term
    with other letters, which is looked for by its words instead)."""
    words = [_word(t) for t in tokens]
    if not words or not all(_WORD_KEY.fullmatch(w) for w in words):
        return None
    return " " + " ".join(words) + " "


@dataclass(frozen=True)
class _Group:
    """How a group shows in a page: any of its phrases, any loose key set all present (terms
    with letters beyond [a-z0-9]), or any acronym."""

    phrases: frozenset[str]
    keysets: tuple[frozenset[str], ...]
    acronyms: tuple[bytes, ...]

    @property
    def free(self) -> bool:
        """A term with no rare word: the group may be in any page."""
        return any(not keys for keys in self.keysets)


def _minimal(keysets: set[frozenset[str]]) -> tuple[frozenset[str], ...]:
    ordered = sorted(keysets, key=len)
    kept: list[frozenset[str]] = []
    for keys in ordered:
        if not any(k <= keys for k in kept):
            kept.append(keys)
    return tuple(kept)


class Prefilter:
    """Decides from raw page bytes whether any rule could fire on the article."""

    def __init__(self, lexicon: Lexicon, rules: Sequence[Rule]) -> None:
        self._names = lexicon.groups
        self._groups: dict[int, _Group] = {}
        for gi, forms in lexicon.forms.items():
            words = [tokens for tokens, exact in forms if exact is None]
            phrases = {term_phrase(tokens) for tokens in words}
            loose = {term_keys(tokens) for tokens in words if term_phrase(tokens) is None}
            acronyms = tuple(sorted({exact.encode() for _, exact in forms if exact}))
            self._groups[gi] = _Group(frozenset(p for p in phrases if p), _minimal(loose), acronyms)
        self._rules: list[tuple[Rule, list[frozenset[int]]]] = []
        for rule in rules:
            reqs = [*rule.require, *rule.context]
            selective = [r for r in reqs if not any(self._groups[g].free for g in r)]
            self._rules.append((rule, selective))
        used = sorted({g for _, reqs in self._rules for r in reqs for g in r})
        # what each finding shows: the groups of a phrase, of an acronym, of a loose key set
        self._by_phrase: dict[str, set[int]] = defaultdict(set)
        self._by_acronym: dict[bytes, set[int]] = defaultdict(set)
        self._by_keys: list[tuple[frozenset[str], int]] = []
        for g in used:
            for phrase in self._groups[g].phrases:
                self._by_phrase[phrase].add(g)
            for acronym in self._groups[g].acronyms:
                self._by_acronym[acronym].add(g)
            self._by_keys.extend((keys, g) for keys in self._groups[g].keysets)
        self._acronyms = sorted(self._by_acronym)
        # an acronym is a word of the word views ("ICE" reads " ice "): the one pass finds where
        # it may be, and the case is checked there
        self._acronym_words = {f" {a.decode().lower()} ": a for a in self._acronyms}
        self._loose_keys = sorted({k for keys, _ in self._by_keys for k in keys})
        keys = set(self._by_phrase) | set(self._acronym_words)
        self._automaton = _automaton(keys)
        self._reach = max(map(len, keys), default=0)

    @property
    def terms(self) -> list[str]:
        """Every word the scan looks for (acronyms as written)."""
        words = {w for g in self._groups.values() for p in g.phrases for w in p.split()}
        words |= {k for g in self._groups.values() for ks in g.keysets for k in ks}
        return sorted(words | {a.decode() for a in self._acronyms})

    @property
    def unfiltered_rules(self) -> list[str]:
        """Rules with no rare word to look for: while any exists, every page passes."""
        return [rule.id for rule, reqs in self._rules if not reqs]

    def scan(self, raw: bytes, title: str | None = None) -> PrefilterResult:
        """Pass the page when some rule has a key word of every requirement in it, or in
        `title` (the item's feed title, which the match stage falls back on)."""
        views = page_views(raw) if raw else []
        if title:
            views += page_views(
                b"<title>" + html.escape(title).encode("utf-8", "replace") + b"</title>"
            )
        if not views:
            return PrefilterResult(False, "empty page", ())
        found, acronyms = self._evidence(views)
        hits = tuple(sorted({f.strip() for f in found} | {a.decode() for a in acronyms}))
        present: set[int] = set().union(
            *map(self._by_acronym.__getitem__, acronyms),
            *map(self._by_phrase.__getitem__, self._by_phrase.keys() & found),
        )
        present.update(g for keys, g in self._by_keys if keys <= found)
        best: tuple[int, Rule | None, list[frozenset[int]]] = (-1, None, [])
        for rule, reqs in self._rules:
            have = len(reqs) - sum(map(present.isdisjoint, reqs))
            if have == len(reqs):
                return PrefilterResult(True, f"{rule.topic}: {rule.id} has all its terms", hits)
            if have > best[0]:
                best = (have, rule, reqs)
        _, closest, reqs = best
        missing = [
            "|".join(self._names[g] for g in sorted(r)) for r in reqs if present.isdisjoint(r)
        ]
        reason = f"closest: {closest.id} lacks {', '.join(missing)}" if closest else ""
        return PrefilterResult(False, f"no rule has all its terms ({reason})", hits)

    def _evidence(self, views: Iterable[TextViews]) -> tuple[set[str], set[bytes]]:
        """The phrases and loose keys found in any of the views, and the acronyms."""
        found: set[str] = set()
        acronyms: set[bytes] = set()
        for view in views:
            seen: set[str] = set()
            if self._automaton is not None:
                for words in view.words(self._reach):
                    if words is not None:
                        seen.update(map(_KEY, self._automaton.iter(words)))
            for key in seen.intersection(self._acronym_words):
                acronym = self._acronym_words[key]
                if acronym not in acronyms and view.acronym(acronym):
                    acronyms.add(acronym)
            found.update(seen.intersection(self._by_phrase))
            if self._loose_keys:
                text = view.folded()
                found.update(k for k in self._loose_keys if k in text)
        return found, acronyms


def _automaton(keys: Iterable[str]) -> Any:
    """An Aho-Corasick automaton that reports each key found (None when there is none)."""
    automaton: Any = ahocorasick.Automaton()
    for key in set(keys):
        automaton.add_word(key, key)
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


def build_prefilter(lexicon: Lexicon, rules: Sequence[Rule]) -> Prefilter:
    """The prefilter for these rules."""
    return Prefilter(lexicon, rules)
