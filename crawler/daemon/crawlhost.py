"""A warm crawl process: one Twisted reactor runs many crawls, one CrawlRun each, fed on stdin.

Starting `scrapy crawl` costs 2–4 s of CPU (interpreter, Scrapy, the extraction pool's
warm-up); this process pays it once and then runs every job it is given. Jobs arrive as JSON
lines on stdin (`{"op": "crawl", "run_id": 7, "source": "x", "spider": "feed"}`, `{"op": "stop",
"run_id": 7}`); results leave as JSON lines on the original stdout (`{"event": "done", "run_id":
7, "error": null}`), while fd 1 is pointed at stderr so nothing Scrapy prints can corrupt them.
The parent (crawler.daemon.hosts) keeps the timeouts and records what a dead process carried.
The process dies with its parent: PR_SET_PDEATHSIG for it and every process it forks, and EOF
on stdin.

Run as `python -m crawler.daemon.crawlhost`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, TextIO

from crawler.lifetime import die_with_parent, parent_from_env


class Host:
    """The reactor side: starts, stops and reports crawls."""

    def __init__(self, proto: TextIO) -> None:
        from scrapy.crawler import CrawlerRunner
        from scrapy.utils.log import configure_logging
        from scrapy.utils.project import get_project_settings

        settings = get_project_settings()
        settings.set("NEWSWATCH_WARM", True)  # share settings, database and pools (runtime.py)
        configure_logging(settings)
        self.runner = CrawlerRunner(settings)
        self.proto = proto
        self.crawlers: dict[int, Any] = {}

    def send(self, message: dict[str, Any]) -> None:
        """Write one result line (reactor thread only)."""
        self.proto.write(json.dumps(message) + "\n")
        self.proto.flush()

    def handle(self, line: str) -> None:
        """Act on one job line; a malformed line is reported, never fatal."""
        try:
            job = json.loads(line)
            op, run_id = job["op"], int(job["run_id"])
        except (ValueError, KeyError, TypeError) as exc:
            self.send({"event": "bad_job", "error": repr(exc)[:300]})
            return
        if op == "crawl":
            self.start(run_id, str(job["source"]), str(job["spider"]))
        elif op == "stop" and run_id in self.crawlers:
            self.crawlers[run_id].stop()

    def start(self, run_id: int, source: str, spider: str) -> None:
        """Start one crawl in this reactor; report when it ends however it ends."""
        from twisted.python.failure import Failure

        try:
            crawler = self.runner.create_crawler(spider)
            deferred = self.runner.crawl(crawler, source=source, run_id=str(run_id))
        except Exception as exc:  # an unknown spider, a bad source: this job fails alone
            self.send({"event": "done", "run_id": run_id, "error": repr(exc)[:500]})
            return
        self.crawlers[run_id] = crawler

        def done(result: Any) -> None:
            self.crawlers.pop(run_id, None)
            error = result.getErrorMessage()[:500] if isinstance(result, Failure) else None
            self.send({"event": "done", "run_id": run_id, "error": error})

        deferred.addBoth(done)


def main() -> int:
    """Serve crawl jobs until stdin closes (the parent is gone or done with us)."""
    die_with_parent(parent_from_env())
    # Extraction workers forked by this process die with it, too.
    os.register_at_fork(after_in_child=die_with_parent)
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # Jobs are read from a private copy of fd 0 with os.read: a forked extraction worker closes
    # sys.stdin on start, which would deadlock on the buffer lock our reader thread holds.
    jobs_fd = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 (for the process' life)
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import reactor

    host = Host(proto)

    def read_jobs() -> None:
        pending = b""
        while chunk := os.read(jobs_fd, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                reactor.callFromThread(host.handle, line.decode("utf-8", "replace"))  # type: ignore[attr-defined]
        os._exit(0)  # the parent closed our stdin or died: nothing left to report to

    threading.Thread(target=read_jobs, name="jobs", daemon=True).start()
    reactor.callWhenRunning(host.send, {"event": "ready", "pid": os.getpid()})  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined,misc]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
