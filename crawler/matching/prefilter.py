"""A raw-bytes prefilter: one cheap pass decides whether extraction and matching can pay.

It is derived from the compiled rules so that it does not drop a page the matcher would match:
a rule fires only where a term of each required group occurs, so a page passes when, for some
rule, every (selective) requirement has one of its terms somewhere in the page. A term is
looked for as the matcher sees it: its words, whole and in order (` immigration agents `), in
the page's text read as words — the matcher only ever sees whole words, and as substrings
"migra" is in every "immigration" and "order" in every "border"; as scattered words
"immigration" and "agents" are in most politics pages.

The text is read loosely, so as to see every way extraction may render it: scripts and styles
cut (JSON-LD kept and unescaped: it may hold the title), numeric entities and soft hyphens
resolved (`&#73;CE`, `Immi&shy;gration`), entities that stand for punctuation as spaces (also
the few a parser reads without a semicolon), a possessive 's dropped as the matcher drops it,
Latin accents folded (`inmigración` is `inmigracion`), any byte outside [a-z0-9] a word
break; and twice: with every tag removed (`Immi<b>gration</b>` is one word) and with inline
tags removed but every other tag a break (`Latest</h2><p>migra`, `Immigration</p><p>agents`).
Terms with letters beyond that (no accent folding reaches them) are looked for by their words,
anywhere, as substrings. Acronyms ("ICE") are checked case-sensitively.

What it assumes of extraction: the words of one term that are next to each other in the
article were next to each other in the page — extraction removes whole elements, and a term
split by an element it drops (an ad between the last word of one paragraph and the first of
the next) would be missed. `tests/test_prefilter.py` renders matching stories in many markups
(entities, tag-split words, line breaks, inline and block tags) and checks that each passes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import ahocorasick

from crawler.matching.keywords import Lexicon
from crawler.matching.model import PrefilterResult
from crawler.matching.rules import Rule

_TAG = re.compile(rb"<[^>]*>")
_INLINE_TAG = re.compile(
    rb"</?(?:a|abbr|b|bdi|bdo|cite|code|data|dfn|em|font|i|kbd|mark|q|s|samp|small|span|strong"
    rb"|sub|sup|time|u|var)\b[^>]*>",
    re.IGNORECASE,
)
_ENTITY = re.compile(
    rb"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|(shy|[a-zA-Z](?:acute|grave|circ|uml|tilde|cedil)));?"
)
_UTF8_LATIN = re.compile(rb"\xc3[\x80-\xbf]")
_SPACE = rb"(?:\s|\xc2\xa0|&nbsp;|&#160;|&#xa0;)?"
_G287 = re.compile(rb"287" + _SPACE + rb"\(" + _SPACE + rb"[gG]" + _SPACE + rb"\)")
_ACRONYM_BOUNDARY = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
G287_FORM = "287(g)"
MIN_KEY = 3  # "de", "la", "of": in every page, looking for them filters nothing
# Words in nearly every page, dozens of times: looking for them filters nothing and costs time.
# fmt: off
STOPWORDS = frozenset((
    "the", "and", "for", "are", "was", "with", "from", "this", "that", "not", "but", "you", "his",
    "her", "its", "our", "out", "has", "had", "who", "all", "del", "los", "las", "una", "por",
    "con", "para", "que", "mas", "sus", "les",
))
# fmt: on


def _fold_char(ch: str) -> bytes:
    base = unicodedata.normalize("NFD", ch)[0]
    return base.encode() if base.isascii() and base.isalpha() else b""


def _latin1_table() -> bytes:
    table = bytearray(range(256))
    for b in range(0xC0, 0x100):
        folded = _fold_char(chr(b))
        if folded:
            table[b] = folded[0]
    return bytes(table)


_LATIN1 = _latin1_table()
_UTF8_FOLD = {
    bytes([0xC3, b]): _fold_char(chr(0xC0 + b - 0x80)) or bytes([0xC3, b])
    for b in range(0x80, 0xC0)
}


def _entity(m: re.Match[bytes]) -> bytes:
    dec, hexa, name = m.groups()
    if name is not None:
        return b"" if name == b"shy" else name[:1]  # &oacute; → o
    code = int(dec) if dec is not None else int(hexa, 16)
    if code == 0xAD:
        return b""
    if code < 0x80:
        return bytes([code])
    try:
        ch = chr(code)
    except (ValueError, OverflowError):
        return b""
    return _fold_char(ch) or ch.encode("utf-8", "replace")


def normalise(data: bytes) -> bytes:
    """Resolve numeric entities and soft hyphens, fold Latin accents (bytes stay bytes)."""
    if b"287" in data:
        data = _G287.sub(b"287g", data)  # the matcher's "287(g)" token, however spaced
    if b"&" in data:
        data = _ENTITY.sub(_entity, data)
    if b"\xc2\xad" in data:
        data = data.replace(b"\xc2\xad", b"")
    if b"\xc3" in data:
        data = _UTF8_LATIN.sub(lambda m: _UTF8_FOLD[m.group()], data)
    return data.translate(_LATIN1, b"\xad")


_JSON_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|[nrtbf])")


def _json_unescape(data: bytes) -> bytes:
    """JSON-LD as a JSON parser reads it: `\\u00f3` is ó and `\\n` a line break."""
    if b"\\" not in data:
        return data

    def one(m: re.Match[bytes]) -> bytes:
        if m.group(1) is None:
            return b" "
        return chr(int(m.group(1), 16)).encode("utf-8", "replace")

    return _JSON_ESCAPE.sub(one, data)


def _cut_blocks(raw: bytes) -> list[bytes]:
    """The page without <script> and <style> contents (JSON-LD kept: it may hold the title).

    Openings are looked for in lower case only: an upper-case <SCRIPT> merely stays in the
    view (harmless), while a closing tag is looked for in any case, so that no text after it
    is ever cut.
    """
    pieces: list[bytes] = []
    pos, end = 0, len(raw)
    low: bytes | None = None
    nxt = {b"script": raw.find(b"<script"), b"style": raw.find(b"<style")}
    while True:
        live = [(at, name) for name, at in nxt.items() if at >= 0]
        if not live:
            pieces.append(raw[pos:])
            return pieces
        start, name = min(live)
        pieces.append(raw[pos:start])
        opened = raw.find(b">", start)
        close = raw.find(b"</" + name, start)
        if close < 0:
            low = raw.lower() if low is None else low
            close = low.find(b"</" + name, start)
        if name == b"script" and 0 <= opened < close and b"ld+json" in raw[start:opened].lower():
            pieces.append(b" " + _json_unescape(raw[opened + 1 : close]) + b" ")
        pos = end if close < 0 else close + len(name) + 2
        for key, at in nxt.items():
            if 0 <= at < pos:
                nxt[key] = raw.find(b"<" + key, pos)


_META = re.compile(rb"<meta\b[^>]*", re.IGNORECASE)


_KEY = itemgetter(1)  # (end, key) → key


# Inline tags on the lower-cased page (a case-sensitive pattern is twice as fast).
_INLINE_LOW = re.compile(
    rb"<(?=/?(?:a|abbr|b|bdi|bdo|cite|code|data|dfn|em|font|i|kbd|mark|q|s|samp|small|span"
    rb"|strong|sub|sup|time|u|var)\b)[^>]*>"
)


def _text_views(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """What extraction can turn into title or text (visible text, plus JSON-LD and meta tags),
    normalised, two ways: every tag removed (`Immi<b>gration</b>` is whole again; case kept,
    for acronyms), and lower-cased with inline tags removed but every other tag a word break
    (`Latest</h2><p>migra`, as extraction renders it); and the de-scripted HTML."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 is not ASCII-compatible: re-encode
        raw = raw.decode("utf-16", "replace").encode("utf-8")
    html = b"".join(_cut_blocks(raw))
    metas = b"\n" + b"\n".join(_META.findall(raw))
    joined = normalise(_TAG.sub(b"", html) + metas)
    broken = normalise(_TAG.sub(b" ", _INLINE_LOW.sub(b"", html.lower())) + metas).lower()
    return joined, broken, html


