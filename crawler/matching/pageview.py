"""Raw page bytes read as the matcher will see their words, for the prefilter.

The views must never lose a word the matcher sees, and they must never glue one either: the
matcher's tokens are runs of Unicode letters and digits, accent-folded and lower-cased, so
every character the matcher reads as a break ("’", "—", a no-break space) must stay a break
here, and every letter that folds to ASCII ("ó", "ǎ", "ạ") must become it. Words are read
from bytes, never decoded whole (that costs more than the rest of the scan):

- a page that is valid UTF-8 is read as UTF-8: sequences of the letters that fold to ASCII
  are folded, and every other non-ASCII byte stays as it is, which the word view reads as a
  break (other letters only split words the matcher keeps whole: it may pass more, never
  less). A page that is not valid UTF-8 is read twice, as UTF-8 and as windows-1252, and
  whatever either reading holds counts (the matcher decodes it by its header or detection).
- entities are resolved as an HTML5 parser (lxml) resolves them, the no-semicolon legacy
  forms included (`&ampmigra` is `&migra`); `&lt;`, `&gt;` and `&amp;` become breaks, so that
  no resolved character can make a tag; a soft hyphen (`Immi&shy;gration`) joins.
- <script> and <style> contents are cut (JSON-LD kept and unescaped: it may hold the
  headline), and of <meta> tags only the `content` values are kept: that is all extraction
  reads of them (the title); their attribute names ("name", "content") are in every page.
- tags are read twice: all removed (`Immi<b>gration</b>` is one word; case kept, for
  acronyms) and inline tags removed with every other tag a break (`Latest</h2><p>migra`).
"""

from __future__ import annotations

import html as htmllib
import html.entities
import re
import unicodedata
from functools import lru_cache

from crawler.matching.text import fold

# ----------------------------------------------------------------------------- characters
_WORD_CHAR = re.compile(r"[^\W_]")  # the matcher's token characters
_APOSTROPHES = frozenset("'\u2019\u02bc")  # the matcher drops a possessive 's after these
# a resolved entity must not open a tag or another entity, nor be a tag mark
_NOT_IN_TEXT = frozenset("<>&\x00")


@lru_cache(maxsize=8192)
def char_bytes(ch: str) -> bytes:
    """One character as the views spell it: an ASCII letter for a letter that folds to one
    (case kept), its UTF-8 for other letters, a space for a break, nothing for a soft hyphen."""
    if ch == "\xad":
        return b""
    if ch in _APOSTROPHES:
        return b"'"
    if ch in _NOT_IN_TEXT:
        return b" "
    if ch.isascii():
        return ch.encode()
    if not _WORD_CHAR.match(ch):
        return b" "
    folded = fold(ch)
    if folded.isascii() and folded.isalnum():
        return (folded.upper() if ch != ch.lower() else folded).encode()
    return ch.encode("utf-8")


def _chars(text: str) -> bytes:
    return b"".join(map(char_bytes, text))


def _fold_table() -> dict[bytes, bytes]:
    """UTF-8 sequences of the letters that fold to ASCII (none is above U+3000: a test checks)."""
    table: dict[bytes, bytes] = {}
    for code in range(0x80, 0x3000):
        ch = chr(code)
        if 0xD800 <= code < 0xE000:
            continue
        out = char_bytes.__wrapped__(ch)  # (not filling the cache)
        if out.isascii() and out.isalnum():
            table[ch.encode("utf-8")] = out
    return table


_SEQ_FOLD = _fold_table()
# One pattern per first byte, looked for only where that byte is (a one-byte search is ~50×
# faster than a two-byte one, and a character-class scan slower still).
_FOLDS = [
    (bytes([first]), re.compile(re.escape(bytes([first])) + rb"(?:" + b"|".join(
        re.escape(seq[1:]) for seq in sorted(_SEQ_FOLD) if seq[0] == first) + rb")"))
    for first in sorted({seq[0] for seq in _SEQ_FOLD})
]  # fmt: skip


def _fold_seq(m: re.Match[bytes]) -> bytes:
    return _SEQ_FOLD.get(m.group(), m.group())


