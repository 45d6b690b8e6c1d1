"""Stage 3b: recognise listing pages (home, section, tag, author, search) before extraction.

The cheap signals (page metadata, URL shape; see crawler.pagekind) decide here when they can
(for a page that passed the prefilter, the prefilter's worker task has already judged them);
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
        done = item.extra.pop("page_kind_done", None)  # decided in the prefilter's worker task
        if done is not None:
            kind, reason = done
        else:
            try:
                verdict = before_extraction(item.body, item.url)
            except Exception as exc:  # a bug of ours: retry later rather than guess
                self.fail_internal(item, "page kind", exc)
                return item
            kind, reason = verdict.kind, verdict.reason
        item.extra["page_kind"] = kind
        if kind == NOT_ARTICLE:
            item.status, item.status_reason = NOT_ARTICLE, reason
            self.ctx.count("not_article")
        return item
