"""Article data for the sample news site: load the TOML files and bind them to a clock."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ARTICLES_DIR = Path(__file__).parent / "articles"
TOPICS = ("courthouse_arrest", "sanctuary_dispute")
SITES = ("main", "wire")
LANGS = ("en", "es")
SECTIONS = (
    "nyc",
    "immigration",
    "politics",
    "courts",
    "business",
    "sports",
    "weather",
    "environment",
    "food",
    "espanol",
)
REQUIRED_FIELDS = (
    "slug",
    "site",
    "section",
    "title",
    "author",
    "age_hours",
    "summary",
    "body",
    "lang",
    "expected_topics",
    "kind",
)
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ArticleError(ValueError):
    """An article file or dict is missing a field or has a bad value."""


@dataclass(frozen=True, kw_only=True)
class SiteInfo:
    """Who publishes a site: outlet name, tagline and language."""

    key: str
    outlet: str
    tagline: str
    language: str = "en"


SITE_INFO: dict[str, SiteInfo] = {
    "main": SiteInfo(
        key="main",
        outlet="The Gotham Ledger",
        tagline="Local news for the five boroughs and beyond",
    ),
    "wire": SiteInfo(
        key="wire",
        outlet="Tri-State Wire",
        tagline="Fast, fair copy for newsrooms across the region",
    ),
}


@dataclass(frozen=True, kw_only=True)
class ArticleSpec:
    """One article as written in its TOML file, before it is placed in time."""

    slug: str
    site: str
    section: str
    title: str
    author: str
    age_hours: float
    summary: str
    body: str
    lang: str
    expected_topics: list[str] = field(default_factory=list, hash=False)
    kind: str
    hidden: bool = False
    updated_hours: float | None = None
    syndicated_from: str | None = None

    @property
    def paragraphs(self) -> list[str]:
        """Body paragraphs, split on blank lines and with inner line breaks joined."""
        return [" ".join(p.split()) for p in re.split(r"\n\s*\n", self.body) if p.strip()]

    @property
    def word_count(self) -> int:
        """Number of whitespace-separated words in the body."""
        return len(self.body.split())


@dataclass(frozen=True, kw_only=True)
class Article(ArticleSpec):
    """An article placed on a site: its absolute URL and publication times."""

    url: str
    published: datetime
    modified: datetime

    @property
    def path(self) -> str:
        """The URL path of the article on its site."""
        return article_path(self.section, self.published, self.slug)


def article_path(section: str, published: datetime, slug: str) -> str:
    """Build `/<section>/<YYYY>/<MM>/<DD>/<slug>.html` from the UTC publication date."""
    day = published.astimezone(UTC)
    return f"/{section}/{day:%Y/%m/%d}/{slug}.html"


def _text(data: Mapping[str, object], key: str, source: str, *, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ArticleError(f"{source}: field {key!r} must be a non-empty string")
    return value


def _number(data: Mapping[str, object], key: str, source: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArticleError(f"{source}: field {key!r} must be a number of hours")
    return float(value)


def spec_from_mapping(data: Mapping[str, object], source: str = "<dict>") -> ArticleSpec:
    """Validate one article record (a TOML table or a dict) into an ArticleSpec."""
    slug = _text(data, "slug", source)
    if not _SLUG_RE.match(slug):
        raise ArticleError(f"{source}: slug {slug!r} must be lowercase words joined by '-'")
    site = _text(data, "site", source, default="main")
    lang = _text(data, "lang", source, default="en")
    section = _text(data, "section", source)
    if site not in SITES:
        raise ArticleError(f"{source}: site must be one of {SITES}, not {site!r}")
    if lang not in LANGS:
        raise ArticleError(f"{source}: lang must be one of {LANGS}, not {lang!r}")
    if section not in SECTIONS:
        raise ArticleError(f"{source}: section must be one of {SECTIONS}, not {section!r}")
    topics = data.get("expected_topics", [])
    if not isinstance(topics, list) or any(t not in TOPICS for t in topics):
        raise ArticleError(f"{source}: expected_topics must be a list drawn from {TOPICS}")
    hidden = data.get("hidden", False)
    if not isinstance(hidden, bool):
        raise ArticleError(f"{source}: hidden must be true or false")
    syndicated = data.get("syndicated_from")
    if syndicated is not None and not isinstance(syndicated, str):
        raise ArticleError(f"{source}: syndicated_from must be a slug")
    age = _number(data, "age_hours", source)
    return ArticleSpec(
        slug=slug,
        site=site,
        section=section,
        title=_text(data, "title", source),
        author=_text(data, "author", source, default="Staff"),
        age_hours=0.0 if age is None else age,
        summary=_text(data, "summary", source),
        body=_text(data, "body", source),
        lang=lang,
        expected_topics=[str(t) for t in topics],
        kind=_text(data, "kind", source, default="negative"),
        hidden=hidden,
        updated_hours=_number(data, "updated_hours", source),
        syndicated_from=syndicated,
    )


def load_specs(directory: Path = ARTICLES_DIR) -> list[ArticleSpec]:
    """Load and validate every `*.toml` article in `directory`, sorted by file name."""
    specs: list[ArticleSpec] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ArticleError(f"{path.name}: {exc}") from exc
        for key in REQUIRED_FIELDS:
            if key not in data:
                raise ArticleError(f"{path.name}: missing field {key!r}")
        spec = spec_from_mapping(data, path.name)
        if spec.slug != path.stem:
            raise ArticleError(f"{path.name}: slug {spec.slug!r} must match the file name")
        specs.append(spec)
    return specs


def place(
    spec: ArticleSpec,
    *,
    base_url: str,
    now: datetime,
    published: datetime | None = None,
    modified: datetime | None = None,
) -> Article:
    """Place a spec in time at `base_url`: published = now - age_hours unless given."""
    when = (published or now - timedelta(hours=spec.age_hours)).astimezone(UTC)
    when = when.replace(microsecond=0)
    if modified is None and spec.updated_hours is not None and published is None:
        modified = now - timedelta(hours=spec.updated_hours)
    changed = max(when, (modified or when).astimezone(UTC).replace(microsecond=0))
    values = {f.name: getattr(spec, f.name) for f in dataclasses.fields(ArticleSpec)}
    path = article_path(spec.section, when, spec.slug)
    return Article(**values, url=base_url + path, published=when, modified=changed)


def newest_first(articles: Iterable[Article]) -> list[Article]:
    """Sort articles by publication time, newest first, slug as tie-break."""
    return sorted(articles, key=lambda a: (a.published, a.slug), reverse=True)


def word_query(query: str) -> tuple[list[str], bool]:
    """Split a search query into terms and whether they are OR-ed (else AND-ed).

    Quoted phrases stay whole; operators, field filters (`sourcelang:english`), `-exclusions`
    and brackets are dropped, so any query an aggregator client sends gets a sensible answer.
    """
    terms: list[str] = []
    any_of = False
    for phrase, word in re.findall(r'"([^"]*)"|(\S+)', query):
        if phrase.strip():
            terms.append(phrase.strip())
            continue
        word = word.strip("()")
        if word.upper() == "OR":
            any_of = True
        elif word.upper() in ("AND", "NOT") or not word or ":" in word or word.startswith("-"):
            continue
        else:
            terms.append(word)
    return terms, any_of


def matches_query(article: ArticleSpec, query: str) -> bool:
    """Case-insensitive whole-word match of the query terms against title and body."""
    terms, any_of = word_query(query)
    if not terms:
        return True
    text = " ".join(f"{article.title} {article.summary} {article.body}".split())
    hits = [
        re.search(r"(?<!\w)" + re.escape(t) + r"(?!\w)", text, re.IGNORECASE) is not None
        for t in terms
    ]
    return any(hits) if any_of else all(hits)
