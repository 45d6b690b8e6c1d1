"""One error tree for newswatch; the CLI translates each into a one-line message and exit code.

    NewswatchError
    ├── ConfigError            a config, sources or topic-pack file is wrong (file, field, fix)
    │   │                      (several problems at once: `problems`, one line each)
    │   └── PipelineStartError a crawl's pipeline cannot start (pack, matcher): nothing fetched
    ├── StorageError           the database cannot be reached, opened or migrated
    │   ├── DatabaseNotFound   a read-only command was pointed at a SQLite file that is absent
    │   └── DatabaseLocked     another daemon holds the lock on this database
    ├── FetchError             a page or feed could not be fetched
    │   └── BlockedURL         the URL or a redirect resolves to a refused (private) address
    ├── AlertError             a Slack destination failed
    │   ├── AlertPermanentError  invalid_auth, channel_not_found, msg_too_long …: do not retry
    │   └── AlertRetryableError  429, 5xx, network: retry (carries retry_after seconds when given)
    └── CrawlProcessError      a crawl subprocess crashed, was killed or timed out

Expected failures (an empty extraction, a 404, a PDF where an article was expected) become
recorded statuses and error kinds, not exceptions; these are for the caller that cannot carry
on. A bad topic pack is a ConfigError like any other bad configuration.
"""

from __future__ import annotations

from collections.abc import Sequence


class NewswatchError(Exception):
    """Base of every error newswatch raises on purpose."""

    exit_code: int = 1

    def lines(self) -> list[str]:
        """The error as one-line messages (one per problem) for the CLI to print."""
        return [str(self)]


class ConfigError(NewswatchError):
    """A configuration file is invalid; the message names the file, the field and the fix."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        field: str | None = None,
        problems: Sequence[ConfigError] = (),
    ) -> None:
        self.path = path
        self.field = field
        self.message = message
        self.problems: tuple[ConfigError, ...] = tuple(problems)
        where = ""
        if path:
            where = f"{path}: "
        if field:
            where += f"{field}: "
        super().__init__(f"{where}{message}")

    @classmethod
    def combine(cls, errors: Sequence[ConfigError]) -> ConfigError:
        """One error carrying every problem found (its message counts them and shows the first)."""
        flat = [p for e in errors for p in (e.problems or (e,))]
        if len(flat) == 1:
            return flat[0]
        paths = {p.path for p in flat}
        path = flat[0].path if len(paths) == 1 else None
        first = flat[0] if path is None else cls(flat[0].message, field=flat[0].field)
        return cls(f"{len(flat)} problems; the first: {first}", path=path, problems=flat)

    def lines(self) -> list[str]:
        """Every problem, one line each."""
        return [str(p) for p in self.problems] or [str(self)]


class PipelineStartError(ConfigError):
    """A crawl's pipeline cannot start (topic pack or matcher unloadable); nothing was fetched."""

    PREFIX = "pipeline cannot start"

    def __init__(self, cause: str) -> None:
        super().__init__(f"{self.PREFIX}: {cause}")


class StorageError(NewswatchError):
    """The database cannot be reached, opened or migrated."""

    exit_code = 3


class DatabaseNotFound(StorageError):
    """The SQLite file does not exist and this command only reads (it must not create one)."""


class DatabaseLocked(StorageError):
    """Another newswatch daemon already runs against this database."""

    exit_code = 4


class FetchError(NewswatchError):
    """A page or feed could not be fetched."""


class BlockedURL(FetchError):
    """The URL (or a redirect) resolves to an address this source may not reach."""


class AlertError(NewswatchError):
    """Sending an alert failed."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        self.reason = reason or message
        super().__init__(message)


class AlertPermanentError(AlertError):
    """Slack refused the alert for a reason retrying cannot fix."""


class AlertRetryableError(AlertError):
    """Slack or the network failed transiently; retry later (after `retry_after` if given)."""

    def __init__(self, message: str, *, reason: str = "", retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, reason=reason)


class CrawlProcessError(NewswatchError):
    """A crawl subprocess crashed, was killed, or exceeded its timeout."""
