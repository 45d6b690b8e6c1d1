"""Storage at scale: seen-URL checks and article inserts with N article URLs stored.

The articles table is filled with SQLAlchemy Core `executemany` in big batches (the insert rate
is reported), then `crawler.storage.repo.seen_urls` is timed in batches (half the URLs stored,
half new) and one URL at a time, and article inserts are timed the way the store stage writes
them (one ORM session and commit per article), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def article_url(i: int) -> str:
    """A realistic canonical article URL, unique per `i`."""
    return (
        f"https://www.outlet{i % 997}.example.com/news/2025/{1 + i % 12:02d}/{1 + i % 28:02d}/"
        f"story-{i}-city-council-votes-on-budget.html"
    )


_COLUMNS = (
    "url", "url_hash", "fetched_url", "source_id", "status", "first_seen_at", "fetched_at",
    "http_status", "discovered_via", "revision_count",
)  # fmt: skip


def bulk_insert(
    url: str, count: int, batch: int, source_id: int, log: Callable[[str], None]
) -> float:
    """Insert `count` article rows with Core executemany in batches; returns seconds taken.

    Rows go through `Connection.exec_driver_sql` (Core, one executemany per batch) so the time
    is the database's rather than per-row type processing; SQLite gets a large page cache on
    this loading connection only (the measured lookups use the application's own engine).
    """
    from crawler.storage.db import make_engine
    from crawler.urls import fingerprint

    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    now: Any = datetime.now(UTC)
    if sqlite:  # the format SQLAlchemy's SQLite DateTime stores
        now = now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    mark = "?" if sqlite else "%s"
    columns, marks = ", ".join(_COLUMNS), ", ".join([mark] * len(_COLUMNS))
    sql = f"INSERT INTO articles ({columns}) VALUES ({marks})"
    start = time.perf_counter()
    done = 0
    try:
        with engine.begin() as conn:
            if sqlite:
                conn.exec_driver_sql("PRAGMA cache_size=-1000000")
        while done < count:
            rows = []
            for i in range(done, min(done + batch, count)):
                u = article_url(i)
                rows.append((u, fingerprint(u), u, source_id, "skipped_prefilter", now, now,
                             200, "feed", 0))  # fmt: skip
            with engine.begin() as conn:
                conn.exec_driver_sql(sql, rows)
            done += len(rows)
            if done % (batch * 10) == 0 or done == count:
                log(f"storage: {done:,} rows …")
    finally:
        engine.dispose()
    return time.perf_counter() - start


def time_seen(db: Any, stored: int, checks: int, singles: int) -> dict[str, float]:
    """Seen-URL checks per second: batched (half hits) and one URL at a time."""
    from crawler.storage import repo

    rng = random.Random(7)
    hits = [article_url(rng.randrange(stored)) for _ in range(checks // 2)]
    misses = [article_url(stored + rng.randrange(10 * stored)) for _ in range(checks - len(hits))]
    urls = hits + misses
    rng.shuffle(urls)
    with db.session() as session:
        repo.seen_urls(session, urls[:100])  # warm the connection and statement cache
        start = time.perf_counter()
        found = repo.seen_urls(session, urls)
        batched = time.perf_counter() - start
    if len(found) != len(set(hits)):
        raise AssertionError(f"seen_urls found {len(found)} of {len(set(hits))} stored URLs")
    sample = urls[:singles]
    with db.session() as session:
        start = time.perf_counter()
        for url in sample:
            repo.seen_urls(session, [url])
        single = time.perf_counter() - start
    return {
        "seen_batched_per_s": len(urls) / batched,
        "seen_batched_us_per_url": batched * 1e6 / len(urls),
        "seen_single_per_s": len(sample) / single,
        "seen_single_us": single * 1e6 / len(sample),
    }


def time_inserts(db: Any, source_id: int, count: int) -> dict[str, float]:
    """Article inserts per second, one ORM session and commit per article (as the store stage)."""
    from crawler.storage.models import Article
    from crawler.urls import fingerprint

    base = 50_000_000
    start = time.perf_counter()
    for i in range(base, base + count):
        url = article_url(i)
        with db.session() as session:
            session.add(
                Article(
                    url=url,
                    url_hash=fingerprint(url),
                    fetched_url=url,
                    source_id=source_id,
                    status="extracted",
                    title=f"Story {i}",
                    text="Lorem ipsum dolor sit amet. " * 120,
                    discovered_via="feed",
                    http_status=200,
                )
            )
    took = time.perf_counter() - start
    return {"orm_inserts_per_s": count / took, "orm_insert_ms": took * 1000 / count}


def _source_id(db: Any) -> int:
    from crawler.sources import SourceConfig
    from crawler.storage import repo

    with db.session() as session:
        return repo.upsert_source(
            session, SourceConfig(name="bench-storage", urls=["https://example.com/feed.xml"])
        ).id


def bench_backend(
    url: str, count: int, batch: int, checks: int, singles: int, inserts: int,
    log: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    """The whole storage benchmark on one database URL."""
    from sqlalchemy import func, select

    from crawler.storage.db import Database
    from crawler.storage.models import Article

    db = Database(url)
    try:
        source_id = _source_id(db)
        took = bulk_insert(db.url, count, batch, source_id, log)
        if db.dialect == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE articles")
        with db.session() as session:
            stored = session.scalar(select(func.count()).select_from(Article)) or 0
        result: dict[str, Any] = {
            "rows": int(stored),
            "bulk_insert_s": round(took, 2),
            "bulk_insert_rows_per_s": count / took,
            "batch": batch,
        }
        log(f"storage[{db.dialect}]: seen-URL checks …")
        result |= time_seen(db, count, checks, singles)
        log(f"storage[{db.dialect}]: ORM inserts …")
        result |= time_inserts(db, source_id, inserts)
        return result
    finally:
        db.dispose()


def postgres_reason() -> str | None:
    """None when the benchmark PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:  # any failure: skip with the reason
        return f"PostgreSQL not reachable at {PG_URL}: {str(exc).strip().splitlines()[0]}"


@contextmanager
def pg_schema() -> Iterator[str]:
    """A database URL whose search_path is a fresh schema, dropped afterwards."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    raw = PG_URL.replace("+psycopg", "")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        drop_schema(schema)


def drop_schema(schema: str, attempts: int = 15) -> None:
    """Drop a benchmark schema, retrying while the server restarts (other tests do that)."""
    import psycopg

    for attempt in range(attempts):
        try:
            with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            return
        except psycopg.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(2)


def bench_storage(
    tmp: Path, count: int, *, batch: int, checks: int, singles: int, inserts: int,
    log: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    """SQLite and PostgreSQL (skipped with the reason when it does not answer)."""
    out: dict[str, Any] = {"urls": count}
    log(f"storage[sqlite]: inserting {count:,} URLs …")
    try:
        out["sqlite"] = bench_backend(
            f"sqlite:///{tmp / 'storage.db'}", count, batch, checks, singles, inserts, log
        )
    except Exception as exc:  # report and carry on with PostgreSQL
        out["sqlite"] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
    for leftover in tmp.glob("storage.db*"):
        leftover.unlink()
    reason = postgres_reason()
    if reason:
        out["postgresql"] = {"skipped": reason}
        log(f"storage[postgresql]: skipped — {reason}")
        return out
    log(f"storage[postgresql]: inserting {count:,} URLs …")
    try:
        with pg_schema() as url:
            out["postgresql"] = bench_backend(url, count, batch, checks, singles, inserts, log)
    except Exception as exc:  # e.g. the server restarted under us: report, do not crash
        out["postgresql"] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
    return out
