"""`newswatch worker`: run crawl jobs from the broker (distributed mode)."""

from __future__ import annotations

from pathlib import Path

import click

from crawler.cli.context import AppContext, pass_app


@click.command("worker")
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Crawls this worker runs at once.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus /metrics on 127.0.0.1:PORT (default: [scheduler] "
    "metrics_port; 0 = off).",
)
@click.option(
    "--crawl-logs",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the crawl processes' logs in DIR.",
)
@click.option(
    "--log-format",
    type=click.Choice(["kv", "json"]),
    help="key=value lines or JSON lines (default: [logging] format).",
)
@pass_app
def worker(
    app: AppContext,
    concurrency: int,
    metrics_port: int | None,
    crawl_logs: Path | None,
    log_format: str | None,
) -> None:
    """Run crawl jobs queued by the leader (`newswatch run` with executor = "celery").

    Needs $NEWSWATCH_BROKER_URL and a PostgreSQL database. Start as many as you like, on any
    machine; SIGTERM lets running crawls finish (a SIGKILLed worker's jobs are redelivered).
    """
    settings = app.settings
    from crawler.daemon.executors.celery import check_distributed

    check_distributed(settings)  # before the database is opened (or created)
    from crawler.logs import setup_logging

    setup_logging(settings.logging.level, log_format or settings.logging.format)
    from crawler.daemon.worker import CrawlWorker

    if crawl_logs is not None:
        crawl_logs.mkdir(parents=True, exist_ok=True)
    runner = CrawlWorker(settings, app.db, concurrency=concurrency, log_dir=crawl_logs)
    port = settings.scheduler.metrics_port if metrics_port is None else metrics_port
    code = runner.run(metrics_port=port)
    if code:
        raise SystemExit(code)


commands: list[click.Command] = [worker]
