"""Is a fetched page an article, or a listing (home, section, tag, author, search) page? Pure.

Listing pages carry many headlines, so they match topics as if they were articles and must
never alert. Four kinds of evidence are combined:

- page metadata: `og:type` and JSON-LD `@type` (NewsArticle, BlogPosting … vs CollectionPage,
  SearchResultsPage, ItemList, ProfilePage);
- URL shape: a bare domain, `/tag/…`, `/category/…`, `/section/…`, `/author/…`, `/search`,
  `/page/N`;
- the page's links: how many headline-length links it has and how much of its text is links;
- trafilatura's output: a listing comes out as lines that are link texts (headlines).

`before_extraction` decides from metadata and URL shape alone when they agree (cheap: regexes
over the raw bytes); `after_extraction` adds the link evidence once trafilatura has run. Article
metadata (og:type article, a JSON-LD article type) always wins: publishers mark their articles,
and a wrong `not_article` would silently lose an alert, which is worse than a listing alerting.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

ARTICLE = "article"
NOT_ARTICLE = "not_article"
UNKNOWN = "unknown"

ARTICLE_TYPES = frozenset(
    t.lower()
    for t in (
        "Article",
        "NewsArticle",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "BackgroundNewsArticle",
        "ReviewNewsArticle",
        "AskPublicNewsArticle",
        "SatiricalArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "Report",
        "ScholarlyArticle",
        "TechArticle",
        "SocialMediaPosting",
        "DiscussionForumPosting",
    )
)
LISTING_TYPES = frozenset(
    t.lower() for t in ("CollectionPage", "SearchResultsPage", "ItemList", "ProfilePage")
)
LISTING_SEGMENTS = frozenset(
    {
        "tag",
        "tags",
        "category",
        "categories",
        "section",
        "sections",
        "author",
        "authors",
        "topic",
        "topics",
        "search",
        "archive",
        "archives",
    }
)
HOME_PATHS = frozenset({"", "/", "/index.html", "/index.htm", "/index.php", "/home", "/home/"})
# A listing segment followed by more than this many path segments is an article under it
# (e.g. /section/politics/2026/03/02/slug.html on some CMSs).
MAX_LISTING_TAIL = 2
HEADLINE_MIN_WORDS = 4
# Thresholds below come from the sample site's listing pages and the shared corpus of real
# articles (see tests/test_pagekind.py, which measures the false not_article rate there).
# A listing comes out of trafilatura as headline lines with teasers between or after them:
# a third of its text or more is headline; the real articles of the corpus stay under a fifth
# (related-story lists).
LINK_LINE_SHARE = 0.25  # of trafilatura's text (by characters): headline links opening lines
MIN_LINK_LINES = 3
SCAN_BYTES = 1_500_000

_META = re.compile(rb"<meta\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb"""([a-zA-Z:_-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_LD = re.compile(
    rb"""<script\b[^>]*type\s*=\s*["']?application/ld\+json["']?[^>]*>(.*?)</script>""",
    re.IGNORECASE | re.DOTALL,
)
_PAGE_N = re.compile(r"^/(?:.*/)?page/\d+/?$", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Verdict:
    """The decision (`article`, `not_article` or `unknown`) and the evidence behind it."""

    kind: str
    reason: str


@dataclass(frozen=True)
class Metadata:
    """What the page says about itself."""

    og_type: str | None = None
    ld_types: frozenset[str] = field(default_factory=frozenset)

    def _of(self, kinds: frozenset[str]) -> list[str]:
        return sorted(t for t in self.ld_types if t.lower() in kinds)

    @property
    def article_type(self) -> str | None:
        """The article type the page declares (JSON-LD first, then og:type), if any."""
        found = self._of(ARTICLE_TYPES)
        if found:
            return found[0]
        return "og:type article" if self.og_type == "article" else None

    @property
    def listing_type(self) -> str | None:
        """The JSON-LD listing type the page declares, if any."""
        found = self._of(LISTING_TYPES)
        return found[0] if found else None


def _attrs(tag: bytes) -> dict[str, str]:
    out = {}
    for m in _ATTR.finditer(tag):
        value = next((g for g in m.groups()[1:] if g is not None), b"")
        out[m.group(1).decode("latin-1").lower()] = value.decode("utf-8", "replace").strip()
    return out


def _ld_types(node: Any, found: set[str], depth: int = 0) -> None:
    """Top-level @type values of JSON-LD (through @graph and lists, not nested properties)."""
    if depth > 4:
        return
    if isinstance(node, list):
        for child in node:
            _ld_types(child, found, depth + 1)
    elif isinstance(node, dict):
        kind = node.get("@type")
        for value in kind if isinstance(kind, list) else [kind]:
            if isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
        if "@graph" in node:
            _ld_types(node["@graph"], found, depth + 1)


def read_metadata(body: bytes) -> Metadata:
    """og:type and JSON-LD @types from the raw page."""
    head = body[:SCAN_BYTES]
    og_type = None
    for tag in _META.finditer(head):
        attrs = _attrs(tag.group(0))
        if attrs.get("property", attrs.get("name", "")).lower() == "og:type":
            og_type = attrs.get("content", "").lower() or None
            break
    types: set[str] = set()
    for block in _LD.finditer(head):
        try:
            data = json.loads(block.group(1).decode("utf-8", "replace"), strict=False)
        except ValueError:
            continue  # broken JSON-LD is common; it is simply no evidence
        _ld_types(data, types)
    return Metadata(og_type, frozenset(types))


def url_shape(url: str) -> str | None:
    """Why the URL looks like a listing page (None when it does not)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if path.lower() in HOME_PATHS and not parts.query:
        return "home page (bare domain)"
    if _PAGE_N.match(path):
        return "paginated listing (/page/N)"
    segments = [s.lower() for s in path.split("/") if s]
    for i, segment in enumerate(segments):
        if segment not in LISTING_SEGMENTS:
            continue
        tail = segments[i + 1 :]
        if segment == "search" or not tail:
            return f"{segment} page (/{segment}/…)"
        if len(tail) <= MAX_LISTING_TAIL and not _looks_like_slug(tail[-1]):
            return f"{segment} page (/{segment}/…)"
    return None


def _looks_like_slug(segment: str) -> bool:
    """An article slug (a tag or section name is a word or three): five words or more, four
    with a page extension, or a long number id."""
    stem = segment.rsplit(".", 1)[0]
    words = stem.count("-") + 1
    if words >= 5 or (words >= 4 and segment.endswith((".html", ".htm", ".php", ".aspx"))):
        return True
    return bool(re.search(r"\d{5,}", segment))


def before_extraction(body: bytes, url: str) -> Verdict:
    """The verdict of the cheap signals (metadata and URL shape) alone."""
    meta = read_metadata(body)
    if meta.article_type:
        return Verdict(ARTICLE, f"page metadata says {meta.article_type}")
    if meta.listing_type:
        return Verdict(NOT_ARTICLE, f"page metadata says {meta.listing_type}")
    shape = url_shape(url)
    if shape:
        return Verdict(NOT_ARTICLE, f"URL shape: {shape}")
    return Verdict(UNKNOWN, "no metadata or URL evidence")


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def headline_links(html: str) -> list[str]:
    """Normalised texts of the page's headline links (four words or more, standing alone)."""
    import lxml.html  # type: ignore[import-untyped]

    try:
        tree = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return []
    out = []
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        text = _norm(anchor.text_content())
        if len(text.split()) >= HEADLINE_MIN_WORDS and _standalone(anchor):
            out.append(text)
    return out


def _standalone(anchor: Any) -> bool:
    """A link that is a block's whole text run (a headline), not words inside a sentence."""
    if (anchor.tail or "").strip():
        return False
    previous = anchor.getprevious()
    parent = anchor.getparent()
    before = previous.tail if previous is not None else parent.text if parent is not None else ""
    return not (before or "").strip()


def after_extraction(html: str, url: str, text: str, body: bytes | None = None) -> Verdict:
    """The verdict once trafilatura's text is known (metadata and URL shape still count)."""
    cheap = before_extraction(body if body is not None else html.encode("utf-8", "replace"), url)
    if cheap.kind != UNKNOWN:
        return cheap
    anchors = set(headline_links(html))
    lines = [_norm(line) for line in text.splitlines() if line.strip()]
    total = sum(len(line) for line in lines) or 1
    # A listing line is a headline link, alone or followed by its teaser on the same line.
    heads = [max((len(a) for a in anchors if line.startswith(a)), default=0) for line in lines]
    link_lines = sum(1 for h in heads if h)
    share = sum(heads) / total
    if link_lines >= MIN_LINK_LINES and share >= LINK_LINE_SHARE:
        return Verdict(
            NOT_ARTICLE,
            f"extracted text is a list of headline links ({link_lines} lines start with one, "
            f"{share:.0%} of the text)",
        )
    return Verdict(ARTICLE, f"{link_lines} lines start with a headline link ({share:.0%} of text)")
