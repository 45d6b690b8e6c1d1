"""Markup of the wire outlet, Tri-State Wire: older, div-heavy templates with their own nav."""

from __future__ import annotations

from crawler.sample_site.content import Article
from crawler.sample_site.render import (
    Listing,
    PageContext,
    body_paragraphs,
    comments_for,
    display_date,
    esc,
    head_meta,
    href,
    image_url,
    rfc3339,
)

WIRE_LABELS = {
    "immigration": "Immigration & Borders",
    "politics": "Government",
    "courts": "Law & Justice",
    "business": "Markets",
    "weather": "Weather Desk",
    "sports": "Scores",
}
WIRE_SECTIONS = tuple(WIRE_LABELS)


def _label(section: str) -> str:
    return WIRE_LABELS.get(section, section.title())


def _top(ctx: PageContext, title: str, extra: str = "", lang: str = "en") -> str:
    nav = " | ".join(f'<a href="/section/{s}/">{esc(_label(s))}</a>' for s in ctx.sections)
    return f"""<!DOCTYPE html>
<html lang="{esc(lang)}" class="no-js">
<head>
<meta charset="utf-8">
<title>{esc(title)} - {esc(ctx.info.outlet)}</title>
<meta name="generator" content="WireDesk CMS 4.2">
{extra}
<style>body{{font-family:Georgia,serif;max-width:960px;margin:auto}}
#gdpr{{background:#eee}}</style>
</head>
<body>
<div id="gdpr" class="consent-overlay">This site uses cookies for analytics and syndication
partners. <a href="#" class="consent-ok">OK, got it</a> <a href="/about/">Learn more</a></div>
<table id="topbar" width="100%"><tr>
<td class="brand"><a href="/"><b>{esc(ctx.info.outlet.upper())}</b></a><br>
<small>{esc(ctx.info.tagline)}</small></td>
<td class="account" align="right"><a href="/login/">Member login</a> &middot;
<a href="/contact/">Clients</a></td>
</tr></table>
<div id="wirenav" class="nav-wire">{nav} | <a href="/about/">About the wire</a></div>"""


def _bottom(ctx: PageContext) -> str:
    partner = ""
    if ctx.peer_base_url and ctx.peer_outlet:
        partner = (
            f' &middot; <a href="{esc(ctx.peer_base_url)}/">'
            f"Member paper: {esc(ctx.peer_outlet)}</a>"
        )
    return f"""<div id="colophon"><hr>
<a href="/about/">About</a> &middot; <a href="/contact/">Contact</a> &middot;
<a href="/feeds/rss.xml">Wire feed (RSS)</a> &middot;
<a href="/about/#licensing">Licensing</a>{partner}
<br><small>Copyright {esc(ctx.info.outlet)}.
Material may not be republished without a license.</small>
</div>
</body>
</html>
"""


class WireTheme:
    """Tri-State Wire's templates."""

    def article_page(self, ctx: PageContext, article: Article, related: list[Article]) -> str:
        """Render a wire story page: dateline, slug line, body, related and comments."""
        related_items = "".join(
            f'<div class="rel"><a href="{esc(href(r))}">{esc(r.title)}</a></div>\n' for r in related
        )
        comments = "".join(
            f'<div class="cmt"><b>{esc(who)}</b> wrote:<br>{esc(text)}</div>\n'
            for who, text in comments_for(article)
        )
        when = esc(display_date(article.published, article.lang))
        origin = ""
        if article.syndicated_from and ctx.peer_base_url and ctx.peer_outlet:
            origin = (
                f'<div class="origin">Also published by member paper '
                f'<a href="{esc(ctx.peer_base_url)}/">{esc(ctx.peer_outlet)}</a>.</div>'
            )
        return f"""{_top(ctx, article.title, head_meta(ctx, article), article.lang)}
<div id="crumbs" class="breadcrumb"><a href="/">Wire</a> &raquo;
<a href="/section/{article.section}/">{esc(_label(article.section))}</a> &raquo; Story</div>
<div id="main" class="wire-story">
<div class="slugline">{esc(article.slug.upper())}</div>
<h1 class="hed">{esc(article.title)}</h1>
<div class="meta"><span class="by">{esc(article.author)}</span>, {esc(ctx.info.outlet)} &mdash;
<time datetime="{rfc3339(article.published)}">{when}</time></div>
<div class="photo"><img src="{esc(image_url(ctx, article))}" alt="">
<div class="cutline">{esc(article.summary)} ({esc(ctx.info.outlet)} photo)</div></div>
<div class="text">
{body_paragraphs(article)}
</div>
{origin}
</div>
<div id="more" class="related"><h3>Related stories</h3>
{related_items}</div>
<div id="alerts" class="signup"><h3>Wire alerts by email</h3>
<form action="/newsletter/subscribe" method="post"><input type="email" name="email">
<input type="submit" value="Subscribe"></form></div>
<div id="talk" class="comments"><h3>Comments</h3>
{comments}</div>
{_bottom(ctx)}"""

    def listing_page(self, ctx: PageContext, listing: Listing) -> str:
        """Render a wire listing as a table of headlines."""
        rows = (
            "".join(
                f'<tr><td class="t">{esc(display_date(a.published, a.lang))}</td>'
                f'<td><a href="{esc(href(a))}">{esc(a.title)}</a><br>'
                f"<small>{esc(a.summary)}</small></td></tr>\n"
                for a in listing.articles
            )
            or '<tr><td colspan="2">No stories moved yet.</td></tr>\n'
        )
        pager = ""
        if listing.has_next:
            pager += f'<a href="{esc(listing.path)}?page={listing.page + 1}">Next page &raquo;</a>'
        if listing.page > 1:
            prev = f"{esc(listing.path)}?page={listing.page - 1}"
            pager = f'<a href="{prev}">&laquo; Prev</a> ' + pager
        return f"""{_top(ctx, listing.title)}
<div id="main"><h2>{esc(listing.title)}</h2>
<table class="budget" width="100%">
{rows}</table>
<div class="pager">{pager}</div>
<div class="tags"><a href="/tag/immigration/">immigration</a> <a href="/tag/courts/">courts</a>
<a href="/tag/markets/">markets</a> <a href="/tag/weather/">weather</a></div>
</div>
{_bottom(ctx)}"""

    def simple_page(self, ctx: PageContext, title: str, paragraphs: list[str]) -> str:
        """Render a plain wire page."""
        body = "".join(f"<p>{esc(p)}</p>\n" for p in paragraphs)
        return f"""{_top(ctx, title)}
<div id="main"><h2>{esc(title)}</h2>
{body}</div>
{_bottom(ctx)}"""