def _cp1252_table() -> bytes:
    table = bytearray(range(256))
    for b in range(0x80, 0x100):
        try:
            out = char_bytes.__wrapped__(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            continue  # undefined in windows-1252: a control character, a break
        if len(out) == 1:  # a folded letter, a break or an apostrophe (other letters stay)
            table[b] = out[0]
    return bytes(table)


_CP1252 = _cp1252_table()

# ------------------------------------------------------------------------------- entities
_ENTITY = re.compile(rb"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[a-zA-Z][a-zA-Z0-9]{0,31};?)")
_HTML5 = html.entities.html5
_MAX_LEGACY = max(len(name) for name in _HTML5 if not name.endswith(";"))


def _entity(m: re.Match[bytes]) -> bytes:
    return _entity_bytes(m.group())


@lru_cache(maxsize=4096)
def _entity_bytes(entity: bytes) -> bytes:
    ref = entity[1:].decode("ascii")
    if ref[0] == "#":
        return _chars(htmllib.unescape(entity.decode("ascii")))
    if ref in _HTML5:
        return _chars(_HTML5[ref])
    # without its semicolon the longest legacy name is read ("&notit;" is "¬it;")
    name = ref.rstrip(";")
    for size in range(min(len(name), _MAX_LEGACY), 1, -1):
        if name[:size] in _HTML5:
            return _chars(_HTML5[name[:size]]) + entity[1 + size :]
    return entity


def normalise(data: bytes, utf8: bool = True) -> bytes:
    """Resolve entities and soft hyphens and fold Latin letters, reading the bytes as UTF-8
    (or as windows-1252): see the module docstring."""
    if b"&" in data:
        if data.count(b"&") * 256 > len(data):  # dense (JSON in a value): a pass costs less
            data = data.replace(b"&quot;", b'"').replace(b"&amp;", b" ")  # than the callbacks
        data = _ENTITY.sub(_entity, data)
    if data.isascii():
        return data
    if not utf8:
        return data.translate(_CP1252, b"\xad")
    if b"\xad" in data:  # (a one-byte search is the fast one)
        data = data.replace(b"\xc2\xad", b"")
    for lead, pattern in _FOLDS:
        if lead in data:
            data = pattern.sub(_fold_seq, data)
    return data


def readings(data: bytes) -> tuple[bool, ...]:
    """How to read the page's bytes: as UTF-8 (True) and, unless they are valid UTF-8, also
    as windows-1252 (False)."""
    if data.isascii():
        return (True,)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return (True, False)
    return (True,)


# --------------------------------------------------------------------------------- blocks
_JSON_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|[nrtbf])")


def _json_char(m: re.Match[bytes]) -> bytes:
    return b" " if m.group(1) is None else char_bytes(chr(int(m.group(1), 16)))


def _json_unescape(data: bytes) -> bytes:
    """JSON-LD as a JSON parser reads it: `\\u00f3` is ó and `\\n` a line break."""
    return _JSON_ESCAPE.sub(_json_char, data) if b"\\" in data else data


def cut_blocks(raw: bytes) -> bytes:
    """The page without <script> and <style> contents (JSON-LD kept: it may hold the title).

    Openings are looked for in lower case only: an upper-case <SCRIPT> merely stays in the
    view (harmless), while a closing tag is looked for in any case, so that no text after it
    is ever cut.
    """
    pieces: list[bytes] = []
    find = raw.find
    pos, end = 0, len(raw)
    low: bytes | None = None
    script = find(b"<script")
    while pos < end:
        if 0 <= script < pos:
            script = find(b"<script", pos)
        # a style is looked for only up to the next script: script bodies are most of a page
        style = find(b"<style", pos, script if script >= 0 else end)
        start = style if style >= 0 else script
        if start < 0:
            break
        name = b"</style" if style >= 0 else b"</script"
        pieces.append(raw[pos:start])
        close = find(name, start)
        if close < 0:
            low = raw.lower() if low is None else low
            close = low.find(name, start)
            if close < 0:
                return b"".join(pieces)
        if style < 0:
            opened = find(b">", start, close)
            if opened >= 0 and b"ld+json" in raw[start:opened].lower():
                pieces.append(b" " + _json_unescape(raw[opened + 1 : close]) + b" ")
        pos = close + len(name)
    pieces.append(raw[pos:])
    return b"".join(pieces)


