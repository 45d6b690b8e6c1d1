"""Structured logging for the daemon: one line per event, `key=value` or JSON, UTC timestamps.

Log calls follow the convention `log.info("event=crawl_started source=%s run_id=%s", …)`; the
formatters turn that into `ts=… level=info logger=… event=crawl_started source=…` or into one
JSON object with the same keys. Secrets never reach a line: `SecretFilter` masks Slack tokens,
webhook URLs, database passwords and the literal values of the secret environment variables,
and the formatters mask again after tracebacks are appended.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy.engine import make_url

SECRET_ENV = ("SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL", "NEWSWATCH_DATABASE_URL")
MASK = "***"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(xox[abposre]-)[A-Za-z0-9-]+"), r"\1" + MASK),
    (re.compile(r"(hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"'<>]+"), r"\1" + MASK),
    # scheme://user:password@host → scheme://user:***@host
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^:/@\s\"']*:)[^@\s\"']+@", re.I), r"\1" + MASK + "@"),
    (re.compile(r"\b(password\s*[=:]\s*)[^\s,;&\"']+", re.IGNORECASE), r"\1" + MASK),
)  # fmt: skip
_KV_SPLIT = re.compile(r"\s+(?=[A-Za-z_][A-Za-z0-9_.]*=)")
_NEEDS_QUOTES = re.compile(r"[\s\"=]")
_NOISY = {"apscheduler": logging.WARNING, "urllib3": logging.WARNING, "alembic": logging.WARNING}
_STD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


def _secret_values() -> list[str]:
    """Literal secrets from the environment (the token, the webhook URL, the DB password)."""
    values: list[str] = []
    for name in SECRET_ENV:
        value = os.environ.get(name)
        if not value:
            continue
        if name == "NEWSWATCH_DATABASE_URL":
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


class SecretFilter(logging.Filter):
    """Masks secrets in every record's message (attach it to a handler)."""

    def __init__(self) -> None:
        super().__init__()
        self.literals = _secret_values()

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, masked; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log it as it is
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = mask_secrets(message, self.literals), None
        return True


def _utc(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return str(json.loads(value))
        except ValueError:
            return value
    return value


def parse_kv(message: str) -> dict[str, str] | None:
    """`event=x a=1 b=two words` → {event: x, a: 1, b: two words}; None if not key=value."""
    if not re.match(r"[A-Za-z_][A-Za-z0-9_.]*=", message):
        return None
    fields: dict[str, str] = {}
    for part in _KV_SPLIT.split(message.strip()):
        key, _, value = part.partition("=")
        fields[key] = _unquote(value)
    return fields


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    message = record.getMessage()
    out: dict[str, Any] = {
        "ts": _utc(record),
        "level": record.levelname.lower(),
        "logger": record.name,
    }
    parsed = parse_kv(message)
    if parsed is None:
        out["event"] = "log"
        out["msg"] = message
    else:  # a message field named like a header field (a Slack `ts`) gets a prefix
        out.update({(f"msg_{k}" if k in out else k): v for k, v in parsed.items()})
    for key, value in vars(record).items():
        if key not in _STD_ATTRS and not key.startswith("_") and key not in out:
            out[key] = value
    return out


def _quote(value: Any) -> str:
    text = str(value)
    if text == "" or _NEEDS_QUOTES.search(text):
        return json.dumps(text, ensure_ascii=False)
    return text


class KeyValueFormatter(logging.Formatter):
    """`ts=2026-01-01T00:00:00.000Z level=info logger=x event=y key=value …`."""

    def format(self, record: logging.LogRecord) -> str:
        """One line; values with spaces, quotes or `=` are JSON-quoted."""
        fields = _fields(record)
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return mask_secrets(" ".join(f"{k}={_quote(v)}" for k, v in fields.items()))


class JsonFormatter(logging.Formatter):
    """One JSON object per line with ts, level, logger, event and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record; exceptions go into an `exc` field."""
        fields = _fields(record)
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return mask_secrets(json.dumps(fields, ensure_ascii=False, default=str))


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


def setup_logging(level: str = "INFO", fmt: str = "kv", stream: TextIO | None = None) -> None:
    """Send every logger to one stream handler with the chosen format and the secret filter."""
    if fmt not in ("kv", "json"):
        raise ValueError(f"log format must be kv or json, not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    handler.addFilter(SecretFilter())
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