_WORD_KEY = re.compile(r"[a-z0-9]+")
# Every byte but [a-z0-9] (and upper case, which `lower()` removed first) becomes a space.
_SPACES = bytes(c if chr(c).isascii() and chr(c).isalnum() and not chr(c).isupper() else 32
                for c in range(256))  # fmt: skip
_GAPS = re.compile(rb"  +")
_APOSTROPHES = (b"&rsquo;", b"&apos;", b"&#x2019;")
# Named entities left after `normalise` read as a space (`immigration&nbsp;agents`), and so do
# the few an HTML parser reads without their semicolon (`&ampmigra` is `&` then `migra`).
_NAMED = re.compile(rb"&(?:[a-z][a-z0-9]{1,31};|(?:nbsp|amp|quot|lt|gt|copy|reg)(?![a-z0-9]*;))")
# The matcher drops a possessive 's ("ICE's agents" reads "ICE agents").
_POSSESSIVE = re.compile(rb"(?:'|\xe2\x80\x99|\xca\xbc)s(?![a-z0-9])")


def word_view(low: bytes) -> str:
    """A lower-cased text view as space-separated words, for lookups of ` w1 w2 … `.

    A word is a run of [a-z0-9]; any other byte separates (other letters only loosen the
    scan). Entities that stand for punctuation read as a space, as the parser reads them, and
    a possessive 's goes, as the matcher drops it.
    """
    if b"&" in low:
        for apostrophe in _APOSTROPHES:
            low = low.replace(apostrophe, b"'")
        low = _NAMED.sub(b" ", low)
    if b"'s" in low or b"\x99s" in low or b"\xbcs" in low:
        low = _POSSESSIVE.sub(b"  ", low)
    return _GAPS.sub(b" ", b" " + low.translate(_SPACES) + b" ").decode("latin-1")


