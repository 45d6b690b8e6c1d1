"""The article columns of a pipeline item, for the store stage's inserts and retries."""

from __future__ import annotations

import hashlib
from typing import Any

from crawler.items import ArticleItem
from crawler.storage.models import Article
from crawler.urls import fingerprint


def text_sha1(text: str | None) -> str | None:
    """The SHA-1 of an article text (None for none), to tell a changed revision."""
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest() if text else None


# What a retry of a `failed_internal` article refreshes (its URL, source and first_seen_at stay).
RETRY_COLUMNS = (
    "fetched_url",
    "crawl_run_id",
    "discovered_via",
    "http_status",
    "status",
    "status_reason",
    "title",
    "author",
    "published_at",
    "site_name",
    "language",
    "description",
    "text",
    "text_sha1",
    "simhash",
    "feed_title",
    "feed_published_at",
    "feed_guid",
)


def article_from_item(item: ArticleItem, source_id: int, run_id: int) -> Article:
    """An Article row from a pipeline item (extracted fields where extraction succeeded)."""
    return Article(**article_values(item, source_id, run_id))


def article_values(item: ArticleItem, source_id: int, run_id: int) -> dict[str, Any]:
    """The article columns of a pipeline item (the rest take their defaults)."""
    ex = item.extracted
    text = ex.text if ex is not None else None
    return dict(
        url=item.canonical_url,
        url_hash=fingerprint(item.canonical_url),
        fetched_url=item.url,
        source_id=source_id,
        crawl_run_id=run_id,
        discovered_via=item.discovered_via,
        http_status=item.http_status,
        status=item.status,
        status_reason=item.status_reason,
        attempts=1,
        title=(ex.title if ex is not None else None) or item.feed_title,
        author=ex.author if ex is not None else None,
        # The feed's timestamp is the publisher's own and carries the time of day; pages often
        # give only a date.
        published_at=item.feed_published or (ex.published if ex is not None else None),
        site_name=ex.sitename if ex is not None else None,
        language=ex.language if ex is not None else None,
        description=ex.description if ex is not None else None,
        text=text,
        text_sha1=text_sha1(text),
        simhash=item.simhash,
        cluster_id=item.extra.get("cluster_id"),
        feed_title=item.feed_title,
        feed_published_at=item.feed_published,
        feed_guid=item.feed_guid,
    )
