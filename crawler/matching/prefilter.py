"""A raw-bytes prefilter: one cheap pass decides whether extraction and matching can pay.

It is derived from the compiled rules so it can never drop a page the matcher would match:
a rule fires only where a term of each required group occurs, so a page passes when, for some
rule, every (selective) requirement has one of its terms' words somewhere in the page. A term
is there when all its words (but a few stopwords) are, each as a whole word — the matcher only
ever sees whole words, and as substrings "migra" is in every "immigration" and "order" in every
"border". Whole words are looked for in a text view of the page that errs on the loose side:
tags removed (`Immi<b>gration</b>` is one word) and, separately, tags as word breaks
(`Latest</h2><p>migra`), numeric entities and soft hyphens resolved (`&#73;CE`,
`Immi&shy;gration`), JSON-LD escapes read (`inmigraci\\u00f3n`), Latin accents folded
(`inmigración` and `inmigracion` are one word), and every byte outside [a-z0-9] a word break.
The check is on presence anywhere, never on distance: extraction drops boilerplate between
two words, so no distance in the page bounds their distance in the article. Acronyms ("ICE")
are checked case-sensitively.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
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
_SPACE = rb"(?:\s|\xc2\xa0|&nbsp;|&#160;|&#xa0;)?\x01*"
_G287 = re.compile(rb"\x01*".join([rb"287", _SPACE + rb"\(", _SPACE + rb"[gG]", _SPACE + rb"\)"]))
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


_MARK = b"\x01"  # where a tag stood: extraction may or may not put a word break there


def _marked_view(raw: bytes) -> tuple[bytes, bytes]:
    """The normalised text view with every tag as a marker byte, and the de-scripted HTML."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 is not ASCII-compatible: re-encode
        raw = raw.decode("utf-16", "replace").encode("utf-8")
    html = b"".join(_cut_blocks(raw))
    text = _TAG.sub(_MARK, html.replace(_MARK, b" "))
    return normalise(text + b"\n" + b"\n".join(_META.findall(raw))), html


_ESCAPED_RUN = re.compile(rb"[&\\]([a-z0-9]+)")
_WORD_KEY = re.compile(r"[a-z0-9]+")
# Every byte but [a-z0-9] (and upper case, which `lower()` removed first) becomes a space.
_SPACES = bytes(c if chr(c).isascii() and chr(c).isalnum() and not chr(c).isupper() else 32
                for c in range(256))  # fmt: skip


def word_views(low: bytes) -> list[str]:
    """A lower-cased marked view as space-separated words, for whole-word lookups of ` key `.

    A word is a run of [a-z0-9]; any other byte separates (other letters only loosen the scan).
    Twice: with tags removed (`Immi<b>gration</b>` is one word) and, where the page has tags,
    with tags as breaks (`Latest</h2><p>migra`: extraction may start a word where a tag stood).
    """
    joined = low.replace(_MARK, b"")
    views = [b" " + joined.translate(_SPACES) + b" "]
    if len(joined) != len(low):
        views.append(b" " + low.translate(_SPACES) + b" ")
    return [v.decode("latin-1") for v in views]


def escaped_words(joined: bytes) -> set[bytes]:
    """Words that may start inside a run after `&` or a backslash: `&ampmigra` is `&` then
    `migra` to an HTML parser, and JSON-LD's `\\nmigra` is a newline then `migra`."""
    return {run[i:] for run in _ESCAPED_RUN.findall(joined) for i in range(1, len(run))}


def page_views(raw: bytes) -> tuple[bytes, bytes]:
    """What extraction can turn into title or text (visible text with tags removed, so
    `Immi<b>gration</b>` is whole again, plus JSON-LD and meta tags), normalised; and the
    de-scripted HTML, for the rare second look with tags as spaces."""
    marked, html = _marked_view(raw)
    return marked.replace(_MARK, b""), html


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


def term_keys(tokens: Sequence[str]) -> frozenset[str]:
    """The words of a term worth looking for (all must be in a page that has the term)."""
    keys = set()
    for token in tokens:
        word = "287g" if token == G287_FORM else token
        if not word.isascii():
            word = word.encode("utf-8").decode("latin-1")
        if len(word) >= MIN_KEY and word not in STOPWORDS:
            keys.add(word)
    return frozenset(keys)


