"""A small threaded HTTP server on 127.0.0.1 that serves the benchmark pages from memory.

Each named page set (e.g. "real", "relevant") is replicated to `copies` unique URLs
`/<set>/<index>/<slug>.html`; copy `i` is base page `i % len(pages)` with a per-copy HTML comment
appended. The set is listed by RSS feeds `/feeds/<set>/<k>.xml` (`feed_size` items each) and by
a sitemap `/sitemaps/<set>.xml`; `/robots.txt` allows everything.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import cast
from xml.sax.saxutils import escape

from benchmarks.corpus import Page, copy_token


class PageSet:
    """Base pages replicated to `copies` URLs."""

    def __init__(self, name: str, pages: Sequence[Page], bodies: Sequence[bytes], copies: int):
        if not pages or len(pages) != len(bodies):
            raise ValueError("a page set needs at least one page and one body per page")
        self.name = name
        self.pages = list(pages)
        self.bodies = list(bodies)
        self.copies = copies

    def path(self, index: int) -> str:
        """The URL path of copy `index`."""
        return f"/{self.name}/{index:05d}/{self.pages[index % len(self.pages)].slug}.html"

    def body(self, index: int) -> bytes:
        """The body of copy `index` (base page plus its token)."""
        return self.bodies[index % len(self.bodies)] + copy_token(index)


class BenchSite:
    """The server; use as a context manager or `start()` / `stop()`."""

    def __init__(self, sets: Sequence[PageSet], *, feed_size: int = 500) -> None:
        self.sets = {s.name: s for s in sets}
        self.feed_size = feed_size
        self.requests = 0
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._published = format_datetime(datetime.now(UTC).replace(microsecond=0), usegmt=True)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.site = self
        self._thread: threading.Thread | None = None
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> BenchSite:
        """Serve in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="bench-site", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> BenchSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- URLs ---------------------------------------------------------------------------------

    def feed_urls(self, name: str, limit: int | None = None) -> list[str]:
        """The feed URLs of a set; with `limit`, just enough feeds for that many articles."""
        total = self.sets[name].copies if limit is None else min(limit, self.sets[name].copies)
        count = -(-total // self.feed_size)
        return [f"{self.base_url}/feeds/{name}/{k}.xml" for k in range(count)]

    def sitemap_url(self, name: str) -> str:
        """The sitemap listing every URL of a set."""
        return f"{self.base_url}/sitemaps/{name}.xml"

    def article_url(self, name: str, index: int) -> str:
        """The absolute URL of copy `index` of a set."""
        return self.base_url + self.sets[name].path(index)

    # -- documents ----------------------------------------------------------------------------

    def feed(self, name: str, k: int) -> bytes | None:
        """RSS 2.0 feed `k` of a set, or None past the last one."""
        pages = self.sets[name]
        first = k * self.feed_size
        if first >= pages.copies or k < 0:
            return None
        items = []
        for i in range(first, min(first + self.feed_size, pages.copies)):
            url = escape(self.article_url(name, i))
            title = escape(f"Story {i} ({pages.pages[i % len(pages.pages)].id})")
            items.append(
                f"<item><title>{title}</title><link>{url}</link>"
                f'<guid isPermaLink="true">{url}</guid><pubDate>{self._published}</pubDate>'
                f"<description>Benchmark copy {i}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>bench {name} {k}</title><link>{self.base_url}/</link>"
            f"<description>newswatch benchmark feed</description>{''.join(items)}"
            "</channel></rss>\n"
        ).encode()

    def sitemap(self, name: str) -> bytes:
        """A sitemap listing every URL of a set."""
        pages = self.sets[name]
        urls = "".join(
            f"<url><loc>{escape(self.article_url(name, i))}</loc></url>"
            for i in range(pages.copies)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n'
        ).encode()

    def respond(self, path: str) -> tuple[int, str, bytes]:
        """Status, content type and body for a GET of `path`."""
        path = path.split("?", 1)[0]
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n"
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "feeds" and parts[1] in self.sets:
            k = parts[2].removesuffix(".xml")
            feed = self.feed(parts[1], int(k)) if k.isdigit() else None
            if feed is not None:
                return 200, "application/rss+xml; charset=utf-8", feed
        if len(parts) == 2 and parts[0] == "sitemaps":
            name = parts[1].removesuffix(".xml")
            if name in self.sets:
                return 200, "application/xml; charset=utf-8", self.sitemap(name)
        if len(parts) == 3 and parts[0] in self.sets and parts[1].isdigit():
            pages = self.sets[parts[0]]
            index = int(parts[1])
            if index < pages.copies and path == pages.path(index):
                return 200, "text/html", pages.body(index)
        return 404, "text/plain", b"not found\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    site: BenchSite


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stalls
    server_version = "BenchSite/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        """Answer from memory."""
        site = cast(_Server, self.server).site
        status, content_type, body = site.respond(self.path)
        with site._lock:
            site.requests += 1
            site.bytes_sent += len(body)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True
