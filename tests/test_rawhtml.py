"""Stored HTML: Zstandard for new rows, gzip rows from before the switch still readable."""

from __future__ import annotations

import gzip

from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import Article, RawPage
from crawler.storage.rawhtml import compress_html, decompress_html

PAGE = "<html><body><p>Agentes de inmigración detuvieron a un hombre.</p></body></html>".encode()


def test_round_trip_and_smaller_than_the_page() -> None:
    big = PAGE * 200
    stored = compress_html(big)
    assert stored[:2] != b"\x1f\x8b" and len(stored) < len(big) // 10
    assert decompress_html(stored) == big


def test_rows_written_as_gzip_still_read(database: Database) -> None:
    with database.session() as session:
        old = Article(url="https://a.example/old", url_hash="h1", fetched_url="x", status="ok")
        new = Article(url="https://a.example/new", url_hash="h2", fetched_url="x", status="ok")
        session.add_all([old, new])
        session.flush()
        session.add(RawPage(article=old, html_gzip=gzip.compress(PAGE)))
        repo.add_raw_page(session, new, PAGE, "utf-8", "text/html")
        ids = old.id, new.id
    with database.session() as session:
        assert repo.raw_html(session, ids[0]) == PAGE
        assert repo.raw_html(session, ids[1]) == PAGE
        stored = session.get(RawPage, ids[1])
        assert stored is not None and stored.html_gzip[:2] != b"\x1f\x8b"
