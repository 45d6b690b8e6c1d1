"""One daemon per database: an operating-system or server lock, plus a row `status` can read.

The lock that counts is one the operating system or the server releases by itself when the
holder dies, so a crashed daemon never leaves a stale lock behind:

* PostgreSQL: a session-level `pg_try_advisory_lock(key)` held on a dedicated connection; the
  key is derived from the database and schema names. A server restart ends that session, so
  `ensure()` reconnects and takes the lock again, or raises DatabaseLocked when another daemon
  took it in between.
* SQLite: an exclusive `fcntl.flock` on `<dbfile>.lock` (the kernel drops it when the process
  exits, however it exits).

The `daemon_locks` row (pid, host, heartbeat, schedule in `info`) is only information for
`newswatch status` and for the refusal message; it never decides who holds the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import socket
import threading
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from crawler.errors import DatabaseLocked
from crawler.storage.db import Database, describe
from crawler.storage.models import DaemonLock as LockRow
from crawler.storage.models import utcnow

log = logging.getLogger(__name__)
LOCK_NAME = "daemon"
HEARTBEAT_INTERVAL = 5.0
STALE_AFTER = 30.0


def lock_file_path(db: Database) -> Path | None:
    """`<dbfile>.lock` for a file-backed SQLite database, else None."""
    if db.dialect != "sqlite":
        return None
    database = make_url(db.url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve().with_name(Path(database).name + ".lock")


def advisory_key(conn: Connection, name: str = LOCK_NAME) -> int:
    """A signed 64-bit advisory-lock key for this database, schema and lock name."""
    database, schema = conn.execute(text("SELECT current_database(), current_schema()")).one()
    digest = hashlib.sha256(f"newswatch:{name}:{database}:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def read_row(db: Database, name: str = LOCK_NAME) -> LockRow | None:
    """The information row of a lock, if a daemon ever wrote one."""
    with db.session() as session:
        return session.get(LockRow, name)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe_holder(row: LockRow | None, now: datetime | None = None) -> str:
    """`pid 123 on host x, started …, last heartbeat 4s ago` for messages."""
    if row is None:
        return "a process that has not written its details yet"
    now = now or utcnow()
    age = (now - row.heartbeat_at).total_seconds()
    return (
        f"pid {row.pid} on host {row.hostname}, started {row.started_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"last heartbeat {age:.0f}s ago"
    )


def probe(db: Database, name: str = LOCK_NAME) -> bool | None:
    """Whether some process holds the lock right now (None when it cannot be told)."""
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            key = advisory_key(conn, name) & 0xFFFFFFFFFFFFFFFF
            held = conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                    "AND granted AND objsubid = 1 AND classid::bigint = :hi "
                    "AND objid::bigint = :lo AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database()))"
                ),
                {"hi": key >> 32, "lo": key & 0xFFFFFFFF},
            ).scalar()
            return bool(held)
    path = lock_file_path(db)
    if path is None or not path.exists():
        return None if path is None else False
    with open(path, "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


class DaemonLock:
    """The exclusive right to run the daemon against one database."""

    def __init__(self, db: Database, name: str = LOCK_NAME) -> None:
        self.db, self.name = db, name
        self.pid, self.hostname = os.getpid(), socket.gethostname()
        self.started_at = utcnow()
        self._mutex = threading.Lock()
        self._file: IO[str] | None = None
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._key: int | None = None
        self.held = False

    # -- acquiring ---------------------------------------------------------------------------

    def acquire(self) -> None:
        """Take the lock and write the information row; DatabaseLocked if another daemon has it."""
        with self._mutex:
            got = self._pg_lock() if self.db.dialect == "postgresql" else self._file_lock()
            if not got:
                raise DatabaseLocked(self._refusal())
            self.held = True
        self.write_row({}, started=True)
        log.info(
            "event=lock_acquired name=%s pid=%s host=%s backend=%s",
            self.name,
            self.pid,
            self.hostname,
            self.db.dialect,
        )

    def _holder(self) -> str:
        try:
            return describe_holder(read_row(self.db, self.name))
        except DBAPIError:
            return "an unknown process"

    def _refusal(self) -> str:
        return (
            f"another newswatch daemon is already running against {self.db.safe_url} "
            f"({self._holder()}); stop it first, or point this one at another database"
        )

    def _file_lock(self) -> bool:
        path = lock_file_path(self.db)
        if path is None:  # an in-memory database cannot be shared between processes
            return True
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the daemon's life)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{self.pid} {self.hostname}\n")
        handle.flush()
        self._file = handle
        return True

    def _pg_lock(self) -> bool:
        if self._engine is None:
            self._engine = create_engine(self.db.url, poolclass=NullPool)
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            self._key = advisory_key(conn, self.name)
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar()
            )
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    # -- keeping -----------------------------------------------------------------------------

    def ensure(self) -> bool:
        """Check the lock is still held; after a lost connection take it again.

        Returns False while the database cannot be reached (the caller retries later) and
        raises DatabaseLocked when another daemon took the lock in the meantime.
        """
        if self.db.dialect != "postgresql":
            return self.held
        with self._mutex:
            if self._conn is not None:
                try:
                    self._conn.execute(text("SELECT 1"))
                    return True
                except DBAPIError as exc:
                    log.warning("event=lock_connection_lost reason=%s", describe(exc))
                    self._drop_conn()
            try:
                got = self._pg_lock()
            except DBAPIError as exc:
                log.warning("event=db_unavailable job=lock reason=%s", describe(exc))
                return False
            if not got:
                self.held = False
                raise DatabaseLocked(
                    "lost the daemon lock: the connection holding it broke and another daemon "
                    f"took the lock meanwhile ({self._holder()}); stopping this one"
                )
            log.warning("event=lock_reacquired name=%s", self.name)
            return True

    def _drop_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except DBAPIError:
                pass
            self._conn = None

    def write_row(self, info: dict[str, Any], *, started: bool = False) -> None:
        """Create or refresh the information row (heartbeat, schedule) of this daemon."""
        now = utcnow()
        with self.db.session() as session:
            row = session.get(LockRow, self.name)
            if row is None:
                row = LockRow(name=self.name)
                session.add(row)
                started = True
            if started or row.pid != self.pid or row.hostname != self.hostname:
                row.holder = f"newswatch@{self.hostname}:{self.pid}"
                row.pid, row.hostname, row.started_at = self.pid, self.hostname, self.started_at
            row.heartbeat_at, row.active = now, True
            if info or started:
                row.info = info

    def heartbeat(self, info: dict[str, Any]) -> bool:
        """Confirm the lock and write the heartbeat; False while the database is unreachable."""
        if not self.ensure():
            return False
        self.write_row(info)
        return True

    # -- releasing ---------------------------------------------------------------------------

    def release(self) -> None:
        """Mark the row inactive and let go of the lock."""
        if not self.held:
            return
        try:
            with self.db.session() as session:
                row = session.scalar(
                    select(LockRow).where(LockRow.name == self.name, LockRow.pid == self.pid)
                )
                if row is not None and row.hostname == self.hostname:
                    row.active = False
        except DBAPIError as exc:
            log.warning("event=db_unavailable job=lock_release reason=%s", describe(exc))
        with self._mutex:
            if self._conn is not None:
                with contextlib.suppress(DBAPIError):
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                self._drop_conn()
            if self._engine is not None:
                self._engine.dispose()
            if self._file is not None:
                fcntl.flock(self._file, fcntl.LOCK_UN)
                self._file.close()
                self._file = None
            self.held = False
        log.info("event=lock_released name=%s", self.name)
