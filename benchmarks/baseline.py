"""Baselines, each run in its own process with Scrapy's CrawlerProcess.

`naive`: a plain Scrapy spider that reads the feeds, runs `trafilatura.extract` on every page
inside the item pipeline (on the reactor thread), matches keywords by substring, and stores
every page in SQLite (WAL, synchronous=NORMAL, one commit per page, like newswatch's store).
`fetch`: the same spider without any processing — the ceiling for a Scrapy crawl here.

    python -m benchmarks.baseline --mode naive --db out.db --out result.json FEED_URL...
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.http import Request, Response

KEYWORDS = (
    "ice",
    "immigration",
    "court",
    "courthouse",
    "sanctuary",
    "detainer",
    "deport",
    "287(g)",
)


def naive_match(text: str) -> list[str]:
    """The keywords that occur as substrings of the lower-cased text (the naive way)."""
    low = text.lower()
    return [k for k in KEYWORDS if k in low]


def steady_rate(times: list[float] | None) -> float | None:
    """Pages per second over the second half of the pages (start-up excluded)."""
    if not times or len(times) < 4:
        return None
    ordered = sorted(times)
    mid = len(ordered) // 2
    span = ordered[-1] - ordered[mid]
    return (len(ordered) - 1 - mid) / span if span > 0 else None


class BaselineSpider(scrapy.Spider):
    """Fetch the feeds, then every article they list."""

    name = "baseline"

    def __init__(self, feeds: list[str], mode: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.feeds = feeds
        self.mode = mode
        self.pages = 0
        self.last_page_at: float | None = None
        self.page_times: list[float] = []

    async def start(self) -> AsyncIterator[Any]:
        """The feed requests."""
        for url in self.feeds:
            yield Request(url, callback=self.parse_feed, dont_filter=True, priority=10)

    def parse_feed(self, response: Response) -> Iterable[Request]:
        """One request per feed item link."""
        for link in response.xpath("//item/link/text()").getall():
            yield Request(link.strip(), callback=self.parse_article)

    def parse_article(self, response: Response) -> Iterable[dict[str, Any]]:
        """Count the page; in naive mode hand it to the pipeline."""
        self.pages += 1
        self.last_page_at = time.time()
        if self.mode == "fetch":
            self.page_times.append(self.last_page_at)
        if self.mode == "naive":
            yield {"url": response.url, "html": response.text}


class NaivePipeline:
    """trafilatura.extract + substring keywords + one SQLite commit per page."""

    def __init__(self, crawler: Crawler) -> None:
        self.db_path = crawler.settings.get("BASELINE_DB")
        self.stats = crawler.stats
        self.stored_times: list[float] = []
        crawler.naive_stored_times = self.stored_times  # type: ignore[attr-defined]
        self.conn: sqlite3.Connection | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NaivePipeline:
        """Scrapy hook."""
        return cls(crawler)

    def open_spider(self) -> None:
        """Open the database."""
        import trafilatura  # noqa: F401 (import before the first page, as newswatch warms)

        self.conn = sqlite3.connect(self.db_path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS articles (id INTEGER PRIMARY KEY, url TEXT UNIQUE, "
            "title TEXT, text TEXT, keywords TEXT, matched INTEGER, fetched_at REAL)"
        )
        self.conn.commit()

    def close_spider(self) -> None:
        """Close the database."""
        if self.conn is not None:
            self.conn.close()

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """Extract, match, store."""
        import trafilatura

        assert self.conn is not None
        text = trafilatura.extract(item["html"]) or ""
        found = naive_match(text)
        title = text.split("\n", 1)[0][:200] if text else None
        self.conn.execute(
            "INSERT OR IGNORE INTO articles (url, title, text, keywords, matched, fetched_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (item["url"], title, text, ",".join(found), int(bool(found)), time.time()),
        )
        self.conn.commit()
        if self.stats is not None:
            self.stats.inc_value("naive/stored")
            self.stats.inc_value("naive/matched", int(bool(found)))
            self.stats.set_value("naive/last_stored_at", time.time())
        self.stored_times.append(time.time())
        return {"url": item["url"]}  # drop the HTML so nothing downstream holds it


def run(
    feeds: list[str], mode: str, db: Path, out: Path, concurrency: int, timeout: float
) -> dict[str, Any]:
    """Crawl the feeds with the baseline spider and write the result JSON."""
    settings: dict[str, Any] = {
        "BOT_NAME": "baseline",
        "ROBOTSTXT_OBEY": True,
        "USER_AGENT": "newswatch-bench-baseline/0.1",
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "RETRY_ENABLED": False,
        "DOWNLOAD_MAXSIZE": 5_000_000,
        "DOWNLOAD_WARNSIZE": 0,
        "LOG_LEVEL": "WARNING",
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "CLOSESPIDER_TIMEOUT": timeout,
        "BASELINE_DB": str(db),
        "ITEM_PIPELINES": {"benchmarks.baseline.NaivePipeline": 100} if mode == "naive" else {},
    }
    started = time.time()
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BaselineSpider)
    process.crawl(crawler, feeds=feeds, mode=mode)
    process.start()
    spider: BaselineSpider = crawler.spider  # type: ignore[assignment]
    stats = crawler.stats.get_stats() if crawler.stats else {}
    result = {
        "mode": mode,
        "pages": spider.pages,
        "stored": int(stats.get("naive/stored", 0)),
        "matched": int(stats.get("naive/matched", 0)),
        "started_at": started,
        "finished_at": time.time(),
        "last_page_at": spider.last_page_at,
        "last_stored_at": stats.get("naive/last_stored_at"),
        "steady_pages_per_s": steady_rate(
            getattr(crawler, "naive_stored_times", None) if mode == "naive" else spider.page_times
        ),
        "stats": {k: v for k, v in stats.items() if isinstance(v, int | float)},
    }
    out.write_text(json.dumps(result), encoding="utf-8")
    return result


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["naive", "fetch"], required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=0, help="Close after this many s.")
    parser.add_argument("feeds", nargs="+")
    args = parser.parse_args()
    run(args.feeds, args.mode, args.db, args.out, args.concurrency, args.timeout)


if __name__ == "__main__":
    main()
