"""Markup of the main outlet, The Gotham Ledger: a typical local-news CMS page."""

from __future__ import annotations

from crawler.sample_site.content import Article
from crawler.sample_site.render import (
    SECTION_LABELS,
    TAGS,
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

_COOKIE_BANNER = """<div id="cookie-consent" class="cookie-banner" role="dialog" aria-live="polite">
  <p>We use cookies and similar technologies to improve your experience, measure our audience
  and show you relevant advertising. See our <a href="/about/#privacy">privacy notice</a>.</p>
  <button type="button" class="btn-accept">Accept all</button>
  <button type="button" class="btn-manage">Manage choices</button>
</div>"""

_NEWSLETTER = """<aside class="newsletter-signup">
  <h2>Get the Morning Ledger</h2>
  <p>The day's most important local stories, in your inbox before 7 a.m. Free, every weekday.</p>
  <form action="/newsletter/subscribe" method="post">
    <label for="nl-email">Email address</label>
    <input id="nl-email" type="email" name="email" placeholder="you@example.com" required>
    <button type="submit">Sign up</button>
  </form>
  <p class="fine-print">By signing up you agree to our terms of service and privacy notice.</p>
</aside>"""


def _head(ctx: PageContext, title: str, extra: str = "", lang: str = "en") -> str:
    return f"""<!doctype html>
<html lang="{esc(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} | {esc(ctx.info.outlet)}</title>
<link rel="stylesheet" href="/static/site.css">
<link rel="alternate" type="application/rss+xml" title="{esc(ctx.info.outlet)}"
  href="/feeds/rss.xml">
<link rel="alternate" type="application/atom+xml" title="{esc(ctx.info.outlet)}"
  href="/feeds/atom.xml">
<link rel="alternate" type="application/feed+json" title="{esc(ctx.info.outlet)}" href="/feed.json">
{extra}
<script>window.dataLayer = window.dataLayer || []; dataLayer.push({{"page": "ledger"}});</script>
</head>
<body class="ledger">
{_COOKIE_BANNER}"""


def _header(ctx: PageContext) -> str:
    links = "\n".join(
        f'    <li><a href="/section/{s}/">{esc(SECTION_LABELS[s])}</a></li>' for s in ctx.sections
    )
    return f"""<header class="site-header">
  <div class="masthead"><a class="logo" href="/">{esc(ctx.info.outlet)}</a>
  <span class="tagline">{esc(ctx.info.tagline)}</span></div>
  <div class="utility"><a href="/login/">Log in</a> <a href="/subscribe/">Subscribe</a>
  <form class="search" action="/search/" method="get">
    <input name="q" aria-label="Search"></form></div>
  <nav class="primary-nav" aria-label="Sections">
  <ul>
{links}
  </ul>
  </nav>
</header>"""


def _footer(ctx: PageContext) -> str:
    partner = ""
    if ctx.peer_base_url and ctx.peer_outlet:
        partner = (
            f'<li><a href="{esc(ctx.peer_base_url)}/">'
            f"Our wire partner: {esc(ctx.peer_outlet)}</a></li>"
        )
    return f"""<footer class="site-footer">
  <ul class="footer-links">
    <li><a href="/about/">About us</a></li>
    <li><a href="/contact/">Contact the newsroom</a></li>
    <li><a href="/about/#privacy">Privacy notice</a></li>
    <li><a href="/about/#terms">Terms of service</a></li>
    <li><a href="/feeds/rss.xml">RSS</a></li>
    {partner}
  </ul>
  <p>&copy; {esc(ctx.info.outlet)}. All rights reserved. Customer service: 1-800-555-0142.</p>
</footer>
</body>
</html>
"""


class MainTheme:
    """The Gotham Ledger's templates."""

    def article_page(self, ctx: PageContext, article: Article, related: list[Article]) -> str:
        """Render a full article page with the usual boilerplate around the story."""
        label = SECTION_LABELS[article.section]
        related_items = "\n".join(
            f'    <li><a href="{esc(href(r))}">{esc(r.title)}</a></li>' for r in related
        )
        comments = "\n".join(
            f"""    <li class="comment"><span class="comment-author">{esc(who)}</span>
      <p>{esc(text)}</p></li>"""
            for who, text in comments_for(article)
        )
        updated = ""
        if article.modified > article.published:
            updated = (
                f' <span class="updated">Updated <time datetime="{rfc3339(article.modified)}">'
                f"{esc(display_date(article.modified, article.lang))}</time></span>"
            )
        caption = f"{article.summary} (Photo: {ctx.info.outlet} staff)"
        when = esc(display_date(article.published, article.lang))
        return f"""{_head(ctx, article.title, head_meta(ctx, article), article.lang)}
{_header(ctx)}
<main id="content">
<nav class="breadcrumbs" aria-label="Breadcrumb"><ol>
  <li><a href="/">Home</a></li>
  <li><a href="/section/{article.section}/">{esc(label)}</a></li>
  <li aria-current="page">{esc(article.title)}</li>
</ol></nav>
<div class="ad-slot" data-slot="leaderboard">Advertisement</div>
<article class="story" itemscope itemtype="https://schema.org/NewsArticle">
  <header class="story-header">
    <p class="kicker"><a href="/section/{article.section}/">{esc(label)}</a></p>
    <h1 itemprop="headline">{esc(article.title)}</h1>
    <p class="dek">{esc(article.summary)}</p>
    <p class="byline">By <span class="author" itemprop="author">{esc(article.author)}</span>
    <time datetime="{rfc3339(article.published)}"
      itemprop="datePublished">{when}</time>{updated}</p>
  </header>
  <figure class="lead-image">
    <img src="{esc(image_url(ctx, article))}" alt="{esc(article.title)}" width="1200" height="675">
    <figcaption>{esc(caption)}</figcaption>
  </figure>
  <div class="story-body" itemprop="articleBody">
{body_paragraphs(article)}
  </div>
  <div class="share-tools"><a href="#comments">Comments</a> <a href="/contact/">Send a tip</a></div>
</article>
<section class="related-stories">
  <h2>Related stories</h2>
  <ul>
{related_items}
  </ul>
</section>
{_NEWSLETTER}
<section id="comments" class="comments">
  <h2>Reader comments</h2>
  <ol>
{comments}
  </ol>
  <p><a href="/login/">Log in to comment</a></p>
</section>
</main>
{_footer(ctx)}"""

    def listing_page(self, ctx: PageContext, listing: Listing) -> str:
        """Render a home, section or tag page with lots of navigation around the list."""
        items = "\n".join(
            f"""  <li class="teaser"><a href="{esc(href(a))}">{esc(a.title)}</a>
    <time datetime="{rfc3339(a.published)}">{esc(display_date(a.published, a.lang))}</time>
    <p>{esc(a.summary)}</p></li>"""
            for a in listing.articles
        )
        if not items:
            items = '  <li class="empty">No stories here yet.</li>'
        pager = []
        if listing.page > 1:
            prev = f"{esc(listing.path)}?page={listing.page - 1}"
            pager.append(f'<a rel="prev" href="{prev}">Newer</a>')
        if listing.has_next:
            nxt = f"{esc(listing.path)}?page={listing.page + 1}"
            pager.append(f'<a rel="next" href="{nxt}">Older</a>')
        tags = " ".join(f'<a class="tag" href="/tag/{t}/">{esc(t)}</a>' for t in TAGS)
        intro = f'<p class="intro">{esc(listing.intro)}</p>' if listing.intro else ""
        return f"""{_head(ctx, listing.title)}
{_header(ctx)}
<main id="content">
<h1>{esc(listing.title)}</h1>
{intro}
<ul class="story-list">
{items}
</ul>
<nav class="pagination">{" ".join(pager)}</nav>
<aside class="topics"><h2>Topics</h2>{tags}</aside>
<aside class="more"><a href="/about/">About</a> <a href="/contact/">Contact</a>
<a href="/login/">Log in</a> <a href="/section/nyc/?page=2">More New York</a></aside>
{_NEWSLETTER}
</main>
{_footer(ctx)}"""

    def simple_page(self, ctx: PageContext, title: str, paragraphs: list[str]) -> str:
        """Render a plain page (about, contact, login, errors)."""
        body = "\n".join(f"<p>{esc(p)}</p>" for p in paragraphs)
        return f"""{_head(ctx, title)}
{_header(ctx)}
<main id="content">
<h1>{esc(title)}</h1>
{body}
</main>
{_footer(ctx)}"""
