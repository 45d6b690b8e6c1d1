"""Tokenising for the matcher: Unicode word tokens with offsets, folded forms and sentence ids.

Tokens are runs of letters/digits (`[^\\W_]+`), so "police" never yields "ice", hyphens and
apostrophes split ("anti-sanctuary" → anti, sanctuary; "ICE’s" → ICE, with the possessive "s"
dropped), and "287(g)" / "287 (g)" / "287g" become the single token "287(g)". Matching forms are
lower-cased and accent-folded (NFD, combining marks removed), so "inmigración" = "inmigracion".
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from functools import lru_cache
from itertools import accumulate
from operator import add

_TOKEN = re.compile(r"287\s?\(\s?[gG]\s?\)|[^\W_]+")
# A sentence ends at . ! ? … (plus closing quotes/brackets) before whitespace, or at a newline.
_SENT_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)|\n")
_ABBREVIATIONS = frozenset(
    re.findall(
        r"\w+",
        "mr mrs ms dr gov sen rep st jr sr lt sgt det capt col gen atty asst dept no vs inc co "
        "corp ave mt ft rev hon jan feb mar apr jun jul aug sep sept oct nov dec sra dra lic",
    )
)


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Lower-case and strip accents (NFD, combining marks removed)."""
    low = word.lower()
    if low.isascii():
        return low
    decomposed = unicodedata.normalize("NFD", low)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize_token(raw: str) -> str:
    """The matching form of one token."""
    low = raw.lower()
    if low.startswith("287") and (low == "287g" or "(" in low):
        return "287(g)"
    return low if low.isascii() else fold(low)


def clean_text(text: str) -> str:
    """Remove soft hyphens (for pack terms; document text keeps them, to keep offsets)."""
    if "\xad" in text:
        return text.replace("\xad", "")
    return text


def term_tokens(term: str) -> tuple[str, ...]:
    """The matching-form tokens of a pack term (same rules as document text)."""
    return tuple(normalize_token(m.group()) for m in _TOKEN.finditer(clean_text(term)))


_SPLIT = re.compile(r"([^\W_]+)")
_SPLIT_SOFT = re.compile(r"([^\W_](?:[^\W_]|\xad)*)")  # "Immi\xadgration" stays one word
_POSSESSIVE = re.compile(r"(?<=\w)['’ʼ][sS]\b")
_G287 = re.compile(r"287\s?\(\s?[gG]\s?\)")


class FieldTokens:
    """One document field (title or text) tokenised; positions are computed on demand."""

    __slots__ = ("_bounds", "_cum", "_pos", "field", "joined", "norm", "text")

    def __init__(self, text: str, field: str) -> None:
        self.text = text
        self.field = field
        soft = "\xad" in text
        work = text
        if "'" in work or "’" in work or "ʼ" in work:
            work = _POSSESSIVE.sub("  ", work)  # same length: offsets stay valid
        if "287" in work:
            work = _G287.sub(lambda m: "287g".ljust(len(m.group())), work)
        parts = (_SPLIT_SOFT if soft else _SPLIT).split(work)
        raw = [t.replace("\xad", "") for t in parts[1::2]] if soft else parts[1::2]
        self._cum = list(accumulate(map(len, parts), initial=0))
        spaced = " ".join(raw)
        low = spaced.lower()
        if len(low) == len(spaced):
            norm = low.split(" ") if raw else []
            if not low.isascii():
                norm = [t if t.isascii() else fold(t) for t in norm]
        else:
            norm = [normalize_token(t) for t in raw]
        if "287g" in low:
            norm = ["287(g)" if t == "287g" else t for t in norm]
        self.norm = norm
        self.joined = " " + " ".join(norm) + " "
        prefix = accumulate(map(len, norm), initial=0)
        self._pos = list(map(add, prefix, range(1, len(norm) + 1)))
        self._bounds: list[int] | None = None

    def __len__(self) -> int:
        return len(self.norm)

    def token_at(self, joined_offset: int) -> int:
        """The index of the token that starts at this offset of `joined`."""
        return bisect_left(self._pos, joined_offset)

    def start(self, i: int) -> int:
        """Character offset where token i starts."""
        return self._cum[2 * i + 1]

    def end(self, i: int) -> int:
        """Character offset where token i ends."""
        return self._cum[2 * i + 2]

    def raw(self, i: int) -> str:
        """Token i as written (soft hyphens removed)."""
        return self.text[self._cum[2 * i + 1] : self._cum[2 * i + 2]].replace("\xad", "")

    def sent(self, i: int) -> int:
        """The sentence number of token i."""
        if self._bounds is None:
            self._bounds = sentence_bounds(self.text)
        return bisect_right(self._bounds, self._cum[2 * i + 1])

    def shouting(self, i: int) -> bool:
        """Whether the words around token i are all capitals (a headline in caps)."""
        near = [self.raw(j) for j in range(max(0, i - 2), min(len(self.norm), i + 3)) if j != i]
        words = [w for w in near if w.isalpha() and len(w) > 1]
        return len(words) >= 2 and all(w.isupper() for w in words)


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    j = dot
    while j > 0 and dot - j < 6 and text[j - 1].isalpha():
        j -= 1
    word = text[j:dot]
    return len(word) == 1 or word.lower() in _ABBREVIATIONS


def sentence_bounds(text: str) -> list[int]:
    """Offsets where sentences end (abbreviations such as "Gov." and "U.S." do not end one)."""
    return [m.end() for m in _SENT_END.finditer(text) if not _is_abbreviation(text, m.start())]


def tokenize(text: str, field: str) -> FieldTokens:
    """Tokenise one field."""
    return FieldTokens(text, field)


_VOWELS = frozenset("aeiou")


def _plural(w: str) -> str:
    if w.endswith("y") and len(w) > 1 and w[-2] not in _VOWELS:
        return w[:-1] + "ies"
    if w.endswith(("s", "x", "z", "ch", "sh")):
        return w + "es"
    return w + "s"


def _doubles(w: str) -> bool:
    """Whether a short CVC verb doubles its last consonant (nab → nabbed)."""
    return (
        len(w) >= 3
        and w[-1] not in _VOWELS
        and w[-1] not in "wxy"
        and w[-2] in _VOWELS
        and w[-3] not in _VOWELS
    )


def _verb_forms(w: str) -> set[str]:
    forms = {w, _plural(w)}
    if w.endswith("e"):
        forms |= {w + "d", (w[:-2] + "ying") if w.endswith("ie") else (w[:-1] + "ing")}
        if w.endswith("ee"):
            forms.add(w + "ing")
    elif w.endswith("y") and len(w) > 1 and w[-2] not in _VOWELS:
        forms |= {w[:-1] + "ied", w + "ing"}
    else:
        forms |= {w + "ed", w + "ing"}
        if _doubles(w):
            forms |= {w + w[-1] + "ed", w + w[-1] + "ing"}
    return forms


def inflections(tokens: tuple[str, ...], mode: str) -> set[tuple[str, ...]]:
    """English inflected variants: `noun` inflects the last word, `verb` the first."""
    if not tokens or mode == "none" or not tokens[-1].isalpha():
        return {tokens}
    if mode == "noun":
        head = tokens[-1]
        return {tokens, (*tokens[:-1], _plural(head))}
    head = tokens[0]
    if not head.isalpha():
        return {tokens}
    return {(form, *tokens[1:]) for form in _verb_forms(head)}
