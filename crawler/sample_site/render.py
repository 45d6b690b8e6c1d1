"""Shared pieces for the sample site's HTML: escaping, dates, related stories, comments."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from typing import Protocol

from crawler.sample_site.content import Article, SiteInfo

PAGE_SIZE = 10
SECTION_LABELS = {
    "nyc": "New York",
    "immigration": "Immigration",
    "politics": "Politics",
    "courts": "Courts",
    "business": "Business",
    "sports": "Sports",
    "weather": "Weather",
    "environment": "Environment",
    "food": "Food & Dining",
    "espanol": "En Español",
}
TAGS = ("immigration", "courts", "city-hall", "weather", "hockey", "markets", "wildlife", "transit")
# Links to these articles carry tracking junk wherever they are linked from (never in their own
# canonical link), so a crawler has to canonicalise URLs before de-duplicating them.
TRACKED_SLUGS = frozenset(
    {
        "queens-court-hallway-arrest",
        "rangers-edge-islanders-overtime",
        "county-sues-over-grant-conditions",
    }
)
TRACKING_JUNK = "?utm_source=homepage&utm_medium=referral&fbclid=IwAR0xSample#comments"

_COMMENTS_EN = (
    ("brooklyn_mom", "Thank you for actually explaining this instead of just posting a headline."),
    ("Pete in Astoria", "I read the whole thing twice. Would love a follow-up in a month."),
    ("k.ramirez", "Sharing this with my building's group chat. People need to know."),
    ("OldTimer1954", "Forty years in this city and some things never change."),
    ("jmc", "Good reporting. The quotes from people on the ground make the difference."),
    ("harlem_reader", "Can you publish the full document you cited? Link please."),
    ("SunnysideSam", "The comment section is going to be a mess, but this was well done."),
    ("notaprofessional", "Why is this the first I'm hearing of this?"),
)
_COMMENTS_ES = (
    ("lectora_bx", "Gracias por informar en español. Mi familia lo va a leer."),
    ("Don Julio", "Muy buen artículo, esperamos más noticias sobre esto."),
    ("marisol.q", "Lo compartí con mis vecinos. Hace falta más información así."),
    ("vecino_corona", "¿Van a publicar una actualización la próxima semana?"),
)


@dataclass(frozen=True, kw_only=True)
class PageContext:
    """What every page of one site needs: outlet, base URL, nav and the partner site."""

    info: SiteInfo
    base_url: str
    sections: tuple[str, ...]
    peer_base_url: str | None = None
    peer_outlet: str | None = None


@dataclass(frozen=True, kw_only=True)
class Listing:
    """One page of a list of articles: home, section or tag page."""

    title: str
    path: str
    articles: list[Article]
    page: int = 1
    has_next: bool = False
    intro: str = ""


class Theme(Protocol):
    """Renders the pages of one outlet in its own markup."""

    def article_page(self, ctx: PageContext, article: Article, related: list[Article]) -> str:
        """Render a full article page."""
        ...

    def listing_page(self, ctx: PageContext, listing: Listing) -> str:
        """Render a home, section or tag page."""
        ...

    def simple_page(self, ctx: PageContext, title: str, paragraphs: list[str]) -> str:
        """Render an about/contact/login/error page."""
        ...


def esc(text: str) -> str:
    """Escape text for HTML element content and quoted attributes."""
    return escape(text, quote=True)


def rfc3339(when: datetime) -> str:
    """Format a datetime as RFC 3339 in UTC, e.g. 2025-03-02T14:05:00Z."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc822(when: datetime) -> str:
    """Format a datetime as an RFC 822 date in GMT for RSS and HTTP headers."""
    return format_datetime(when.astimezone(UTC), usegmt=True)


