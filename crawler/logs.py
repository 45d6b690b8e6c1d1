"""Structured logging through structlog: one line per event, `key=value` (logfmt) or JSON, UTC.

Two ways in, one pipeline out:
* structlog loggers (`crawler.logs.get_logger(__name__).info("crawl_started", source=…)`) hand
  their event dict straight to the processors;
* stdlib records — third-party libraries, and modules still written in the older
  `log.info("event=crawl_started source=%s", …)` style — enter through
  `ProcessorFormatter.foreign_pre_chain`, where `legacy_fields` turns such a message into the
  same fields (anything else becomes `event=log msg=…`).
Both get `ts` (ISO UTC, ms, `Z`), `level`, `logger`, then `mask` replaces Slack tokens, webhook
URLs, database passwords and the literal values of the secret environment variables in every
value (tracebacks included); the rendered line is masked once more.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import structlog
from sqlalchemy.engine import make_url
from structlog.stdlib import ProcessorFormatter
from structlog.typing import EventDict, Processor, WrappedLogger

SECRET_ENV = (
    "SLACK_BOT_TOKEN",
    "SLACK_WEBHOOK_URL",
    "NEWSWATCH_DATABASE_URL",
    "NEWSWATCH_BROKER_URL",
)
MASK = "***"
HEADER = ("ts", "level", "logger", "event")
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(xox[abposre]-)[A-Za-z0-9-]+"), r"\1" + MASK),
    (re.compile(r"(hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"'<>]+"), r"\1" + MASK),
    # scheme://user:password@host → scheme://user:***@host
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^:/@\s\"']*:)[^@\s\"']+@", re.I), r"\1" + MASK + "@"),
    (re.compile(r"\b(password\s*[=:]\s*)[^\s,;&\"']+", re.IGNORECASE), r"\1" + MASK),
)  # fmt: skip
_KV_START = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*=")
_KV_SPLIT = re.compile(r"\s+(?=[A-Za-z_][A-Za-z0-9_.]*=)")
_NOISY = {"apscheduler": logging.WARNING, "urllib3": logging.WARNING, "alembic": logging.WARNING,
          "celery": logging.WARNING, "kombu": logging.WARNING}  # fmt: skip


def _secret_values() -> list[str]:
    """Literal secrets from the environment (the token, the webhook URL, the DB password)."""
    values: list[str] = []
    for name in SECRET_ENV:
        value = os.environ.get(name)
        if not value:
            continue
        if name in ("NEWSWATCH_DATABASE_URL", "NEWSWATCH_BROKER_URL"):
            try:
                password = make_url(value).password
            except Exception:  # an unparsable URL: nothing to extract
                password = None
            if password and len(str(password)) >= 4:
                values.append(str(password))
        elif len(value) >= 8:
            values.append(value)
    return values


def mask_secrets(text: str, extra: list[str] | None = None) -> str:
    """Replace tokens, webhook URLs and passwords in `text` with ***."""
    for literal in extra if extra is not None else _secret_values():
        text = text.replace(literal, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return str(json.loads(value))
        except ValueError:
            return value
    return value


def parse_kv(message: str) -> dict[str, str] | None:
    """`event=x a=1 b="two words"` → {event: x, a: 1, b: two words}; None if not key=value."""
    if not _KV_START.match(message):
        return None
    fields: dict[str, str] = {}
    for part in _KV_SPLIT.split(message.strip()):
        key, _, value = part.partition("=")
        fields[key] = _unquote(value)
    return fields


def legacy_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """A stdlib message in the `event=x k=v` style becomes fields; other prose is `msg`."""
    message = str(event_dict.pop("event", ""))
    parsed = parse_kv(message)
    if parsed is None:
        event_dict["event"], event_dict["msg"] = "log", message
        return event_dict
    for key, value in parsed.items():  # a message field named like a header (Slack's `ts`)
        event_dict[f"msg_{key}" if key in HEADER[:3] or key in event_dict else key] = value
    return event_dict


def _legacy_native(logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
    """A structlog call still written `log.info("event=x k=%s", v)` gets the same fields."""
    if str(event_dict.get("event", "")).startswith("event="):
        return legacy_fields(logger, name, event_dict)
    return event_dict


def _timestamp(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    record = event_dict.get("_record")
    created = record.created if isinstance(record, logging.LogRecord) else None
    stamp = datetime.fromtimestamp(created, UTC) if created else datetime.now(UTC)
    event_dict["ts"] = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return event_dict


def _rename_clashes(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """A structlog call passing `ts=`/`level=`/`logger=` keeps it as msg_ts etc."""
    for key in HEADER[:3]:
        if key in event_dict:
            event_dict[f"msg_{key}"] = event_dict.pop(key)
    return event_dict


def _exception(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        if isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        event_dict["exc"] = logging.Formatter().formatException(exc_info)
    return event_dict


class _Masker:
    """Processor: mask secrets in every value (the env literals are read once)."""

    def __init__(self) -> None:
        self.literals = _secret_values()

    def __call__(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        return {
            k: mask_secrets(v, self.literals) if isinstance(v, str) else v
            for k, v in event_dict.items()
        }


def _header_first(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    ordered = {k: event_dict[k] for k in HEADER if k in event_dict}
    ordered.update((k, v) for k, v in event_dict.items() if k not in ordered)
    return ordered


class _MaskedFormatter(ProcessorFormatter):
    """ProcessorFormatter that masks the rendered line once more (belt and braces)."""

    def __init__(self, masker: _Masker, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.masker = masker

    def format(self, record: logging.LogRecord) -> str:
        """Render, then mask."""
        return mask_secrets(super().format(record), self.masker.literals)


class SchedulerNoiseFilter(logging.Filter):
    """Turn APScheduler's prose into events; an overlapping run is expected, so DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the known messages; drop overlap notices unless DEBUG is on."""
        message = record.getMessage()
        job = re.search(r'job "([^"(]+?) \(trigger', message)
        name = job.group(1) if job else "?"
        if "maximum number of running instances reached" in message:
            record.msg, record.args = "event=job_still_running job=%s", (name,)
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        if "was missed by" in message:
            late = re.search(r"missed by ([0-9:.]+)", message)
            record.msg = "event=job_missed job=%s late_by=%s"
            record.args = (name, late.group(1) if late else "?")
        return True


