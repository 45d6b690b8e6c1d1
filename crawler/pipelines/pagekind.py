"""Stage 3b: recognise listing pages (home, section, tag, author, search) before extraction.

The cheap signals (page metadata, URL shape; see crawler.pagekind) decide here when they can;
otherwise the extract stage adds the link evidence in its worker. A `not_article` page is
stored with the reason and never matched or alerted.
"""

from __future__ import annotations

from crawler.items import ArticleItem
from crawler.pagekind import NOT_ARTICLE, before_extraction
from crawler.pipelines.base import Stage


class PageKindPipeline(Stage):
    """Mark pages the cheap signals show are not articles as `not_article`."""

    def process_item(self, item: ArticleItem) -> ArticleItem:
        """Scrapy hook."""
        if item.status != "pending":
            return item
        try:
            verdict = before_extraction(item.body, item.url)
        except Exception as exc:  # a bug of ours: retry later rather than guess
            self.fail_internal(item, "page kind", exc)
            return item
        item.extra["page_kind"] = verdict.kind
        if verdict.kind == NOT_ARTICLE:
            item.status, item.status_reason = NOT_ARTICLE, verdict.reason
            self.ctx.count("not_article")
        return item
