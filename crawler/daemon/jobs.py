"""What every daemon job shares: backoff arithmetic and the guard that keeps errors inside jobs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from crawler.errors import DatabaseLocked, StorageError
from crawler.storage.db import describe

log = logging.getLogger("crawler.daemon.scheduler")


def backoff_delay(interval: float, failures: int, max_factor: float) -> float:
    """Seconds a source waits after `failures` failed runs in a row (0 when healthy)."""
    if failures <= 0:
        return 0.0
    return interval * min(2.0 ** min(failures, 62), max_factor)


@contextmanager
def guarded(job: str) -> Iterator[None]:
    """Log and swallow every error of a job; database outages as event=db_unavailable."""
    try:
        yield
    except DatabaseLocked:  # a StorageError, but fatal: the caller decides
        raise
    except (DBAPIError, StorageError) as exc:
        unreachable = isinstance(exc, OperationalError | InterfaceError | StorageError) or bool(
            getattr(exc, "connection_invalidated", False)
        )
        if not unreachable:  # a bug (IntegrityError, ProgrammingError …), not an outage
            log.exception("event=job_failed job=%s reason=%s", job, describe(exc))
        else:
            log.warning("event=db_unavailable job=%s reason=%s", job, describe(exc))
    except Exception as exc:
        log.exception("event=job_failed job=%s reason=%s", job, describe(exc))