@dataclass(frozen=True)
class _Group:
    """How a group shows in a page: any key set all present, or any acronym."""

    keysets: tuple[frozenset[str], ...]
    acronyms: tuple[bytes, ...]

    @property
    def free(self) -> bool:
        """A term with no rare word: the group may be in any page."""
        return any(not keys for keys in self.keysets)

    @cached_property
    def singles(self) -> frozenset[str]:
        """Keys that alone show the group."""
        return frozenset(next(iter(k)) for k in self.keysets if len(k) == 1)

    @cached_property
    def multi(self) -> dict[str, list[frozenset[str]]]:
        """Key sets of several words, indexed by each of their words."""
        index: dict[str, list[frozenset[str]]] = {}
        for keys in self.keysets:
            if len(keys) > 1:
                for key in keys:
                    index.setdefault(key, []).append(keys)
        return index

    def present(self, found: set[str], acronyms: set[bytes]) -> bool:
        """Whether the page may contain the group."""
        if any(a in acronyms for a in self.acronyms) or not self.singles.isdisjoint(found):
            return True
        multi = self.multi
        return any(keys <= found for key in found if key in multi for keys in multi[key])


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
            keysets = {term_keys(tokens) for tokens, exact in forms if exact is None}
            acronyms = tuple(sorted({exact.encode() for _, exact in forms if exact}))
            self._groups[gi] = _Group(_minimal(keysets), acronyms)
        self._rules: list[tuple[Rule, list[tuple[int, ...]]]] = []
        for rule in rules:
            reqs = [tuple(sorted(r)) for r in (*rule.require, *rule.context)]
            selective = [r for r in reqs if not any(self._groups[g].free for g in r)]
            self._rules.append((rule, selective))
        used = {g for _, reqs in self._rules for r in reqs for g in r}
        keys = {k for g in used for ks in self._groups[g].keysets for k in ks}
        self._acronyms = sorted({a for g in used for a in self._groups[g].acronyms})
        # Keys are looked up as whole words (` key ` in `word_views`); a key with characters
        # beyond [a-z0-9] (a letter no accent folding reaches) is looked for as a substring.
        self._word_keys = {k for k in keys if _WORD_KEY.fullmatch(k)}
        self._other_keys = sorted(keys - self._word_keys)
        automaton: Any = ahocorasick.Automaton()
        for key in self._word_keys:
            automaton.add_word(f" {key} ", key)
        if self._word_keys:
            automaton.make_automaton()
        self._automaton = automaton if self._word_keys else None

    @property
    def terms(self) -> list[str]:
        """Every word the scan looks for (acronyms as written)."""
        words = {k for g in self._groups.values() for ks in g.keysets for k in ks}
        return sorted(words | {a.decode() for a in self._acronyms})

    @property
    def unfiltered_rules(self) -> list[str]:
        """Rules with no rare word to look for: while any exists, every page passes."""
        return [rule.id for rule, reqs in self._rules if not reqs]

    def scan(self, raw: bytes) -> PrefilterResult:
        """Pass the page when some rule has a key word of every requirement in it."""
        if not raw:
            return PrefilterResult(False, "empty page", ())
        marked, html = _marked_view(raw)
        view = marked.replace(_MARK, b"")
        acronyms = {a for a in self._acronyms if _acronym_present(view, html, a)}
        low = marked.lower()
        found: set[str] = set()
        if self._automaton is not None:
            for text in word_views(low):
                found.update(key for _end, key in self._automaton.iter(text))
            if b"&" in view or b"\\" in view:
                extra = escaped_words(low.replace(_MARK, b"")) - {k.encode() for k in found}
                found.update(w.decode() for w in extra if w.decode() in self._word_keys)
        if self._other_keys:
            text = low.replace(_MARK, b"").decode("latin-1")
            found.update(k for k in self._other_keys if k in text)
        hits = tuple(sorted(found | {a.decode() for a in acronyms}))
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
