"""The crawl's worker processes: CPU-heavy pure work runs here, off the reactor thread.

Processes, not threads: trafilatura and htmldate share one lxml parser, and threaded
extraction corrupts the heap. One warmed pool per crawl serves the prefilter stage (scan and
compress the raw page) and the extract stage. A task that outlives `crawl.extract_timeout` is
recorded as failed and the pool is recycled so the stuck worker cannot block the crawl.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from crawler.config import Settings
from crawler.extract import extract_to_dict
from crawler.storage.rawhtml import compress_html

_prefilter: Any = None


class WorkerFailed(Exception):
    """A worker task timed out or its process died; the reason is the message."""


def _warm(packs: Sequence[Path], thresholds: dict[str, float], disabled: Sequence[str]) -> None:
    """Worker initializer: import trafilatura and compile the prefilter once per process."""
    global _prefilter
    import trafilatura  # noqa: F401

    from crawler.matching import load_matcher

    _prefilter = load_matcher(packs, thresholds, disabled).prefilter


def prefilter_page(
    body: bytes,
    feed_title: str | None,
    keep_raw: bool,
    scan: bool = True,
    extract: tuple[str | None, str | None] | None = None,
) -> dict[str, Any]:
    """Scan a raw page for topic terms (and the feed title the match stage may fall back on),
    compress it for storage and, given `extract` = (url, encoding), extract a page that passed
    in the same task, so the page crosses to a worker once."""
    passed, reason, hits = True, "prefilter off", ()
    if scan:
        result = _prefilter.scan(body, title=feed_title)
        passed, reason, hits = result.passed, result.reason, tuple(result.hits)
    return {
        "passed": passed,
        "reason": reason,
        "hits": hits,
        "raw_gzip": compress_html(body) if keep_raw else None,
        **(_kind_and_extract(body, *extract) if passed and extract else {}),
    }


def _kind_and_extract(body: bytes, url: str | None, encoding: str | None) -> dict[str, Any]:
    """The page-kind stage's cheap verdict and, unless it says `not_article`, the extraction
    (with the link evidence where the verdict is open). A failure here leaves both to their
    own stages, which record it."""
    from crawler.pagekind import ARTICLE, NOT_ARTICLE, before_extraction

    try:
        verdict = before_extraction(body, url or "")
    except Exception:
        return {}
    out: dict[str, Any] = {"page_kind": (verdict.kind, verdict.reason)}
    if verdict.kind != NOT_ARTICLE:
        out["extracted"] = extract_to_dict(body, url, encoding, verdict.kind != ARTICLE)
    return out


def worker_count(configured: int) -> int:
    """Worker processes: the configured number, or one per CPU core but the one the crawl
    process itself keeps busy (fetching, matching, storing): on two cores a second worker
    only competes with it, for ~90 MB more memory."""
    return configured if configured > 0 else max(1, (os.cpu_count() or 1) - 1)


class WorkerPool:
    """A recyclable process pool with per-task timeouts, awaited from the reactor."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start (or restart) the worker processes."""
        cfg = self.settings.matching
        args = (list(cfg.topic_packs), dict(cfg.thresholds), list(cfg.disabled_topics))
        # Warm up here before forking: the workers then share trafilatura and the compiled
        # matcher with this process instead of each building its own copy, and with the heap
        # frozen the collector never writes to (and so never copies) those shared pages.
        _warm(*args)
        gc.freeze()
        self.pool = ProcessPoolExecutor(
            max_workers=worker_count(self.settings.crawl.extract_workers),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_warm,
            initargs=args,
        )
        # Fork the workers now, while the heap is what the warm-up left: forked at the first
        # task instead, each would inherit (and keep a copy of) whatever the crawl allocated
        # until then, and the crawl's own writes to those pages after the fork.
        self.pool.submit(int)

    def recycle(self, failed: ProcessPoolExecutor | None = None) -> None:
        """Kill the workers (a stuck one ignores shutdown()) and start fresh ones.

        Given the pool a task `failed` in, only that pool is recycled: the other tasks it broke
        fail with it, and must not recycle (and so cancel the tasks of) its successor.
        """
        if failed is not None and failed is not self.pool:
            return
        pool, self.pool = self.pool, None
        if pool is not None:
            processes = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
        self.start()

    def close(self) -> None:
        """Stop the workers."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run `func(*args)` in a worker; WorkerFailed on timeout or a dead worker."""
        if self.pool is None:
            self.start()
        pool = self.pool
        assert pool is not None
        timeout = self.settings.crawl.extract_timeout
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] | None = None
        try:  # submitting raises BrokenProcessPool too, for a pool that broke between two tasks
            future = loop.run_in_executor(pool, func, *args)
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self.recycle(pool)
            raise WorkerFailed(f"took longer than {timeout:g} s") from None
        except BrokenProcessPool:
            self.recycle(pool)
            raise WorkerFailed("worker process died") from None
        except asyncio.CancelledError:
            # Our task queued in a pool another task's timeout recycled: the page failed with
            # that pool, it was not the crawl being stopped.
            current = asyncio.current_task()
            cancelled = future is not None and future.cancelled()
            if cancelled and current is not None and not current.cancelling():
                raise WorkerFailed("worker pool restarted under it") from None
            raise
