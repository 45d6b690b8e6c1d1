"""The local executor: crawls run on this machine, in warm crawl processes or one process each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler.config import Settings
from crawler.daemon.hosts import HostPool
from crawler.daemon.runner import CrawlProcess, RunOutcome
from crawler.sources import SourceConfig
from crawler.storage.db import Database


class LocalExecutor:
    """Runs one crawl and waits for it; `warm` feeds a HostPool, `per_crawl` spawns `scrapy`."""

    def __init__(self, db: Database, settings: Settings, *, log_dir: Path | None = None) -> None:
        self.db, self.settings, self.log_dir = db, settings, log_dir
        cfg = settings.scheduler
        self.warm = cfg.crawl_processes == "warm"
        self.hosts = HostPool(db, settings, log_dir=log_dir, hosts=cfg.crawl_hosts)

    def run(
        self,
        source: SourceConfig,
        *,
        trigger: str,
        timeout: float,
        on_start: Callable[[Any], None],
    ) -> RunOutcome:
        """Crawl `source` and return how it ended (always recorded on its CrawlRun)."""
        if self.warm:
            return self.hosts.run(source, trigger=trigger, timeout=timeout, on_start=on_start)
        log_file = self.log_dir / f"{source.name}.log" if self.log_dir else None
        proc = CrawlProcess(self.db, self.settings, source, trigger=trigger, log_file=log_file)
        on_start(proc)
        try:
            return proc.wait(timeout)
        finally:
            proc.reap()

    def close(self) -> None:
        """Stop the warm crawl processes."""
        self.hosts.close()
