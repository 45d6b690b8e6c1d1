"""The sample news site's HTTP server: a main outlet and a wire outlet on loopback ports."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import cast

from crawler.sample_site.content import (
    SECTIONS,
    SITE_INFO,
    Article,
    ArticleError,
    load_specs,
    newest_first,
    place,
    spec_from_mapping,
)
from crawler.sample_site.render import PageContext
from crawler.sample_site.routes import Router
from crawler.sample_site.theme_wire import WIRE_SECTIONS


class SampleSite:
    """One outlet of the offline sample news site, served on a loopback port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        site: str = "main",
        faults: bool = False,
        now: datetime | None = None,
        slow_seconds: float = 30.0,
    ) -> None:
        if site not in SITE_INFO:
            raise ValueError(f"site must be one of {sorted(SITE_INFO)}, not {site!r}")
        self.site = site
        self.faults = faults
        self.slow_seconds = slow_seconds
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._fixed_now = now.astimezone(UTC).replace(microsecond=0) if now else None
        self._start = self._clock()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._faults: dict[str, int] = {}
        self._peer: SampleSite | None = None
        self._thread: threading.Thread | None = None
        self._server = _Server((host, port), _Handler)
        self._server.site = self
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._router = Router(self)
        self._articles: dict[str, Article] = {}
        self._hidden: set[str] = set()
        for spec in load_specs():
            if spec.site == site:
                self._articles[spec.slug] = place(spec, base_url=self.base_url, now=self._start)
                if spec.hidden:
                    self._hidden.add(spec.slug)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SampleSite:
        """Serve in a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"sample-site-{self.site}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake any slow responses and close the socket."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> SampleSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- content -----------------------------------------------------------------------------

    def _clock(self) -> datetime:
        return self._fixed_now or datetime.now(UTC).replace(microsecond=0)

    def articles(self, *, include_hidden: bool = False) -> list[Article]:
        """This site's articles, newest first; hidden ones only if asked."""
        with self._lock:
            return newest_first(
                a for a in self._articles.values() if include_hidden or a.slug not in self._hidden
            )

    def publish(self, slug: str) -> str:
        """Make a hidden article visible with publication time now; returns its URL."""
        with self._lock:
            if slug not in self._articles:
                raise KeyError(f"no article {slug!r} on the {self.site} site")
            if slug in self._hidden:
                self._hidden.discard(slug)
                article = self._articles[slug]
                self._articles[slug] = place(
                    article, base_url=self.base_url, now=self._clock(), published=self._clock()
                )
            return self._articles[slug].url

    def add_article(self, article: dict[str, object]) -> str:
        """Add an article at run time (published now unless `age_hours` is given); returns URL.

        Re-adding an existing slug replaces it as a revision: same URL and publication time,
        modification time now.
        """
        data = {"site": self.site, "author": "Staff", "lang": "en", "kind": "negative"} | article
        spec = spec_from_mapping(data, f"add_article({data.get('slug')!r})")
        if spec.site != self.site:
            raise ArticleError(f"article is for the {spec.site} site, this is {self.site}")
        now = self._clock()
        with self._lock:
            old = self._articles.get(spec.slug)
            if old is not None and spec.slug not in self._hidden:
                placed = place(
                    spec, base_url=self.base_url, now=now, published=old.published, modified=now
                )
            elif "age_hours" in article:
                placed = place(spec, base_url=self.base_url, now=now)
            else:
                placed = place(spec, base_url=self.base_url, now=now, published=now)
            self._articles[spec.slug] = placed
            if spec.hidden:
                self._hidden.add(spec.slug)
            else:
                self._hidden.discard(spec.slug)
            return placed.url

    def set_fault(self, path_prefix: str, status: int) -> None:
        """Make every path starting with `path_prefix` answer `status` until cleared."""
        with self._lock:
            self._faults[path_prefix] = status

    def clear_faults(self) -> None:
        """Remove every fault set with set_fault."""
        with self._lock:
            self._faults.clear()

    def _log(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((method, path, headers))

    def _context(self) -> PageContext:
        peer = self._peer
        return PageContext(
            info=SITE_INFO[self.site],
            base_url=self.base_url,
            sections=SECTIONS if self.site == "main" else WIRE_SECTIONS,
            peer_base_url=peer.base_url if peer else None,
            peer_outlet=SITE_INFO[peer.site].outlet if peer else None,
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: SampleSite


class _Handler(BaseHTTPRequestHandler):
    server_version = "SampleNews/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet; the site records requests itself."""

    def _serve(self, *, head: bool) -> None:
        site = cast(_Server, self.server).site
        headers = dict(self.headers.items())
        site._log(self.command, self.path, headers)
        response = site._router.respond(self.path, headers)
        if response.delay and site._stopping.wait(response.delay):
            return  # server stopping: drop the connection instead of answering
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            for key, value in response.headers.items():
                self.send_header(key, value)
            if response.stream is None:
                self.send_header("Content-Length", str(len(response.body)))
            elif response.content_length is not None:
                self.send_header("Content-Length", str(response.content_length))
            self.send_header("Connection", "close")
            self.end_headers()
            if head or response.status in (204, 304):
                return
            if response.stream is not None:
                response.stream(self.wfile, site._stopping)
            else:
                self.wfile.write(response.body)
        except OSError:  # the client went away mid-response
            self.close_connection = True

    def do_GET(self) -> None:
        """Answer a GET."""
        self._serve(head=False)

    def do_HEAD(self) -> None:
        """Answer a HEAD: same headers, no body."""
        self._serve(head=True)

    def do_POST(self) -> None:
        """Record the POST and refuse it: the sample site is read-only."""
        site = cast(_Server, self.server).site
        site._log(self.command, self.path, dict(self.headers.items()))
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()


def serve_pair(
    host: str = "127.0.0.1",
    *,
    main_port: int = 0,
    wire_port: int = 0,
    faults: bool = False,
) -> tuple[SampleSite, SampleSite]:
    """Start the main and wire sites on two ports; each knows the other for cross links."""
    main = SampleSite(host, main_port, site="main", faults=faults)
    wire = SampleSite(host, wire_port, site="wire")
    main._peer, wire._peer = wire, main
    return main.start(), wire.start()
