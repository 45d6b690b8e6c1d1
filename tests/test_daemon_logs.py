"""Structured logs: one line per event, UTC timestamps, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from crawler.logs import configure_default, get_logger, mask_secrets, parse_kv, setup_logging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Route logging into a buffer for one test and restore pytest's handlers afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("apscheduler", "urllib3", "alembic")}
    buffer = io.StringIO()
    yield buffer
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)
    configure_default()


def test_mask_secrets_patterns() -> None:
    text = (
        "token xoxb-1234-5678-abcdEFGH user xoxp-9-9-zz hook "
        "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX "
        "db postgresql+psycopg://nw:s3cr3t-pw@db.internal:5432/newswatch dsn password=hunter22 x"
    )
    masked = mask_secrets(text, extra=[])
    for secret in ("1234-5678-abcdEFGH", "9-9-zz", "XXXXsecretXXXX", "s3cr3t-pw", "hunter22"):
        assert secret not in masked
    assert "xoxb-***" in masked and "hooks.slack.com/services/***" in masked
    assert "postgresql+psycopg://nw:***@db.internal:5432/newswatch" in masked


def test_kv_line_masks_a_token_and_uses_utc(stream: io.StringIO) -> None:
    setup_logging("INFO", "kv", stream)
    log = logging.getLogger("crawler.test")
    log.info("event=alert_failed channel=%s reason=%s", "#news", "bad auth xoxb-111-222-abc")
    log.debug("event=hidden")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    line = lines[0]
    assert "111-222-abc" not in line and "xoxb-***" in line
    fields = parse_kv(line)
    assert fields is not None
    assert fields["level"] == "info" and fields["logger"] == "crawler.test"
    assert fields["event"] == "alert_failed" and fields["channel"] == "#news"
    assert fields["ts"].endswith("Z") and fields["reason"] == "bad auth xoxb-***"


def test_json_lines_mask_env_secrets_and_keep_fields(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://example.invalid/plain-secret-hook")
    setup_logging("DEBUG", "json", stream)
    log = logging.getLogger("alerts.test")
    log.warning("event=sent ts=1700000001.000001 url=https://example.invalid/plain-secret-hook")
    log.info("plain prose with password=abc123")
    try:
        raise RuntimeError("boom xoxb-999-888")
    except RuntimeError:
        log.exception("event=job_failed job=dispatch")
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["event"] for r in records] == ["sent", "log", "job_failed"]
    first = records[0]
    assert first["msg_ts"] == "1700000001.000001" and first["ts"].endswith("Z")
    assert first["url"] == "***"
    assert records[1]["msg"] == "plain prose with password=***"
    assert "RuntimeError" in records[2]["exc"] and "999-888" not in records[2]["exc"]


def test_scheduler_overlap_notices_are_debug_only(stream: io.StringIO) -> None:
    setup_logging("INFO", "kv", stream)
    noisy = logging.getLogger("apscheduler.scheduler")
    noisy.warning(
        'Execution of job "crawl metro (trigger: interval[0:00:01], next run at: x)" '
        "skipped: maximum number of running instances reached (1)"
    )
    noisy.warning('Run time of job "dispatch (trigger: interval[0:00:05])" was missed by 0:00:02')
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and "event=job_missed job=dispatch late_by=0:00:02" in lines[0]


def test_bad_format_is_refused() -> None:
    with pytest.raises(ValueError, match="kv or json"):
        setup_logging("INFO", "xml")


def test_structlog_events_share_the_format_and_the_masking(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Native structlog calls (fields as keywords) come out like the stdlib ones, masked."""
    monkeypatch.setenv("NEWSWATCH_BROKER_URL", "redis://:brokerpass@10.0.0.5:6379/0")
    setup_logging("INFO", "json", stream)
    log = get_logger("crawler.daemon.test")
    log.info("crawl_enqueued", source="metro", ts="1700000001.000002", note="xoxb-5-6-seven")
    log.warning("broker_unavailable", reason="cannot reach redis://:brokerpass@10.0.0.5:6379/0")
    log.debug("hidden")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert list(first)[:4] == ["ts", "level", "logger", "event"]
    assert first["event"] == "crawl_enqueued" and first["source"] == "metro"
    assert first["level"] == "info" and first["logger"] == "crawler.daemon.test"
    assert first["msg_ts"] == "1700000001.000002" and first["ts"].endswith("Z")
    assert first["note"] == "xoxb-***"
    assert "brokerpass" not in second["reason"] and second["level"] == "warning"


def test_structlog_kv_lines_parse_back(stream: io.StringIO) -> None:
    setup_logging("INFO", "kv", stream)
    get_logger("crawler.daemon.test").info("crawl_done", source="metro", reason="two words")
    fields = parse_kv(stream.getvalue().strip())
    assert fields is not None
    assert fields["event"] == "crawl_done" and fields["reason"] == "two words"
    assert fields["level"] == "info" and fields["ts"].endswith("Z")