def _renderer(fmt: str) -> Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer(
            serializer=lambda obj, **kw: json.dumps(obj, ensure_ascii=False, default=str)
        )
    return structlog.processors.LogfmtRenderer(key_order=list(HEADER), drop_missing=True)


def setup_logging(level: str = "INFO", fmt: str = "kv", stream: TextIO | None = None) -> None:
    """Send structlog and every stdlib logger to one stream, formatted and masked."""
    if fmt not in ("kv", "json"):
        raise ValueError(f"log format must be kv or json, not {fmt!r}")
    masker = _Masker()
    shared: list[Processor] = [structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name]
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        _MaskedFormatter(
            masker,
            foreign_pre_chain=[legacy_fields, *shared, structlog.stdlib.ExtraAdder(), _timestamp],
            processors=[
                ProcessorFormatter.remove_processors_meta,
                _exception,
                masker,
                _header_first,
                _renderer(fmt),
            ],
        )
    )
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.stdlib.filter_by_level,
                    _rename_clashes, *shared, _timestamp, ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )  # fmt: skip
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name, floor in _NOISY.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, SchedulerNoiseFilter) for f in scheduler_log.filters):
        scheduler_log.addFilter(SchedulerNoiseFilter())
    logging.captureWarnings(True)


def get_logger(name: str) -> Any:
    """A structlog logger: `log.info("event_name", key=value, …)`."""
    return structlog.get_logger(name)


def configure_default() -> None:
    """Until setup_logging runs (tests, library use, short CLI commands) structlog events go to
    the stdlib loggers rendered as `event=… key=…` messages, so nothing prints to stdout."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            _legacy_native,
            structlog.processors.LogfmtRenderer(key_order=["event"]),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


configure_default()
