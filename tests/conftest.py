"""Shared fixtures: loopback-only sockets, SQLite and PostgreSQL databases, the shared corpus."""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
SEED = REPO.parent / "shared" / "seed"
PG_URL = os.environ.get("NEWSWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("NEWSWATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")

# Keep every test's environment free of real secrets and configs.
for _var in (
    "SLACK_BOT_TOKEN",
    "SLACK_WEBHOOK_URL",
    "SLACK_APP_TOKEN",
    "NEWSWATCH_CONFIG",
    "NEWSWATCH_DATABASE_URL",
):
    os.environ.pop(_var, None)


def _is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise AssertionError(
            f"test tried to open a socket to {address!r}: only loopback is allowed"
        )
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise AssertionError(
            f"test tried to open a socket to {address!r}: only loopback is allowed"
        )
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sockets to anything but loopback fail the test."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


def postgres_available() -> str | None:
    """None when the test PostgreSQL answers, else the reason it does not."""
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:  # any failure means: skip
        return f"PostgreSQL not reachable at {PG_URL}: {str(exc).splitlines()[0]}"


_PG_REASON: str | bool | None = False


def require_postgres() -> None:
    """Skip the calling test with a clear reason when PostgreSQL is absent."""
    global _PG_REASON
    if _PG_REASON is False:
        _PG_REASON = postgres_available()
    if _PG_REASON:
        pytest.skip(str(_PG_REASON))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    require_postgres()
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    raw = PG_URL.replace("+psycopg", "")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL in the test's own folder."""
    return f"sqlite:///{tmp_path / 'newswatch.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on SQLite and on PostgreSQL (skipped where no server answers)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'newswatch.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def database(db_url: str) -> Iterator[Any]:
    """A migrated Database on each backend."""
    from crawler.storage.db import Database

    db = Database(db_url)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def corpus() -> Path:
    """The shared corpus folder, or skip with the reason."""
    if not (CORPUS / "manifest.jsonl").is_file():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def seed_text() -> str:
    """The seed story's text, or skip with the reason."""
    files = sorted(SEED.glob("*.txt")) if SEED.is_dir() else []
    if not files:
        pytest.skip(f"seed story not found in {SEED}")
    return files[0].read_text(encoding="utf-8")


@pytest.fixture
def sample(database: Any) -> Any:
    """The review factory's sample matches (test_review_factory.populate) in `database`."""
    from test_review_factory import populate

    return populate(database)


@pytest.fixture
def app(database: Any) -> Any:
    """The review web app on `database`, with a fixed session secret."""
    from crawler.config import Settings
    from crawler.review.web import create_app

    return create_app(database, Settings(), secret_key="test-secret")


@pytest.fixture
def client(app: Any) -> Any:
    """A Flask test client of `app`."""
    return app.test_client()


pytest_plugins = ["slack_standin"]
