"""HTTP responses of the sample site: content types, conditional requests, static assets."""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from io import BufferedIOBase

from crawler.sample_site.faults import CHUNK_BYTES, HUGE_BYTES, huge_chunk
from crawler.sample_site.render import rfc822

HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
RDF = "application/rdf+xml; charset=utf-8"
XML = "application/xml; charset=utf-8"
JSON_FEED = "application/feed+json; charset=utf-8"
JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
GZIP = "application/x-gzip"
PDF = "application/pdf"
CSS = "text/css; charset=utf-8"
PNG = "image/png"

SITE_CSS = """body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;color:#222}
.site-header{border-bottom:3px solid #111}.primary-nav ul{display:flex;gap:1em;list-style:none}
.cookie-banner{position:fixed;bottom:0;background:#fff;border-top:1px solid #ccc;padding:1em}
.story-body p{font-family:Georgia,serif;font-size:1.15em;line-height:1.6}
.correction{font-style:italic;border-left:3px solid #c00;padding-left:.5em}
"""

Stream = Callable[[BufferedIOBase, threading.Event], None]


@dataclass(kw_only=True)
class Response:
    """What the handler sends: status, headers and either a body or a body writer."""

    status: int = 200
    body: bytes = b""
    content_type: str = HTML
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True
    last_modified: datetime | None = None
    stream: Stream | None = None
    content_length: int | None = None
    delay: float = 0.0

    @classmethod
    def text(
        cls,
        text: str,
        content_type: str = HTML,
        *,
        status: int = 200,
        last_modified: datetime | None = None,
    ) -> Response:
        """A UTF-8 text response."""
        return cls(
            status=status,
            body=text.encode("utf-8"),
            content_type=content_type,
            last_modified=last_modified,
        )

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        """A redirect with a tiny HTML body."""
        body = f'<a href="{location}">Moved</a>'.encode()
        return cls(status=status, body=body, headers={"Location": location}, conditional=False)


def etag_for(body: bytes) -> str:
    """A strong ETag: a hash of the body."""
    return '"' + hashlib.sha256(body).hexdigest()[:24] + '"'


def not_modified(headers: Mapping[str, str], etag: str, last_modified: datetime | None) -> bool:
    """True if the request's validators match (If-None-Match first, as RFC 9110 says)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    inm = lowered.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = lowered.get("if-modified-since")
    if ims and last_modified is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return last_modified.replace(microsecond=0) <= since
    return False


def finalize(response: Response, request_headers: Mapping[str, str]) -> Response:
    """Add ETag/Last-Modified to conditional responses and turn matches into 304."""
    if not response.conditional or response.status != 200 or response.stream is not None:
        return response
    etag = etag_for(response.body)
    extra = {"ETag": etag, "Cache-Control": "max-age=60"}
    if response.last_modified is not None:
        extra["Last-Modified"] = rfc822(response.last_modified)
    response.headers.update(extra)
    if not_modified(request_headers, etag, response.last_modified):
        return Response(
            status=304, content_type=response.content_type, headers=extra, conditional=False
        )
    return response


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def placeholder_png(seed: str) -> bytes:
    """A small solid-colour PNG whose colour depends on `seed`."""
    width, height = 16, 9
    r, g, b = hashlib.sha256(seed.encode()).digest()[:3]
    row = b"\x00" + bytes((r, g, b)) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(row * height))
        + _png_chunk(b"IEND", b"")
    )


def huge_stream(out: BufferedIOBase, stopping: threading.Event) -> None:
    """Write the 50 MB page in chunks, quietly giving up if the client or server goes away."""
    chunk = huge_chunk()
    sent = 0
    try:
        while sent < HUGE_BYTES and not stopping.is_set():
            piece = chunk[: min(CHUNK_BYTES, HUGE_BYTES - sent)]
            out.write(piece)
            sent += len(piece)
    except OSError:  # BrokenPipeError, ConnectionResetError: the client hung up
        return


def huge_response(*, with_length: bool) -> Response:
    """The 50 MB text/html fault, with or without Content-Length."""
    return Response(
        content_type=HTML,
        stream=huge_stream,
        content_length=HUGE_BYTES if with_length else None,
        conditional=False,
    )
