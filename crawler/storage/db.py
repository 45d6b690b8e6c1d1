"""Engines, sessions and migrations for SQLite (WAL, busy timeout) and PostgreSQL (psycopg 3).

Every way a database URL or file can be wrong is turned into an error from crawler/errors.py
here, once: a URL that does not parse, an unknown dialect or a missing driver is a ConfigError;
a SQLite file that is absent (for a command that must not create it), not a database, or
under a regular file, and a server that does not answer, are StorageErrors.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crawler.errors import ConfigError, DatabaseNotFound, StorageError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK_KEY = 0x6E657773_6D696772  # "newsmigr": serialises concurrent migrations
URL_EXAMPLES = "sqlite:///newswatch.db or postgresql+psycopg://user@host/dbname"
# What to install when a dialect's default driver is missing (SQLAlchemy's own driver names).
DRIVER_HINTS = {
    "postgresql": "pip install 'psycopg[binary]' and use postgresql+psycopg://",
    "mysql": "pip install mysqlclient, or PyMySQL with mysql+pymysql://",
    "mariadb": "pip install mysqlclient, or PyMySQL with mariadb+pymysql://",
    "oracle": "pip install oracledb and use oracle+oracledb://",
    "mssql": "pip install pyodbc",
}
_CREDENTIALS = re.compile(r"^((?:[^:/@]+://)?)[^/]*@")


def redact(url: str) -> str:
    """The URL text with any user:password@ part hidden (it may not even parse)."""
    return _CREDENTIALS.sub(r"\1***@", url)


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


def check_url(url: str, *, origin: str | None = None) -> URL:
    """Parse a database URL and check its dialect and driver load (ConfigError naming `origin`)."""
    field = "database.url" if origin is None or not origin.startswith("$") else None
    try:
        parsed = make_url(normalise_url(url.strip()))
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"the database URL {redact(url)!r} is not a URL (expected e.g. {URL_EXAMPLES})",
            path=origin,
            field=field,
        ) from None
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise ConfigError(
            f"unknown database dialect {parsed.drivername!r} in {parsed.render_as_string()!r} "
            f"(newswatch runs on sqlite and postgresql, e.g. {URL_EXAMPLES})",
            path=origin,
            field=field,
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        backend = parsed.get_backend_name()
        hint = DRIVER_HINTS.get(backend, "install the driver SQLAlchemy names for this dialect")
        raise ConfigError(
            f"the driver for {parsed.drivername!r} is not installed "
            f"({exc.name or exc}): {hint}; newswatch is tested on sqlite and postgresql",
            path=origin,
            field=field,
        ) from None
    return parsed


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL names, or None for in-memory and URI-style databases."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri") or "mode=memory" in database:
        return None
    return Path(database)


def prepare_sqlite(path: Path, *, create: bool) -> None:
    """Make sure a SQLite file can be opened: present, or (if `create`) its folder made."""
    if path.is_dir():
        raise StorageError(f"the SQLite database path is a folder, not a file: {path}")
    if path.exists():
        return
    _no_file_above(path)
    if not create:
        raise DatabaseNotFound(
            f"database not found: {path} (run `newswatch db upgrade` or `newswatch crawl` first)"
        )
    check_creatable(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot create the folder for the database {path}: {exc.strerror or exc}"
        ) from None


def _no_file_above(path: Path) -> None:
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise StorageError(
                    f"cannot use the database {path}: {ancestor} is a file, not a folder"
                )
            return


def check_creatable(path: Path) -> None:
    """StorageError unless a SQLite file could be created at `path` (nothing is created)."""
    _no_file_above(path)
    for ancestor in path.parents:
        if ancestor.exists():
            if not os.access(ancestor, os.W_OK | os.X_OK):
                raise StorageError(
                    f"cannot create the database {path}: the folder {ancestor} is not writable"
                )
            return


def open_error(exc: BaseException, url: URL, action: str = "open") -> StorageError:
    """A one-line StorageError for a failure to open or migrate the database at `url`."""
    path = sqlite_file(url)
    text = describe(exc)
    if path is not None:
        if "file is not a database" in text or "file is encrypted" in text:
            return StorageError(f"{path} is not a SQLite database ({text})")
        if "unable to open" in text and not os.access(path.parent, os.W_OK):
            return StorageError(
                f"cannot {action} {path}: its folder is not writable "
                f"(SQLite keeps {path.name}-wal and -shm files beside the database)"
            )
        if "readonly" in text:
            return StorageError(f"cannot {action} {path}: the file is read-only ({text})")
        return StorageError(f"cannot {action} the database {path}: {text}")
    shown = url.render_as_string(hide_password=True)
    return StorageError(f"cannot {action} the database {shown}: {text}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL mode, a busy timeout and foreign keys."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(parsed)
        if path is not None:
            prepare_sqlite(path, create=True)
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


def upgrade(url: str, revision: str = "head", *, origin: str | None = None) -> None:
    """Run migrations up to `revision` (creating the database, and its schema, if absent)."""
    from alembic import command
    from alembic.util.exc import CommandError

    parsed = check_url(url, origin=origin)
    path = sqlite_file(parsed)
    if path is not None:
        prepare_sqlite(path, create=True)
    try:
        command.upgrade(alembic_config(url), revision)
    except CommandError as exc:
        raise StorageError(f"cannot migrate the database: {describe(exc)}") from None
    except (SQLAlchemyError, OSError) as exc:
        raise open_error(exc, parsed, "migrate") from None


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
    """An engine plus session factory for one database URL.

    `create=False` is for commands that only read: a SQLite file that does not exist raises
    DatabaseNotFound instead of being created empty. `origin` names where the URL came from
    (the config file or $NEWSWATCH_DATABASE_URL) for the error message.
    """

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        create: bool = True,
        origin: str | None = None,
        **engine_kwargs: Any,
    ) -> None:
        self.url = normalise_url(url)
        parsed = check_url(self.url, origin=origin)
        path = sqlite_file(parsed)
        if path is not None:
            prepare_sqlite(path, create=create)
        try:
            self.engine = make_engine(self.url, **engine_kwargs)
            if migrate:
                self.ensure_schema()
        except StorageError:
            raise
        except (SQLAlchemyError, OSError) as exc:
            raise open_error(exc, parsed) from None
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