def page_views(raw: bytes) -> tuple[bytes, bytes]:
    """The normalised text view with tags removed (see `_text_views`) and the de-scripted
    HTML, for the rare second look with tags as spaces."""
    joined, _broken, html = _text_views(raw)
    return joined, html


def page_view(raw: bytes) -> bytes:
    """The normalised text view of a page (see `page_views`)."""
    return page_views(raw)[0]


def _acronym_present(view: bytes, html: bytes, word: bytes) -> bool:
    """A whole-word acronym in the text view; where a letter precedes it ("NOTICE", or a word
    glued on by a removed block tag: "Latest</h2><p>I<b>CE</b>"), a second look at the page
    with inline tags removed and block tags as spaces, as extraction renders it."""
    if word not in view:
        return False
    if _has_word(view, word):
        return True
    return _has_word(normalise(_TAG.sub(b" ", _INLINE_TAG.sub(b"", html))), word)


def _word(token: str) -> str:
    """A matcher token as the page views spell it."""
    word = "287g" if token == G287_FORM else token
    return word if word.isascii() else word.encode("utf-8").decode("latin-1")


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

    def present(self, found: set[str], acronyms: set[bytes]) -> bool:
        """Whether the page may contain the group."""
        if any(a in acronyms for a in self.acronyms) or not self.phrases.isdisjoint(found):
            return True
        return any(keys <= found for keys in self.keysets)


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
        self._rules: list[tuple[Rule, list[tuple[int, ...]]]] = []
        for rule in rules:
            reqs = [tuple(sorted(r)) for r in (*rule.require, *rule.context)]
            selective = [r for r in reqs if not any(self._groups[g].free for g in r)]
            self._rules.append((rule, selective))
        used = {g for _, reqs in self._rules for r in reqs for g in r}
        self._acronyms = sorted({a for g in used for a in self._groups[g].acronyms})
        self._loose_keys = sorted({k for g in used for ks in self._groups[g].keysets for k in ks})
        phrases = {p for g in used for p in self._groups[g].phrases}
        automaton: Any = ahocorasick.Automaton()
        for phrase in phrases:
            automaton.add_word(phrase, phrase)
        if phrases:
            automaton.make_automaton()
        self._automaton = automaton if phrases else None

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

    def scan(self, raw: bytes) -> PrefilterResult:
        """Pass the page when some rule has a key word of every requirement in it."""
        if not raw:
            return PrefilterResult(False, "empty page", ())
        view, broken, html = _text_views(raw)
        acronyms = {a for a in self._acronyms if _acronym_present(view, html, a)}
        low = view.lower()
        found: set[str] = set()
        if self._automaton is not None:
            for seen in (low, broken):
                found.update(map(_KEY, self._automaton.iter(word_view(seen))))
        if self._loose_keys:
            text = low.decode("latin-1")
            found.update(k for k in self._loose_keys if k in text)
        hits = tuple(sorted({f.strip() for f in found} | {a.decode() for a in acronyms}))
        present: dict[int, bool] = {}

        def has(group: int) -> bool:
            if group not in present:
                present[group] = self._groups[group].present(found, acronyms)
            return present[group]

        best: tuple[int, str] = (-1, "")
        for rule, reqs in self._rules:
            missing = [
                "|".join(self._names[g] for g in req) for req in reqs if not any(map(has, req))
            ]
            if not missing:
                return PrefilterResult(True, f"{rule.topic}: {rule.id} has all its terms", hits)
            have = len(reqs) - len(missing)
            if have > best[0]:
                best = (have, f"closest: {rule.id} lacks {', '.join(missing)}")
        return PrefilterResult(False, f"no rule has all its terms ({best[1]})", hits)


def _has_word(data: bytes, word: bytes) -> bool:
    """Whether `word` occurs not preceded by a letter or digit ("ICE" but not "NOTICE")."""
    at = data.find(word)
    while at >= 0:
        if at == 0 or data[at - 1] not in _ACRONYM_BOUNDARY:
            return True
        at = data.find(word, at + 1)
    return False


def build_prefilter(lexicon: Lexicon, rules: Sequence[Rule]) -> Prefilter:
    """The prefilter for these rules."""
    return Prefilter(lexicon, rules)