_META = re.compile(rb"""<meta\b[^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*""", re.IGNORECASE)
_CONTENT = re.compile(rb"""(?<=[\s"'/])content\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)


def meta_values(page: bytes) -> bytes:
    """The `content` values of the page's <meta> tags, one a line (where extraction may find
    the title); the tags' own words are not the page's."""
    values = [
        b"".join(v.groups(b"")) for tag in _META.findall(page) for v in _CONTENT.finditer(tag)
    ]
    return b"\n" + b"\n".join(values) if values else b""


# ----------------------------------------------------------------------------------- tags
# Inline tags (a b bdi bdo cite code data dfn em font i kbd mark q s samp small span strong sub
# sup time u var abbr), spelled as a trie: the engine tries one branch per tag, not 24.
_INLINE_NAMES = (
    rb"(?:a(?:bbr)?|b(?:d[io])?|c(?:ite|ode)|d(?:ata|fn)|em|font|i|kbd|mark|q"
    rb"|s(?:amp|mall|pan|trong|u[bp])?|time|u|var)\b"
)
# A tag opens where an HTML parser opens one: "<" before a letter, "/", "!" or "?" ("a < b" is
# text). Other tags become a NUL, a break in one view and nothing in the other; inline tags go.
_BLOCK_TAG = re.compile(rb"<(?!/?" + _INLINE_NAMES + rb")[a-zA-Z/!?][^>]*>", re.I)
_INLINE_TAG = re.compile(rb"</?" + _INLINE_NAMES + rb"[^>]*>", re.I)
_MARK = b"\x00"
# What the matcher's `\s` matches in text, as UTF-8 (and a windows-1252 no-break space); a
# tag between (a NUL) may be nothing to the extractor.
_GAP = (
    rb"(?:[\s\x00\x1c-\x1f\xa0]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]"
    rb"|\xe2\x81\x9f|\xe3\x80\x80)*"
)
_G287 = re.compile(rb"287" + _GAP + rb"\(" + _GAP + rb"[gG]" + _GAP + rb"\)")
G287_FORM = "287(g)"


def _g287(text: bytes) -> bytes:
    """The text with the matcher's "287(g)" token as the word "287g", however spaced."""
    return _G287.sub(b"287g", text) if b"287" in text else text


class TextViews:
    """One reading of a page, normalised once: `joined` with every tag removed
    (`Immi<b>gration</b>`, `I<span>CE</span>`) and `spaced` with inline tags removed and every
    other tag a break (a NUL: `Latest</h2><p>migra`), both case kept, for acronyms. Meta values
    follow the text in each."""

    __slots__ = ("_utf8", "joined", "spaced")

    def __init__(self, html: bytes, metas: bytes, utf8: bool = True) -> None:
        if _MARK in html:
            html = html.replace(_MARK, b" ")
        text = normalise(_INLINE_TAG.sub(b"", _BLOCK_TAG.sub(_MARK, html)), utf8)
        text = _g287(text + normalise(metas, utf8))
        self._utf8 = utf8
        self.spaced = text
        self.joined = text.replace(_MARK, b"")

    def acronym(self, word: bytes) -> bool:
        """A whole-word acronym ("ICE", not "NOTICE" or "ICESA"), in either view: a block tag
        may have glued a letter to it in the joined one ("Latest</h2><p>I<b>CE</b>")."""
        return word in self.joined and (
            _has_word(self.joined, word) or _has_word(self.spaced, word)
        )

    def words(self, reach: int) -> tuple[str, str | None]:
        """Both views as words, for lookups up to `reach` characters long (see `word_views`)."""
        return word_views(self.spaced.lower(), reach)

    def folded(self) -> str:
        """The tagless text decoded, lower-cased and accent-folded as the matcher folds its
        tokens, for terms with letters beyond [a-z0-9] (looked for as substrings)."""
        text = self.joined.decode("utf-8" if self._utf8 else "cp1252", "replace").lower()
        return _combining().sub("", unicodedata.normalize("NFD", text))


