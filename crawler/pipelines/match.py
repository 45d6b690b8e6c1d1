"""Stage 5: run the topic matchers on the extracted text."""

from __future__ import annotations

from crawler.items import ArticleItem
from crawler.matching import Document
from crawler.pipelines.base import Stage


class MatchPipeline(Stage):
    """Attach the topics an extracted article matches, with their explanations."""

    def process_item(self, item: ArticleItem) -> ArticleItem:
        """Scrapy hook."""
        if item.status != "extracted" or item.extracted is None:
            return item
        ex = item.extracted
        doc = Document(
            title=ex.title or item.feed_title or "",
            text=ex.text,
            lang=ex.language,
            url=item.canonical_url,
        )
        try:
            item.matches = self.ctx.matcher.match(doc)
        except Exception as exc:  # a matcher or pack bug: retry this page once it is fixed
            item.matches = []
            self.fail_internal(item, "matching", exc)
            return item
        if item.matches:
            self.ctx.count("matched")
        return item
