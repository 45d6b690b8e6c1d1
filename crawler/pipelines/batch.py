"""Pages that matched nothing are stored in batches: one INSERT and one commit for many.

Nineteen pages in twenty match no topic (most are skipped by the prefilter); each used to cost
a transaction of its own on the reactor thread (an ORM flush, two INSERTs, a commit), a
quarter of the crawl process's CPU. The store stage hands such a page here instead; it is
written with up to BATCH_SIZE others by one multi-row INSERT … ON CONFLICT DO NOTHING
RETURNING (SQLite and PostgreSQL), at the latest FLUSH_SECONDS later and when the crawl closes.

Nothing is lost that matters: a page waiting here when the crawl process is killed is not
stored, so not seen, and the next crawl fetches it again (the run saves no feed validators
when it did not close). A page whose URL is taken meanwhile (another crawl stored it, or a
`failed_internal` row to retry) and every page of a batch that fails is stored one by one by
the store stage's own path, which handles those cases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from crawler.items import ArticleItem
from crawler.storage.models import Article, RawPage, utcnow
from crawler.storage.rawhtml import compress_html

log = logging.getLogger(__name__)
BATCH_SIZE = 50
FLUSH_SECONDS = 0.5
DIALECTS = ("sqlite", "postgresql")


def _insert(dialect: str, table: Table) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def insert_articles(
    session: Session,
    rows: Sequence[tuple[dict[str, Any], dict[str, Any] | None]],
) -> dict[str, int]:
    """Insert (article values, raw page values or None) pairs; {url: id} of those inserted
    (a URL already stored is left alone and missing from the result)."""
    dialect = session.get_bind().dialect.name
    stmt = (
        _insert(dialect, Article.__table__)  # type: ignore[arg-type]
        .values([values for values, _raw in rows])
        .on_conflict_do_nothing(index_elements=["url"])
        .returning(Article.__table__.c.id, Article.__table__.c.url)
    )
    ids = {str(url): int(ident) for ident, url in session.execute(stmt)}
    raw = [
        {**page, "article_id": ids[values["url"]]}
        for values, page in rows
        if page is not None and values["url"] in ids
    ]
    if raw:
        session.execute(insert(RawPage), raw)
    return ids


class PendingPages:
    """The store stage's batch of pages that matched nothing, waiting to be written."""

    def __init__(
        self,
        write: Callable[[Sequence[tuple[dict[str, Any], dict[str, Any] | None]]], dict[str, int]],
        one_by_one: Callable[[ArticleItem], None],
        inserted: Callable[[int], None],
    ) -> None:
        self._write, self._one_by_one, self._inserted = write, one_by_one, inserted
        self.items: list[tuple[ArticleItem, dict[str, Any], dict[str, Any] | None]] = []

    def add(self, item: ArticleItem, values: dict[str, Any], keep_raw: bool) -> None:
        """Queue a page (written when the batch is full)."""
        raw = None
        if keep_raw:
            item.extra["raw_gzip"] = item.extra.get("raw_gzip") or compress_html(item.body)
            raw = {
                "html_gzip": item.extra["raw_gzip"],
                "encoding": item.encoding,
                "content_type": item.content_type,
                "fetched_at": values["fetched_at"],
            }
        item.body = b""  # waiting pages hold their compressed copy only (~1/5 of the size)
        self.items.append((item, values, raw))
        if len(self.items) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        """Write the waiting pages (those the batch did not insert, one by one)."""
        batch, self.items = self.items, []
        if not batch:
            return
        try:
            ids = self._write([(values, raw) for _item, values, raw in batch])
        except Exception as exc:  # one by one, each with the store stage's own handling
            log.warning(
                "event=batch_store_failed pages=%s reason=%s",
                len(batch),
                f"{type(exc).__name__}: {exc}",
            )
            ids = {}
        self._inserted(len(ids))
        for item, values, _raw in batch:
            if values["url"] not in ids:
                self._one_by_one(item)


def stamp(values: dict[str, Any]) -> dict[str, Any]:
    """Article values with the times of now (when the page was processed, not written)."""
    now = utcnow()
    values.setdefault("first_seen_at", now)
    values.setdefault("fetched_at", now)
    return values
