"""The crawl's worker pool when workers die or hang: every task in flight fails as
`WorkerFailed` (recorded as our failure, retried by a later crawl), none is lost as a
cancellation, and the pool serves the next task."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.config import load_settings
from crawler.pipelines.workers import WorkerFailed, WorkerPool


def die(*_args: Any) -> Any:
    """A task whose worker process dies (as an OOM kill or a segfault would)."""
    os._exit(3)


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[WorkerPool]:
    config = tmp_path / "newswatch.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "nw.db"}"\n'
        "[crawl]\nextract_workers = 1\nextract_timeout = 1\n",
        encoding="utf-8",
    )
    workers = WorkerPool(load_settings(config))
    workers.start()
    yield workers
    workers.close()


def test_the_workers_are_forked_when_the_pool_starts(pool: WorkerPool) -> None:
    assert pool.pool is not None
    assert len(pool.pool._processes) == 1


def test_tasks_broken_by_one_dead_worker_fail_alone_and_the_next_stage_runs(
    pool: WorkerPool,
) -> None:
    async def page(index: int) -> int:
        """A page's prefilter task, then (as the extract stage does after a failure) its next."""
        try:
            await pool.run(die if index == 0 else time.sleep, 0.2)
        except WorkerFailed as exc:
            assert str(exc) == "worker process died"
        return int(await pool.run(len, b"x" * index))

    async def crawl() -> list[Any]:
        return await asyncio.gather(*(page(i) for i in range(4)), return_exceptions=True)

    assert asyncio.run(crawl()) == [0, 1, 2, 3]


def test_tasks_queued_behind_a_hung_one_fail_with_it_not_as_cancellations(
    pool: WorkerPool,
) -> None:
    async def queued() -> Any:
        await asyncio.sleep(0.4)  # queued after the hung task, timing out later than it
        return await pool.run(len, b"abc")

    async def crawl() -> list[Any]:
        hung = pool.run(time.sleep, 30)
        # One worker: the call queue holds two tasks, the rest wait in the pool (cancellable).
        return await asyncio.gather(hung, *(queued() for _ in range(4)), return_exceptions=True)

    results = asyncio.run(crawl())
    assert str(results[0]) == "took longer than 1 s"
    assert all(isinstance(r, WorkerFailed) for r in results), results
    assert asyncio.run(pool.run(len, b"abcd")) == 4


def test_a_pool_that_broke_while_idle_fails_the_next_task_alone(pool: WorkerPool) -> None:
    executor = pool.pool
    assert executor is not None
    [process] = executor._processes.values()
    process.kill()  # an OOM kill between two tasks
    manager: Any = executor._executor_manager_thread
    manager.join(10)  # it marks the pool broken, then ends
    with pytest.raises(WorkerFailed, match="worker process died"):
        asyncio.run(pool.run(len, b"x"))
    assert asyncio.run(pool.run(len, b"ab")) == 2
