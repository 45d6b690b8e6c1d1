"""Engines, sessions and migrations for SQLite (WAL, busy timeout) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crawler.errors import StorageError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK_KEY = 0x6E657773_6D696772  # "newsmigr": serialises concurrent migrations


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL mode, a busy timeout and foreign keys."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A sessionmaker whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Any:
    """An Alembic Config pointing at the packaged migrations and `url`."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Run migrations up to `revision` (creating the database schema if empty)."""
    from alembic import command

    try:
        command.upgrade(alembic_config(url), revision)
    except OperationalError as exc:
        raise StorageError(f"cannot migrate the database: {describe(exc)}") from None


def current_revision(engine: Engine) -> str | None:
    """The applied migration revision, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest migration shipped with this version."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def describe(exc: BaseException) -> str:
    """A one-line description of a database error, without the SQL or credentials."""
    if isinstance(exc, SQLAlchemyError) and getattr(exc, "orig", None) is not None:
        text = str(getattr(exc, "orig", exc))
    else:
        text = str(exc)
    return text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__


class Database:
    """An engine plus session factory for one database URL."""

    def __init__(self, url: str, *, migrate: bool = True, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        try:
            self.engine = make_engine(self.url, **engine_kwargs)
            if migrate:
                self.ensure_schema()
        except OperationalError as exc:
            raise StorageError(f"cannot open the database: {describe(exc)}") from None
        self.sessions = session_factory(self.engine)

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for logs and status."""
        return make_url(self.url).render_as_string(hide_password=True)

    def ensure_schema(self) -> None:
        """Bring the schema to the newest migration if it is behind."""
        if current_revision(self.engine) == head_revision():
            return
        with self._migration_lock():  # a leader and workers starting at once on a new database
            if current_revision(self.engine) != head_revision():
                log.info("event=db_migrate url=%s", make_url(self.url).render_as_string())
                upgrade(self.url)

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """On PostgreSQL, one migrating process at a time (a session advisory lock)."""
        if self.dialect != "postgresql":
            yield
            return
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                conn.commit()

    def has_tables(self) -> bool:
        """Whether the schema exists."""
        return inspect(self.engine).has_table("articles")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: commit on success, roll back on error."""
        with transaction(self.sessions) as session:
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
