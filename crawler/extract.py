"""Article extraction with trafilatura (pure): HTML bytes in, `Extracted` or `ExtractFailure` out.

The page is decoded and parsed once; `page_metadata` reads title, author and date from the
tree (trafilatura's metadata pass, less what we discard), then `bare_extraction` the text.
Run it in worker processes, never threads: trafilatura and htmldate share one lxml parser.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from html import unescape
from typing import Any

from w3lib.encoding import html_body_declared_encoding, html_to_unicode, resolve_encoding

MIN_TEXT_CHARS = 200
NOT_ARTICLE_STATUS = "not_article"
MAX_TREE_SIZE = 60_000
_DATE_PARAMS: dict[str, Any] = {
    "extensive_search": True,
    "original_date": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}
_CANONICAL = re.compile(
    rb"""<link\b[^>]*?\brel\s*=\s*["']?canonical["']?[^>]*>""", re.IGNORECASE | re.DOTALL
)
# JSON-LD blocks this long are parsed here (see `_json_ld`): below it trafilatura's regex
# fallback costs under ~4 ms even on a dense live blog; at 840 KB it cost 0.6 s.
LD_SLIM_CHARS = 50_000
# The fields trafilatura's metadata walk reads (json_metadata.extract_json).
_LD_KEYS = frozenset(
    {
        "@context",
        "@graph",
        "@type",
        "name",
        "headline",
        "author",
        "publisher",
        "articleSection",
        "legalName",
        "alternateName",
        "givenName",
        "additionalName",
        "familyName",
    }
)
_LD_XPATH = './/script[@type="application/ld+json" or @type="application/settings+json"]'
_SURROGATE = re.compile("[\ud800-\udfff]")
_HREF = re.compile(rb"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


@dataclass(frozen=True)
class Extracted:
    """What trafilatura found in a page."""

    title: str | None
    text: str
    author: str | None
    published: datetime | None
    sitename: str | None
    language: str | None
    description: str | None

    def to_dict(self) -> dict[str, Any]:
        """A picklable/JSON-friendly dict (dates as ISO strings)."""
        data = asdict(self)
        data["published"] = self.published.isoformat() if self.published else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Extracted:
        """Inverse of `to_dict`."""
        published = data.get("published")
        return cls(**{**data, "published": parse_datetime(published) if published else None})


@dataclass(frozen=True)
class ExtractFailure:
    """Why nothing usable came out (stored as the article's status reason)."""

    status: str  # "empty" | "failed" | "not_article"
    reason: str


def _valid_encoding(name: str | None) -> str | None:
    if not name:
        return None
    resolved = resolve_encoding(name)
    if not resolved:
        return None
    try:
        codecs.lookup(resolved)
    except LookupError:
        return None
    return resolved


def decode_html(body: bytes, header_encoding: str | None = None) -> tuple[str, str]:
    """Decode a page: the first of header, BOM, `<meta charset>` that decodes cleanly wins.

    A header that lies (says UTF-8 over windows-1252 bytes) must not garble the text, so every
    candidate is tried strictly before falling back to w3lib's lenient detection.
    """
    candidates: list[str] = []
    if body.startswith(codecs.BOM_UTF8):
        candidates.append("utf-8-sig")
    for name in (header_encoding, html_body_declared_encoding(body), "utf-8"):
        resolved = _valid_encoding(name)
        if resolved and resolved not in candidates:
            candidates.append(resolved)
    for name in candidates:
        try:
            return body.decode(name), name
        except (UnicodeDecodeError, LookupError):
            continue
    encoding, text = html_to_unicode(
        f"text/html; charset={header_encoding}" if header_encoding else None, body
    )
    return text, encoding


def declared_canonical(body: bytes) -> str | None:
    """The href of `<link rel="canonical">` in the raw page, if any."""
    head = body[:200_000]
    for tag in _CANONICAL.finditer(head):
        href = _HREF.search(tag.group(0))
        if href:
            raw = next(g for g in href.groups() if g is not None)
            return raw.decode("utf-8", "replace").strip() or None
    return None


def parse_datetime(value: str | None) -> datetime | None:
    """Parse an ISO-like date/time; naive values are taken as UTC."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


_OPTIONS: Any = None


def _options(url: str | None) -> Any:
    """trafilatura Extractor options (tree-size cap from its config), built once per process."""
    global _OPTIONS
    from trafilatura.settings import Extractor, use_config

    if _OPTIONS is None:
        config = use_config()
        config["DEFAULT"]["MAX_TREE_SIZE"] = str(MAX_TREE_SIZE)
        config["DEFAULT"]["EXTRACTION_TIMEOUT"] = "0"
        _OPTIONS = Extractor(
            config=config,
            output_format="python",
            comments=False,
            tables=False,
            with_metadata=False,  # page_metadata() reads it from the same tree
        )
    _OPTIONS.url = url
    return _OPTIONS


def page_metadata(tree: Any, url: str | None) -> Any:
    """trafilatura's `extract_metadata` on a parsed page, less the fields we discard
    (categories, tags and license: ~1.5 ms a page of XPath) and with JSON-LD read by
    `_json_ld`. Returns trafilatura's `Document` (title, author, date, sitename, description)."""
    from htmldate import find_date
    from trafilatura import metadata as tm

    meta = tm.examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None
    with contextlib.suppress(Exception):  # trafilatura's guard: its walk trips on odd shapes
        _json_ld(tree, meta)
    if not meta.title:
        meta.title = tm.extract_title(tree)
    if not meta.author:
        meta.author = tm.extract_author(tree)
    if not meta.url:
        meta.url = tm.extract_url(tree, url)
    meta.date = find_date(tree, **{**_DATE_PARAMS, "url": meta.url})
    if not meta.sitename:
        meta.sitename = tm.extract_sitename(tree)
    if meta.sitename:
        meta.sitename = meta.sitename.lstrip("@")
        if meta.sitename and "." not in meta.sitename and not meta.sitename[0].isupper():
            meta.sitename = meta.sitename.title()
    elif meta.url:
        found = tm.META_URL.match(meta.url)
        if found:
            meta.sitename = found[1]
    meta.clean_and_trim()
    return meta


def _json_ld(tree: Any, meta: Any) -> None:
    """Fold the page's JSON-LD blocks into `meta` as trafilatura does, but never down its
    quadratic path on a large block.

    trafilatura un-escapes a block's text (entities, `\\u` escapes) before parsing it, which
    breaks valid JSON holding `&quot;`, and then falls back to a regex loop that is quadratic
    in the text's length (0.6 s on a live blog with 840 KB of JSON-LD). A block under
    `LD_SLIM_CHARS` goes to trafilatura as it is (the loop is cheap there); a larger one is
    parsed raw here and cut to the fields trafilatura's walk reads (`_slim`), and only if it is
    not JSON at all do the regexes see it, its head only.
    """
    from trafilatura.json_metadata import extract_json, extract_json_parse_error, normalize_json
    from trafilatura.metadata import JSON_MINIFY

    for elem in tree.xpath(_LD_XPATH):
        raw = elem.text
        if not raw:
            continue
        if len(raw) >= LD_SLIM_CHARS:
            try:
                schema = _slim(json.loads(raw, strict=False))
            except ValueError:
                raw = raw[:LD_SLIM_CHARS]
            else:
                extract_json(schema, meta)
                continue
        text = normalize_json(JSON_MINIFY.sub(r"\1", raw))
        try:
            extract_json(json.loads(text, strict=False), meta)
        except json.JSONDecodeError:
            extract_json_parse_error(text, meta)


def _slim(node: Any) -> Any:
    """A parsed JSON-LD block cut to `_LD_KEYS`, its strings cleaned as trafilatura cleans a
    block's text. A live blog's updates go with the rest: the page is the live blog, and its
    byline and headline are the blog's own, not those of whoever wrote the posts."""
    if isinstance(node, dict):
        return {key: _slim(value) for key, value in node.items() if key in _LD_KEYS}
    if isinstance(node, list):
        return [_slim(value) for value in node]
    if isinstance(node, str):
        from trafilatura.utils import HTML_STRIP_TAGS, trim

        return trim(HTML_STRIP_TAGS.sub("", _SURROGATE.sub("", unescape(node))))
    return node


def extract_html(
    html: bytes | str, url: str | None = None, header_encoding: str | None = None
) -> Extracted | ExtractFailure:
    """Extract title, text and metadata; failures are values, never exceptions."""
    import trafilatura  # imported here so workers pay the import once, lazily
    from trafilatura.utils import load_html

    try:
        text_html = decode_html(html, header_encoding)[0] if isinstance(html, bytes) else html
        if not text_html.strip():
            return ExtractFailure("empty", "empty page")
        tree = load_html(text_html)
        if tree is None:
            return ExtractFailure("empty", "trafilatura found no article text")
        # trafilatura's own order: metadata first, then the text from the same tree
        meta = page_metadata(tree, url)
        doc: Any = trafilatura.bare_extraction(tree, url=url, options=_options(url))
    except Exception as exc:  # trafilatura/lxml can raise nearly anything on hostile input
        return ExtractFailure("failed", f"extraction error: {type(exc).__name__}: {exc}"[:300])
    if doc is None:
        return ExtractFailure("empty", "trafilatura found no article text")
    text = _clean(getattr(doc, "text", None)) or ""
    if len(text) < MIN_TEXT_CHARS:
        return ExtractFailure("empty", f"article text too short ({len(text)} characters)")
    return Extracted(
        title=_clean(meta.title),
        text=text,
        author=_clean(meta.author),
        published=parse_datetime(_clean(meta.date)),
        sitename=_clean(meta.sitename),
        language=_clean(getattr(doc, "language", None)),
        description=_clean(meta.description),
    )


def extract_to_dict(
    html: bytes, url: str | None, header_encoding: str | None, page_kind: bool = False
) -> dict[str, Any]:
    """Worker-process entry point: a picklable result (`ok` tells which kind).

    With `page_kind`, an extracted page that turns out to be a listing (crawler.pagekind) comes
    back as a `not_article` failure: the link evidence needs trafilatura's text.
    """
    decoded = decode_html(html, header_encoding)[0]
    result = extract_html(decoded, url)
    if isinstance(result, Extracted) and page_kind:
        from crawler import pagekind

        verdict = pagekind.after_extraction(decoded, url or "", result.text, html)
        if verdict.kind == pagekind.NOT_ARTICLE:
            result = ExtractFailure(NOT_ARTICLE_STATUS, verdict.reason)
    if isinstance(result, Extracted):
        return {"ok": True, **result.to_dict()}
    return {"ok": False, "status": result.status, "reason": result.reason}


def result_from_dict(data: dict[str, Any]) -> Extracted | ExtractFailure:
    """Inverse of `extract_to_dict`."""
    fields = dict(data)
    if fields.pop("ok"):
        return Extracted.from_dict(fields)
    return ExtractFailure(fields["status"], fields["reason"])
