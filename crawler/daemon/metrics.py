"""Prometheus metrics of the daemon and of each worker, served on `/metrics` (prometheus-client).

Crawls by outcome, pages by status (from each run's counters), alerts by state (outbox rows,
refreshed with the heartbeat), queue depth (celery mode, leader only) and the last success per
source. Each process has its own registry, so tests can build several in one interpreter.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from crawler.errors import ConfigError

log = logging.getLogger(__name__)
PAGE_FIELDS = ("pages_fetched", "new_articles", "duplicates", "skipped", "matched", "failed")


class Metrics:
    """The metric families of one process (`role` is daemon or worker)."""

    def __init__(self, role: str) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.crawls = Counter(
            "newswatch_crawls", "Crawls finished, by outcome", ["outcome"], registry=reg
        )
        self.pages = Counter(
            "newswatch_pages", "Pages handled by crawls, by status", ["status"], registry=reg
        )
        self.alerts = Gauge("newswatch_alerts", "Outbox rows by state", ["state"], registry=reg)
        self.queue_depth = Gauge(
            "newswatch_queue_depth", "Crawl jobs waiting in the broker", registry=reg
        )
        self.last_success = Gauge(
            "newswatch_source_last_success_timestamp_seconds",
            "When each source last crawled successfully",
            ["source"],
            registry=reg,
        )
        self.up = Gauge("newswatch_up", "1 while this process runs", ["role"], registry=reg)
        self.up.labels(role=role).set(1)
        self.server: Any = None

    def crawl_done(self, outcome: Any) -> None:
        """Count one finished crawl (a RunOutcome)."""
        if outcome is None:
            return
        self.crawls.labels(outcome=outcome.status).inc()
        summary = outcome.summary or {}
        for name in PAGE_FIELDS:
            value = summary.get(name) or 0
            if isinstance(value, int) and value > 0:
                self.pages.labels(status=name).inc(value)
        if outcome.status in ("ok", "partial", "not_modified") and summary.get("finished_at"):
            from datetime import datetime

            finished = datetime.fromisoformat(str(summary["finished_at"]))
            self.last_success.labels(source=outcome.source).set(finished.timestamp())

    def set_alerts(self, counts: dict[str, int]) -> None:
        """Outbox rows by state (pending, sending, sent, failed, suppressed)."""
        for state in ("pending", "sending", "sent", "failed", "suppressed", *counts):
            self.alerts.labels(state=state).set(counts.get(state, 0))

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve /metrics on host:port (0 picks a free port); returns the port."""
        try:
            server, _thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}; "
                "choose another --metrics-port"
            ) from None
        self.server = server
        bound = int(server.server_address[1])
        log.info("event=metrics_serving url=http://%s:%s/metrics", host, bound)
        return bound