def display_date(when: datetime, lang: str = "en") -> str:
    """Human-readable date line for bylines."""
    when = when.astimezone(UTC)
    if lang == "es":
        months = "enero febrero marzo abril mayo junio julio agosto septiembre octubre "
        month = (months + "noviembre diciembre").split()[when.month - 1]
        return f"{when.day} de {month} de {when.year}, {when:%H:%M} UTC"
    hour = when.hour % 12 or 12
    half = "a.m." if when.hour < 12 else "p.m."
    return f"{when:%B} {when.day}, {when.year}, {hour}:{when:%M} {half} UTC"


def href(article: Article) -> str:
    """The link to an article as other pages write it (some carry tracking junk)."""
    return article.url + TRACKING_JUNK if article.slug in TRACKED_SLUGS else article.url


def image_url(ctx: PageContext, article: Article) -> str:
    """Absolute URL of an article's lead image."""
    return f"{ctx.base_url}/static/img/{article.slug}.png"


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def comments_for(article: Article) -> list[tuple[str, str]]:
    """Two to four reader comments, chosen deterministically from the article's slug."""
    pool = _COMMENTS_ES if article.lang == "es" else _COMMENTS_EN
    seed = _digest(article.slug)
    count = 2 + seed % 3
    return [pool[(seed // 7 + i * 3) % len(pool)] for i in range(count)]


def related_for(article: Article, pool: list[Article], count: int = 3) -> list[Article]:
    """Pick `count` other articles: same section first, then the most recent others."""
    others = [a for a in pool if a.slug != article.slug]
    same = [a for a in others if a.section == article.section]
    rest = [a for a in others if a.section != article.section]
    rest.sort(key=lambda a: _digest(article.slug + a.slug))
    return (same + rest)[:count]


def json_ld(ctx: PageContext, article: Article) -> str:
    """A schema.org NewsArticle block, safe to embed in a script element."""
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title,
        "description": article.summary,
        "datePublished": rfc3339(article.published),
        "dateModified": rfc3339(article.modified),
        "inLanguage": article.lang,
        "articleSection": SECTION_LABELS.get(article.section, article.section),
        "author": [{"@type": "Person", "name": article.author}],
        "publisher": {
            "@type": "Organization",
            "name": ctx.info.outlet,
            "logo": {"@type": "ImageObject", "url": f"{ctx.base_url}/static/img/logo.png"},
        },
        "image": [image_url(ctx, article)],
        "mainEntityOfPage": {"@type": "WebPage", "@id": article.url},
    }
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def head_meta(ctx: PageContext, article: Article) -> str:
    """Canonical link, OpenGraph and article meta tags for an article's head."""
    tags = [
        f'<link rel="canonical" href="{esc(article.url)}">',
        f'<meta name="description" content="{esc(article.summary)}">',
        f'<meta name="author" content="{esc(article.author)}">',
        '<meta property="og:type" content="article">',
        f'<meta property="og:title" content="{esc(article.title)}">',
        f'<meta property="og:description" content="{esc(article.summary)}">',
        f'<meta property="og:url" content="{esc(article.url)}">',
        f'<meta property="og:image" content="{esc(image_url(ctx, article))}">',
        f'<meta property="og:site_name" content="{esc(ctx.info.outlet)}">',
        f'<meta property="og:locale" content="{"es_US" if article.lang == "es" else "en_US"}">',
        f'<meta property="article:published_time" content="{rfc3339(article.published)}">',
        f'<meta property="article:modified_time" content="{rfc3339(article.modified)}">',
        f'<meta property="article:section" content="{esc(SECTION_LABELS[article.section])}">',
        '<meta name="twitter:card" content="summary_large_image">',
        f'<script type="application/ld+json">\n{json_ld(ctx, article)}\n</script>',
    ]
    return "\n".join(tags)


def body_paragraphs(article: Article, tag: str = "p") -> str:
    """The article body as escaped paragraphs; a trailing correction gets its own class."""
    out = []
    for text in article.paragraphs:
        note = text.lower().startswith(("correction:", "corrección:"))
        cls = ' class="correction"' if note else ""
        out.append(f"<{tag}{cls}>{esc(text)}</{tag}>")
    return "\n".join(out)