@lru_cache(maxsize=1)
def _combining() -> re.Pattern[str]:
    """Every combining mark (what `fold` strips), built on first use."""
    marks = "".join(chr(c) for c in range(0x300, 0x110000) if unicodedata.combining(chr(c)))
    return re.compile("[" + re.escape(marks) + "]")


_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def _has_word(data: bytes, word: bytes) -> bool:
    """Whether `word` occurs with no ASCII letter or digit on either side (a non-ASCII byte is
    a break: a letter there only makes the scan pass more)."""
    at, size = data.find(word), len(word)
    while at >= 0:
        end = at + size
        if (at == 0 or data[at - 1] not in _ALNUM) and (
            end == len(data) or data[end] not in _ALNUM
        ):
            return True
        at = data.find(word, at + 1)
    return False


def page_views(raw: bytes) -> list[TextViews]:
    """The page's text views, one per reading of its bytes."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 is not ASCII-compatible: re-encode
        raw = raw.decode("utf-16", "replace").encode("utf-8")
    page = cut_blocks(raw)
    metas = meta_values(page)
    return [TextViews(page, metas, utf8) for utf8 in readings(page)]


# ---------------------------------------------------------------------------------- words
# Every byte but [a-z0-9] (and upper case, which `lower()` removed first) becomes a space; a
# tag mark stays, to be read as a break or as nothing.
_SPACES = bytes(c if (chr(c).isascii() and chr(c).isalnum() and not chr(c).isupper()) or c == 0
                else 32 for c in range(256))  # fmt: skip
_GAPS = re.compile(rb"  +")
_MARKS = re.compile(_MARK + _MARK + rb"+")
# The matcher drops a possessive 's ("ICE's agents" reads "ICE agents"); one pattern for each
# apostrophe (found by its last byte), so that each is a literal search.
_POSSESSIVES = [
    (mark[-1:], re.compile(re.escape(mark) + _MARK + rb"*s(?!" + _MARK + rb"*[a-z0-9])"))
    for mark in (b"'", "\u2019".encode(), "\u02bc".encode())
]


def word_views(low: bytes, reach: int) -> tuple[str, str | None]:
    """A lower-cased text with tag marks as space-separated words, for lookups of
    ` w1 w2 … ` up to `reach` characters long: all of it with each mark a break, and the
    stretches around marks with each mark nothing (None when no mark is between two words).

    A word is a run of [a-z0-9]; any other byte separates, and a possessive 's goes, as the
    matcher drops it. Marks touching a break are breaks either way; a lookup that reads one
    of those left as nothing has its words within 2 × `reach` characters of it (every
    character of it may be marked), so only those stretches are read the second way.
    """
    for last, pattern in _POSSESSIVES:
        if last in low:
            low = pattern.sub(b" ", low)
    spaced = b" " + low.translate(_SPACES) + b" "
    if _MARK in spaced:
        spaced = _MARKS.sub(_MARK, spaced)
        spaced = spaced.replace(b" " + _MARK, b"  ").replace(_MARK + b" ", b"  ")
    words = _GAPS.sub(b" ", spaced)
    at = words.find(_MARK)
    if at < 0:
        return words.decode("latin-1"), None
    span = 2 * reach
    stretches = []
    while at >= 0:
        lo = words.find(b" ", max(0, at - span), at)
        hi = words.rfind(b" ", at, at + span + 1)
        at = words.find(_MARK, at + 1)
        while 0 <= at < hi:  # a mark within the stretch: extend it
            hi = max(hi, words.rfind(b" ", at, at + span + 1))
            at = words.find(_MARK, at + 1)
        if 0 <= lo < hi:
            stretches.append(words[lo : hi + 1])
    joined = b"\n".join(stretches).replace(_MARK, b"")
    return words.replace(_MARK, b" ").decode("latin-1"), joined.decode("latin-1")
