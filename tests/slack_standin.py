"""A local stand-in for the Slack Web API and incoming webhooks, scriptable for failures.

Speaks what newswatch uses: `auth.test`, `chat.postMessage` (validating Block Kit limits like
Slack: ≤50 blocks, section text ≤3000 → `invalid_blocks`, long text → `msg_too_long`),
`conversations.info`, `conversations.list`, and webhook POSTs at `/webhook/<id>` (answering
`ok`, `invalid_payload`, `no_service` … as text, like real webhooks). Every request is recorded.

Socket Mode: `apps.connections.open` (with the app-level token `APP_TOKEN`) answers the URL of
a `SocketModeStandin` (a websocket server on 127.0.0.1 given as `socket_mode=`), which sends
interaction envelopes, records the client's acks and can drop the socket; `chat.update` and
`users.info` answer as Slack does and are recorded.

Point slack-sdk at it with `WebClient(token, base_url=standin.api_url)`; script failures with
`rate_limit()`, `server_error()`, `slow()`, `api_error()`, `channel_error()`. A slow answer waits
on an Event, so stopping the server ends it at once. Use the `slack_standin` fixture.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

TOKEN = "xoxb-standin-0000-secret"
APP_TOKEN = "xapp-1-standin-0000-secret"
USERS = {"U0ALICE": {"name": "alice", "real_name": "Alice Example", "display_name": "Alice"}}


@dataclass
class Reply:
    """A scripted answer: status, JSON or text body, headers, an optional delay."""

    status: int = 200
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    post: bool = False  # deliver the message anyway (Slack posted it, the answer was lost)


@dataclass
class Recorded:
    """One request as the stand-in saw it, and what it answered."""

    path: str
    method: str  # API method name, or "webhook"
    body: dict[str, Any]
    headers: dict[str, str]
    status: int = 0
    answer: Any = None
    posted: bool = False

    @property
    def channel(self) -> str | None:
        """The channel parameter."""
        return self.body.get("channel")

    @property
    def text(self) -> str:
        """The fallback text."""
        return str(self.body.get("text") or "")

    @property
    def blocks(self) -> list[dict[str, Any]]:
        """The Block Kit blocks (decoded if sent as a JSON string)."""
        blocks = self.body.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    @property
    def thread_ts(self) -> str | None:
        """The thread the message replies to, if any."""
        return self.body.get("thread_ts")

    @property
    def ts(self) -> str | None:
        """The ts the stand-in gave the message."""
        return self.answer.get("ts") if isinstance(self.answer, dict) else None

    @property
    def everything(self) -> str:
        """Text and blocks as one JSON string, for 'does X appear anywhere' assertions."""
        return json.dumps({"text": self.text, "blocks": self.blocks}, ensure_ascii=False)


@dataclass
class Channel:
    """A channel of the stand-in workspace."""

    id: str
    name: str
    is_member: bool = True
    is_archived: bool = False

    def info(self) -> dict[str, Any]:
        """As conversations.info shows it."""
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": True,
            "is_member": self.is_member,
            "is_archived": self.is_archived,
        }


def block_problem(blocks: Any) -> str | None:
    """Why Slack would reject these blocks (invalid_blocks), or None."""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "more than 50 blocks"
    for block in blocks:
        kind = block.get("type")
        text = (block.get("text") or {}).get("text", "")
        if kind == "section":
            if len(text) > 3000 or len(block.get("fields") or []) > 10:
                return "section too long"
            if any(len(f.get("text", "")) > 2000 for f in block.get("fields") or []):
                return "field too long"
            if not text and not block.get("fields"):
                return "empty section"
        elif kind == "header" and (len(text) > 150 or not text):
            return "header too long"
        elif kind == "context" and not 0 < len(block.get("elements") or []) <= 10:
            return "bad context"
    return None


class SlackStandin:
    """The server: start with `with SlackStandin() as s:` or the `slack_standin` fixture."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        max_text: int = 40_000,
        app_token: str = APP_TOKEN,
        socket_mode: SocketModeStandin | None = None,
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.socket_mode = socket_mode
        self.max_text = max_text
        self.requests: list[Recorded] = []
        self.channels: dict[str, Channel] = {}
        self.channel_errors: dict[str, str] = {}
        self.webhooks: dict[str, Reply | None] = {}
        self.auth_error: str | None = None
        self.strict_channels = False
        self._scripts: list[tuple[str, Reply]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ts = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackStandin:
        """Listen on 127.0.0.1 on a free port, in a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; slow answers still waiting end at once."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> SlackStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>"""
        assert self._server is not None, "start() the stand-in first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        """The Web API base URL for slack-sdk (`base_url=`)."""
        return f"{self.url}/api/"

    # ------------------------------------------------------------------ setup and scripts

    def add_channel(self, name: str, *, is_member: bool = True, is_archived: bool = False) -> str:
        """Create a channel (name without '#'); return its id."""
        name = name.lstrip("#")
        with self._lock:
            if name not in self.channels:
                cid = f"C{len(self.channels) + 1:08d}"
                self.channels[name] = Channel(cid, name, is_member, is_archived)
            channel = self.channels[name]
            channel.is_member, channel.is_archived = is_member, is_archived
            return channel.id

    def channel_error(self, channel: str, error: str | None) -> None:
        """Make chat.postMessage to `channel` (name or id) answer `error` (None clears)."""
        key = channel.lstrip("#")
        if error is None:
            self.channel_errors.pop(key, None)
        else:
            self.channel_errors[key] = error

    def webhook_url(self, hook: str = "T000/B000/standin", reply: Reply | None = None) -> str:
        """Register a webhook (optionally always answering `reply`); return its URL."""
        self.webhooks[hook] = reply
        return f"{self.url}/webhook/{hook}"

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests whose path starts with `path` with `replies`, in order."""
        with self._lock:
            self._scripts.extend((path, r) for r in replies)

    def rate_limit(
        self, retry_after: int, times: int = 1, path: str = "/api/chat.postMessage"
    ) -> None:
        """The next `times` matching requests answer 429 with Retry-After."""
        body: dict[str, Any] | str = (
            "rate_limited" if path.startswith("/webhook") else {"ok": False, "error": "ratelimited"}
        )
        reply = Reply(429, body, {"Retry-After": str(retry_after)})
        self.script(path, *[reply] * times)

    def server_error(
        self, times: int = 1, status: int = 500, path: str = "/api/chat.postMessage"
    ) -> None:
        """The next `times` matching requests answer a 5xx with an HTML body."""
        self.script(path, *[Reply(status, "<html>upstream error</html>")] * times)

    def api_error(self, error: str, times: int = 1, path: str = "/api/chat.postMessage") -> None:
        """The next `times` matching requests answer `{"ok": false, "error": error}`."""
        self.script(path, *[Reply(200, {"ok": False, "error": error})] * times)

    def slow(self, seconds: float, times: int = 1, path: str = "/api/chat.postMessage") -> None:
        """The next `times` requests are handled (and posted) only after `seconds`, or when
        the server stops: a client that timed out never learns its message arrived."""
        self.script(path, *[Reply(delay=seconds)] * times)

    # ------------------------------------------------------------------ what happened

    @property
    def posted(self) -> list[Recorded]:
        """Messages actually delivered (chat.postMessage ok, or webhook ok), in order."""
        with self._lock:
            return [r for r in self.requests if r.posted]

    def calls(self, method: str) -> list[Recorded]:
        """Recorded requests for one API method (or "webhook")."""
        with self._lock:
            return [r for r in self.requests if r.method == method]

    def posted_containing(self, needle: str) -> list[Recorded]:
        """Delivered messages whose text or blocks contain `needle`."""
        return [r for r in self.posted if needle in r.everything]

    # ------------------------------------------------------------------ answering

    def _next_script(self, path: str) -> Reply | None:
        with self._lock:
            for index, (prefix, reply) in enumerate(self._scripts):
                if path.startswith(prefix):
                    del self._scripts[index]
                    return reply
        return None

    def _next_ts(self) -> str:
        with self._lock:
            self._ts += 1
            return f"{1_700_000_000 + self._ts}.{self._ts:06d}"

    def _channel(self, ref: str) -> Channel | None:
        name = ref.lstrip("#")
        for channel in self.channels.values():
            if ref == channel.id or name == channel.name:
                return channel
        if self.strict_channels or not name:
            return None
        self.add_channel(name)
        return self.channels[name]

    def _post(self, rec: Recorded) -> tuple[int, dict[str, Any]]:
        body = rec.body
        text = str(body.get("text") or "")
        blocks = rec.blocks
        channel = self._channel(str(body.get("channel") or ""))
        error = self.channel_errors.get(str(body.get("channel") or "").lstrip("#"))
        if channel is None:
            error = error or "channel_not_found"
        elif channel.is_archived:
            error = error or "is_archived"
        elif not channel.is_member:
            error = error or "not_in_channel"
        if error is None and channel is not None:
            error = self.channel_errors.get(channel.id)
        if error is None and not text and not blocks:
            error = "no_text"
        if error is None and blocks and block_problem(blocks):
            error = "invalid_blocks"
        if error is None and len(text) > self.max_text:
            error = "msg_too_long"
        if error is not None:
            return 200, {"ok": False, "error": error}
        assert channel is not None
        rec.posted = True
        return 200, {
            "ok": True,
            "channel": channel.id,
            "ts": self._next_ts(),
            "message": {"text": text, "thread_ts": body.get("thread_ts")},
        }

    def _api(self, rec: Recorded) -> tuple[int, dict[str, Any]]:
        auth = rec.headers.get("authorization", "")
        if not auth:
            return 200, {"ok": False, "error": "not_authed"}
        if rec.method == "apps.connections.open":
            if auth != f"Bearer {self.app_token}":
                return 200, {"ok": False, "error": "invalid_auth"}
            if self.socket_mode is None:
                return 200, {"ok": False, "error": "socket_mode_not_enabled"}
            return 200, {"ok": True, "url": self.socket_mode.next_url()}
        if self.auth_error or auth != f"Bearer {self.token}":
            return 200, {"ok": False, "error": self.auth_error or "invalid_auth"}
        if rec.method == "auth.test":
            return 200, {
                "ok": True,
                "url": "https://standin.slack.com/",
                "team": "Standin",
                "user": "newswatch",
                "team_id": "T0",
                "user_id": "U0",
                "bot_id": "B0",
            }
        if rec.method == "chat.postMessage":
            return self._post(rec)
        if rec.method == "chat.update":
            channel = self._known(str(rec.body.get("channel") or ""))
            if channel is None or not rec.body.get("ts"):
                return 200, {"ok": False, "error": "message_not_found"}
            if rec.blocks and block_problem(rec.blocks):
                return 200, {"ok": False, "error": "invalid_blocks"}
            return 200, {"ok": True, "channel": channel.id, "ts": rec.body["ts"]}
        if rec.method == "users.info":
            user = USERS.get(str(rec.body.get("user") or ""))
            if user is None:
                return 200, {"ok": False, "error": "user_not_found"}
            profile = {"display_name": user["display_name"], "real_name": user["real_name"]}
            return 200, {"ok": True, "user": {"id": rec.body["user"], **user, "profile": profile}}
        if rec.method == "conversations.info":
            channel = self._known(str(rec.body.get("channel") or ""))
            if channel is None:
                return 200, {"ok": False, "error": "channel_not_found"}
            return 200, {"ok": True, "channel": channel.info()}
        if rec.method == "conversations.list":
            listed = [c.info() for c in self.channels.values()]
            return 200, {"ok": True, "channels": listed, "response_metadata": {"next_cursor": ""}}
        return 404, {"ok": False, "error": "unknown_method"}

    def _known(self, ref: str) -> Channel | None:
        return next((c for c in self.channels.values() if ref in (c.id, c.name)), None)

    def _webhook(self, rec: Recorded, hook: str) -> tuple[int, str]:
        if hook not in self.webhooks:
            return 404, "no_service"
        fixed = self.webhooks[hook]
        if fixed is not None:
            return fixed.status, str(fixed.body or "")
        if rec.body.get("_invalid_json") or (not rec.text and not rec.blocks):
            return 400, "invalid_payload"
        if rec.blocks and block_problem(rec.blocks):
            return 400, "invalid_blocks"
        rec.posted = True
        return 200, "ok"


def _parse_body(raw: bytes, content_type: str, query: str) -> dict[str, Any]:
    body: dict[str, Any] = dict(parse_qsl(query))
    if not raw:
        return body
    text = raw.decode("utf-8", "replace")
    if "json" in content_type:
        try:
            parsed = json.loads(text)
        except ValueError:
            return {**body, "_invalid_json": True}
        return {**body, **(parsed if isinstance(parsed, dict) else {"_invalid_json": True})}
    return {**body, **dict(parse_qsl(text))}


def _handler(standin: SlackStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self.do_POST()

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = _parse_body(raw, headers.get("content-type", ""), parts.query)
            is_hook = parts.path.startswith("/webhook/")
            method = "webhook" if is_hook else parts.path.removeprefix("/api/")
            rec = Recorded(parts.path, method, body, headers)
            with standin._lock:
                standin.requests.append(rec)
            reply = standin._next_script(parts.path)
            answer: dict[str, Any] | str
            extra: dict[str, str] = {}
            if reply is not None and reply.delay:
                standin._stop.wait(reply.delay)
            if reply is not None and reply.body is not None:
                status, answer, extra = reply.status, reply.body, reply.headers
                if reply.post:
                    rec.posted = True
            elif is_hook:
                status, answer = standin._webhook(rec, parts.path.removeprefix("/webhook/"))
            else:
                status, answer = standin._api(rec)
            rec.status, rec.answer = status, answer
            self._answer(status, answer, extra)

        def _answer(self, status: int, answer: dict[str, Any] | str, extra: dict[str, str]) -> None:
            is_json = isinstance(answer, dict)
            data = (json.dumps(answer) if is_json else str(answer)).encode()
            try:
                self.send_response(status)
                kind = "application/json; charset=utf-8" if is_json else "text/html; charset=utf-8"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout) before the answer
                pass

    return Handler


class SocketModeStandin:
    """A Socket Mode websocket endpoint on 127.0.0.1: says hello, sends envelopes, records acks.

    Each `apps.connections.open` hands out a fresh URL (`/link?ticket=N`); `connected` is set
    each time a client completes the handshake, `drop()` cuts the current socket without a
    close frame (a network drop) and `send_envelope` waits for the client's ack.
    """

    def __init__(self) -> None:
        self.acks: dict[str, dict[str, Any]] = {}
        self.tickets = 0
        self.connections: list[Any] = []
        self.connected = threading.Event()
        self._acked = threading.Condition()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> SocketModeStandin:
        """Listen on a free loopback port."""
        from websockets.sync.server import serve

        self._server = serve(self._handle, "127.0.0.1", 0, compression=None, ping_interval=None)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close every connection and stop listening."""
        for connection in list(self.connections):
            with contextlib.suppress(Exception):
                connection.close()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> SocketModeStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_url(self) -> str:
        """A new ws:// URL for apps.connections.open."""
        assert self._server is not None
        self.tickets += 1
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link?ticket={self.tickets}"

    def _handle(self, connection: Any) -> None:
        self.connections.append(connection)
        connection.send(json.dumps({"type": "hello", "num_connections": 1}))
        self.connected.set()
        try:
            for raw in connection:
                data = json.loads(raw)
                envelope = data.get("envelope_id")
                if envelope:
                    with self._acked:
                        self.acks[str(envelope)] = data
                        self._acked.notify_all()
        except Exception:  # the socket was dropped
            pass

    @property
    def current(self) -> Any:
        """The newest connection."""
        return self.connections[-1]

    def send_envelope(self, payload: dict[str, Any], envelope_id: str, timeout: float = 10) -> bool:
        """Send an interactive envelope; True once the client acked it within `timeout`."""
        envelope = {
            "envelope_id": envelope_id,
            "type": "interactive",
            "accepts_response_payload": False,
            "payload": payload,
        }
        self.current.send(json.dumps(envelope))
        return self.wait_ack(envelope_id, timeout)

    def wait_ack(self, envelope_id: str, timeout: float = 10) -> bool:
        """Wait (on a condition, no polling) until the client acks `envelope_id`."""
        with self._acked:
            return self._acked.wait_for(lambda: envelope_id in self.acks, timeout)

    def drop(self) -> None:
        """Cut the current socket without a close frame, as a network failure would."""
        self.connected.clear()
        connection = self.current
        with contextlib.suppress(OSError):
            connection.socket.shutdown(socket.SHUT_RDWR)
        connection.socket.close()


class FakeClock:
    """Injectable time: `clock()` returns now; `sleep(s)` and `advance(s)` move it forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        """Record a wait and move time forward by it."""
        self.slept.append(seconds)
        self.advance(seconds)


@pytest.fixture
def slack_standin() -> Iterator[SlackStandin]:
    """A running Slack stand-in, stopped after the test."""
    with SlackStandin() as standin:
        yield standin
