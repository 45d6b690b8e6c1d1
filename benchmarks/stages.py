"""In-process CPU timing of each pipeline stage over the same pages the crawl fetched.

The real stage classes (`crawler.pipelines.*`) run one page at a time against a fresh SQLite
database, through a stand-in crawler that carries the same `CrawlContext` the spider builds;
work they hand to the crawl's worker processes runs in this process (`InlineWorkers`). Each
stage that a page reaches is timed with `time.process_time()`, so a stage's ms/page already
counts how many pages it sees (extraction and matching only run on pages the prefilter passed).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from benchmarks.corpus import RELEVANT_HTML, Page, inject_relevant

_WARM_PAGE = (
    b"<html><head><title>ICE agents arrest a man at the courthouse</title></head><body><article>"
    + RELEVANT_HTML
    + b"</article></body></html>"
)
# The store stage's share spent joining a matched article to its story cluster (inside "store").
CLUSTER_ASSIGN = "store.cluster_assign"
STAGE_ORDER = ("canonicalize", "dedup", "prefilter", "extract", "match", "cluster", "store")


@dataclass
class StageRun:
    """Per-stage CPU seconds over a set of pages, and what happened to them."""

    pages: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)
    reached: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    matched: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    extracted: list[tuple[str, str]] = field(default_factory=list)  # (title, text)

    def ms_per_page(self) -> dict[str, float]:
        """CPU ms per fetched page for each stage (0 for stages no page reached)."""
        n = max(self.pages, 1)
        return {s: self.cpu_s.get(s, 0.0) * 1000 / n for s in STAGE_ORDER if s in self.cpu_s}

    def clustering_ms_per_matched(self) -> float | None:
        """Story clustering's CPU per matched page: the fingerprint (the cluster stage) and
        joining a cluster (inside the store stage)."""
        if not self.matched:
            return None
        total = self.cpu_s.get("cluster", 0.0) + self.cpu_s.get(CLUSTER_ASSIGN, 0.0)
        return total * 1000 / self.matched

    def ms_per_call(self) -> dict[str, float]:
        """CPU ms per page that reached each stage."""
        return {
            s: self.cpu_s[s] * 1000 / self.reached[s]
            for s in STAGE_ORDER
            if s in self.cpu_s and self.reached[s]
        }


def _context(tmp: Path, name: str) -> Any:
    from crawler.config import settings_from_dict
    from crawler.runtime import CrawlContext
    from crawler.storage import repo
    from crawler.storage.db import Database

    db_path = tmp / f"stages-{name}.db"
    settings = settings_from_dict(
        {
            "database": {"url": f"sqlite:///{db_path}"},
            "sources": [
                {
                    "name": name,
                    "urls": ["http://127.0.0.1/feed.xml"],
                    "allow_private_hosts": ["127.0.0.1"],
                    "max_articles": 100000,
                }
            ],
        }
    )
    db = Database(settings.database_url)
    source = settings.source(name)
    with db.session() as session:
        row = repo.upsert_source(session, source)
        run_id = repo.create_run(session, row.id, trigger="manual", pid=None).id
        source_id = row.id
    return CrawlContext(settings, source, db, source_id, run_id, first_crawl=False)


def _item(page: Page, url: str) -> Any:
    from crawler.items import ArticleItem

    return ArticleItem(
        url=url,
        request_url=url,
        body=page.body,
        encoding=None,
        content_type="text/html",
        http_status=200,
        discovered_via="feed",
        feed_title=f"Story {page.id}",
        feed_published=datetime.now(UTC),
        feed_guid=url,
        feed_url="http://127.0.0.1/feed.xml",
    )


class InlineWorkers:
    """Stands in for the crawl's worker pool (`crawler.pipelines.workers.WorkerPool`): tasks
    run in this process, so the CPU they cost is counted against their stage."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        try:  # the pool's initializer: compile the prefilter, import trafilatura
            from crawler.pipelines import workers

            cfg = settings.matching
            workers._warm(list(cfg.topic_packs), dict(cfg.thresholds), list(cfg.disabled_topics))
        except (ImportError, AttributeError):
            pass

    def start(self) -> None:
        """Nothing to start."""

    def close(self) -> None:
        """Nothing to stop."""

    def recycle(self) -> None:
        """Nothing to recycle."""

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run the task here and now (the prefilter's task without the extraction a crawl
        folds into it, so that extraction's CPU is counted against the extract stage)."""
        from crawler.pipelines.workers import prefilter_page

        if func is prefilter_page and len(args) == 5:
            args = (*args[:4], None)
        return func(*args)


def time_stages(
    pages: Sequence[Page],
    tmp: Path,
    name: str,
    *,
    base_url: str = "http://127.0.0.1:1",
    keep_texts: bool = False,
) -> StageRun:
    """Run every page through the real pipeline stages once, timing each stage's CPU.

    Work a stage hands to the crawl's worker processes runs in this process instead (see
    `InlineWorkers`), so a stage's figure is its whole CPU cost wherever a crawl spends it.
    With `keep_texts`, pages the prefilter skipped are extracted too (untimed), so the caller
    gets the extracted text of every page for the matching benchmark.
    """
    import asyncio
    import inspect

    from scrapy.exceptions import DropItem

    from crawler.pipelines import store as store_module
    from crawler.pipelines.canonicalize import CanonicalizePipeline
    from crawler.pipelines.cluster import ClusterPipeline
    from crawler.pipelines.dedup import DedupPipeline
    from crawler.pipelines.extract import ExtractPipeline
    from crawler.pipelines.match import MatchPipeline
    from crawler.pipelines.prefilter import PrefilterPipeline
    from crawler.pipelines.store import StorePipeline

    ctx = _context(tmp, name)
    if hasattr(type(ctx), "workers"):
        ctx._workers = InlineWorkers(ctx.settings)
    crawler = SimpleNamespace(newswatch=ctx)
    classes = {
        "canonicalize": CanonicalizePipeline,
        "dedup": DedupPipeline,
        "prefilter": PrefilterPipeline,
        "extract": ExtractPipeline,
        "match": MatchPipeline,
        "cluster": ClusterPipeline,
        "store": StorePipeline,
    }
    stages: dict[str, Any] = {key: cls(crawler) for key, cls in classes.items()}  # type: ignore[arg-type]
    for stage in stages.values():
        opener = getattr(stage, "open_spider", None)
        if callable(opener):
            opener()
    loop = asyncio.new_event_loop()

    def run_all(item: Any) -> Any:
        for stage in STAGE_ORDER:
            if stage == "extract" and item.status != "pending":
                continue
            out = stages[stage].process_item(item)
            item = loop.run_until_complete(out) if inspect.isawaitable(out) else out
        return item

    # One-time costs a crawl process pays once (compiling the packs, loading the gazetteers the
    # incident records use, trafilatura's first call, the first insert of each kind) are paid
    # here, outside the timed region: a matching page runs once through every stage untimed.
    warm = Page("warm-up", None, inject_relevant(pages[0].body) if pages else _WARM_PAGE)
    run_all(_item(warm, f"{base_url}/{name}/warm-up/{warm.slug}.html"))

    result = StageRun()
    cpu: Counter[str] = Counter()
    assign = getattr(store_module, "_cluster", None)

    def timed_assign(*args: Any, **kwargs: Any) -> Any:  # part of the store stage's CPU
        start = time.process_time()
        try:
            return assign(*args, **kwargs)  # type: ignore[misc]
        finally:
            cpu[CLUSTER_ASSIGN] += time.process_time() - start

    if assign is not None:
        store_module._cluster = timed_assign
    untimed: list[Page] = []  # pages the prefilter skipped, extracted afterwards for their text

    def run_stage(stage: str, item: Any) -> Any:
        result.reached[stage] += 1
        start = time.process_time()
        try:
            out = stages[stage].process_item(item)
            return loop.run_until_complete(out) if inspect.isawaitable(out) else out
        finally:
            cpu[stage] += time.process_time() - start

    try:
        for index, page in enumerate(pages):
            item = _item(page, f"{base_url}/{name}/{index:05d}/{page.slug}.html")
            result.pages += 1
            try:
                for stage in STAGE_ORDER:
                    if stage == "extract" and item.status != "pending":
                        if keep_texts:
                            untimed.append(page)
                        continue
                    item = run_stage(stage, item)
                    if stage == "extract" and keep_texts and item.extracted is not None:
                        result.extracted.append((item.extracted.title or "", item.extracted.text))
            except DropItem as exc:
                result.statuses["dropped"] += 1
                result.errors.setdefault("dropped", str(exc)[:200])
                continue
            result.statuses[item.status] += 1
            result.matched += bool(item.matches)
    finally:
        if assign is not None:
            store_module._cluster = assign
        for key, stage in stages.items():
            closer = getattr(stage, "close_spider", None)
            if callable(closer):  # the store stage writes its last batch here: its CPU counts
                start = time.process_time()
                closer()
                cpu[key] += time.process_time() - start
        loop.close()
        ctx.db.dispose()
    result.cpu_s = dict(cpu)
    if untimed:
        result.extracted.extend(extract_texts(untimed))
    return result


def extract_texts(pages: Sequence[Page]) -> list[tuple[str, str]]:
    """(title, text) of every page that extracts, using a process per CPU (forked, warm)."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from crawler.extract import Extracted, extract_to_dict, result_from_dict

    bodies = [p.body for p in pages]
    nones = [None] * len(bodies)
    workers = max(1, min(os.cpu_count() or 1, len(bodies)))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        results = list(pool.map(extract_to_dict, bodies, nones, nones, chunksize=4))
    out = []
    for data in results:
        extracted = result_from_dict(data)
        if isinstance(extracted, Extracted):
            out.append((extracted.title or "", extracted.text))
    return out
