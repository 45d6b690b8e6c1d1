"""The Slack stand-in for the time-to-alert benchmark.

The project's own `tests/slack_standin.py` is used when it is there (it speaks the whole API
newswatch uses); otherwise a minimal stdlib stand-in answers `chat.postMessage` (and
`auth.test`) with ok and a ts. Both record every delivered message; `arrival()` stamps when a
message containing some text first arrived.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from benchmarks.common import REPO

TOKEN = "xoxb-bench"  # a fake token for the local stand-in


class StandinLike(Protocol):
    """What the benchmark needs of a stand-in."""

    @property
    def api_url(self) -> str:
        """Web API base URL."""
        ...

    def posted_containing(self, needle: str) -> list[Any]:
        """Delivered messages containing `needle`."""
        ...

    def stop(self) -> None:
        """Stop serving."""
        ...


class MiniStandin:
    """A minimal Slack Web API stand-in: every chat.postMessage is delivered."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self._lock = threading.Lock()
        self._ts = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _mini_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> MiniStandin:
        """Serve in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    @property
    def api_url(self) -> str:
        """Web API base URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def posted_containing(self, needle: str) -> list[str]:
        """Delivered messages (as JSON text) containing `needle`."""
        with self._lock:
            return [m for m in self.messages if needle in m]

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """The reply to one API call."""
        if method == "auth.test":
            return {"ok": True, "team": "bench", "user": "newswatch", "team_id": "T0"}
        if method == "chat.postMessage":
            with self._lock:
                self._ts += 1
                self.messages.append(json.dumps(body, ensure_ascii=False))
                ts = f"{1_700_000_000 + self._ts}.{self._ts:06d}"
            return {"ok": True, "channel": "C0BENCH", "ts": ts}
        if method == "conversations.info":
            return {"ok": True, "channel": {"id": "C0BENCH", "name": "bench", "is_member": True}}
        return {"ok": False, "error": "unknown_method"}


def _mini_handler(standin: MiniStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_POST(self) -> None:
            """Answer an API call."""
            parts = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            text = raw.decode("utf-8", "replace")
            body: dict[str, Any] = dict(parse_qsl(parts.query))
            if "json" in (self.headers.get("Content-Type") or ""):
                with contextlib.suppress(ValueError):
                    body |= json.loads(text or "{}")
            else:
                body |= dict(parse_qsl(text))
            data = json.dumps(standin.answer(parts.path.removeprefix("/api/"), body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST

    return Handler


def start_standin() -> tuple[StandinLike, str]:
    """A running stand-in accepting TOKEN, and which one it is."""
    path = REPO / "tests" / "slack_standin.py"
    if path.is_file():
        try:
            spec = importlib.util.spec_from_file_location("newswatch_bench_slack_standin", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses look their module up here
            spec.loader.exec_module(module)
            standin = module.SlackStandin(token=TOKEN).start()
            return standin, "tests/slack_standin.py"
        except Exception as exc:  # e.g. pytest not installed: fall back to the minimal one
            return MiniStandin().start(), f"benchmarks minimal stand-in ({exc})"
    return MiniStandin().start(), "benchmarks minimal stand-in"


def wait_for_message(
    standin: StandinLike, needles: list[str], timeout: float, poll: float = 0.05
) -> float | None:
    """Block until a delivered message contains any of `needles`; the time.time() it was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for needle in needles:
            if standin.posted_containing(needle):
                return time.time()
        time.sleep(poll)
    return None
