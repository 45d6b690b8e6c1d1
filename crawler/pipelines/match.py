"""Stage 5: run the topic matchers on the extracted text.

Topics over their threshold go to `item.matches`; near misses (a rule fired and the score
reached `[matching] possible_share` of the threshold) go to `item.extra["possible"]`, which
the store stage keeps as `possible` matches: listed for review, never alerted.
"""

from __future__ import annotations

from crawler.items import ArticleItem
from crawler.matching import Document, near_matches
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
            results = self.ctx.matcher.evaluate(doc)
        except Exception as exc:  # a matcher or pack bug: retry this page once it is fixed
            item.matches = []
            self.fail_internal(item, "matching", exc)
            return item
        item.matches = [r for r in results if r.matched]
        possible = near_matches(results, self.ctx.settings.matching.possible_share)
        if possible:
            item.extra["possible"] = possible
            self.ctx.count("possible")
        if item.matches:
            self.ctx.count("matched")
        return item
