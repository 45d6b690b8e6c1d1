"""Senders through the real slack-sdk against the stand-in: results, errors, secrets, the check."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
import slack_standin as standin_module
from slack_standin import TOKEN, Reply, SlackStandin
from test_alerts_support import bot_sender, make_settings

from alerts.check import check_slack
from alerts.format import HealthView, build_health_message
from alerts.slack import ConsoleSender, SlackBotSender, WebhookSender, classify, make_sender
from crawler.errors import AlertError, AlertPermanentError, AlertRetryableError, ConfigError

slack_standin = standin_module.slack_standin
MESSAGE = build_health_message(HealthView(source="s", state="failing", message="m"))


def test_bot_sender_posts_and_threads(slack_standin: SlackStandin) -> None:
    sender = bot_sender(slack_standin)
    first = sender.send("#news", MESSAGE)
    reply = sender.send(first.channel, MESSAGE, thread_ts=first.ts)
    assert first.channel == slack_standin.channels["news"].id and first.ts
    assert reply.ts and float(reply.ts) > float(first.ts)
    one, two = slack_standin.calls("chat.postMessage")
    assert one.headers["authorization"] == f"Bearer {TOKEN}"
    assert one.body["unfurl_links"] is False and one.blocks == MESSAGE["blocks"]
    assert two.thread_ts == first.ts


def test_429_carries_retry_after(slack_standin: SlackStandin) -> None:
    slack_standin.rate_limit(retry_after=17)
    with pytest.raises(AlertRetryableError) as info:
        bot_sender(slack_standin).send("#news", MESSAGE)
    assert info.value.retry_after == 17 and info.value.reason == "ratelimited"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retryable(slack_standin: SlackStandin, status: int) -> None:
    slack_standin.server_error(status=status)
    with pytest.raises(AlertRetryableError) as info:
        bot_sender(slack_standin).send("#news", MESSAGE)
    assert info.value.reason == f"http_{status}" and info.value.retry_after is None


@pytest.mark.parametrize("error", ["internal_error", "fatal_error", "service_unavailable"])
def test_slack_side_errors_are_retryable(slack_standin: SlackStandin, error: str) -> None:
    slack_standin.api_error(error)
    with pytest.raises(AlertRetryableError):
        bot_sender(slack_standin).send("#news", MESSAGE)


def test_bad_token_is_permanent_and_never_echoed(
    slack_standin: SlackStandin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "xoxb-wrong-very-secret"
    sender = SlackBotSender(secret, api_url=slack_standin.api_url, timeout=2)
    with pytest.raises(AlertPermanentError) as info:
        sender.send("#news", MESSAGE)
    assert info.value.reason == "invalid_auth" and "SLACK_BOT_TOKEN" in str(info.value)
    assert (
        secret not in caplog.text and secret not in str(info.value) and secret not in repr(sender)
    )


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_standin_validates_like_slack(slack_standin: SlackStandin) -> None:
    sender = bot_sender(slack_standin)
    too_many = {
        "text": "x",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a"}}] * 51,
    }
    long_section = {
        "text": "x",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a" * 3001}}],
    }
    cases: list[tuple[dict[str, Any], str]] = [
        (too_many, "invalid_blocks"),
        (long_section, "invalid_blocks"),
        ({"text": "a" * 40_001}, "msg_too_long"),
        ({"text": ""}, "no_text"),
    ]
    for payload, error in cases:
        with pytest.raises(AlertPermanentError) as info:
            sender.send("#news", payload)
        assert info.value.reason == error
    assert slack_standin.posted == []


def test_channel_problems(slack_standin: SlackStandin) -> None:
    slack_standin.strict_channels = True
    slack_standin.add_channel("archived", is_archived=True)
    slack_standin.add_channel("outside", is_member=False)
    sender = bot_sender(slack_standin)
    for channel, error in [
        ("#missing", "channel_not_found"),
        ("#archived", "is_archived"),
        ("#outside", "not_in_channel"),
    ]:
        with pytest.raises(AlertPermanentError) as info:
            sender.send(channel, MESSAGE)
        assert info.value.reason == error


def test_network_failures_are_retryable(slack_standin: SlackStandin) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/api/"
    with pytest.raises(AlertRetryableError) as refused:
        SlackBotSender(TOKEN, api_url=url, timeout=2).send("#news", MESSAGE)
    assert refused.value.reason == "network"
    slack_standin.slow(30)
    with pytest.raises(AlertRetryableError) as slow:
        bot_sender(slack_standin, timeout=0.3).send("#news", MESSAGE)
    assert slow.value.reason == "timeout"


def test_webhook_ok_and_errors(
    slack_standin: SlackStandin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = slack_standin.webhook_url("T9/B9/secretpart")
    sender = WebhookSender(url, timeout=2)
    result = sender.send("#ignored", MESSAGE)
    assert result.ts is None and result.channel == "#ignored"
    [posted] = slack_standin.posted
    assert posted.method == "webhook" and posted.blocks == MESSAGE["blocks"]
    cases: list[tuple[Reply, type[AlertError], str]] = [
        (Reply(400, "invalid_payload"), AlertPermanentError, "invalid_payload"),
        (Reply(404, "no_service"), AlertPermanentError, "no_service"),
        (Reply(500, "<html>oops</html>"), AlertRetryableError, "http_500"),
        (Reply(429, "rate_limited", {"Retry-After": "9"}), AlertRetryableError, "ratelimited"),
    ]
    for reply, kind, reason in cases:
        slack_standin.script("/webhook/", reply)
        with pytest.raises(kind) as info:
            sender.send("#x", MESSAGE)
        assert info.value.reason == reason and url not in str(info.value)
    unknown = WebhookSender(slack_standin.url + "/webhook/nope", timeout=2)
    with pytest.raises(AlertPermanentError, match="no_service"):
        unknown.send("#x", MESSAGE)
    with pytest.raises(AlertPermanentError, match="invalid_payload"):
        sender.send("#x", {"text": ""})
    assert "secretpart" not in caplog.text and "secretpart" not in repr(sender)


def test_malformed_webhook_url_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        WebhookSender("hooks.slack.com/services/T/B/topsecret", timeout=1)
    assert "topsecret" not in str(info.value)


def test_make_sender_picks_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings()
    assert isinstance(make_sender(settings), ConsoleSender)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.example/services/x")
    assert isinstance(make_sender(settings), WebhookSender)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    assert isinstance(make_sender(settings), SlackBotSender)


def test_classify() -> None:
    assert isinstance(classify(200, "not_in_channel"), AlertPermanentError)
    assert isinstance(classify(200, "some_new_error"), AlertPermanentError)
    assert classify(429, "", retry_after_s=3).retry_after == 3  # type: ignore[attr-defined]
    assert classify(502, "Received a response in a non-JSON format").reason == "http_502"


# ---------------------------------------------------------------------------- slack test


def test_check_without_any_secret() -> None:
    result = check_slack(make_settings())
    assert not result.ok and result.mode == "console"
    assert "neither SLACK_BOT_TOKEN nor SLACK_WEBHOOK_URL is set" in result.lines[0][1]


def test_check_token_and_channels(
    slack_standin: SlackStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    slack_standin.add_channel("newswatch")
    slack_standin.add_channel("ops", is_member=False)
    slack_standin.add_channel("old", is_archived=True)
    cid = slack_standin.add_channel("by-id")
    settings = make_settings(
        slack_standin, health_channel="#ops", channels={"a": "#missing", "b": "#old", "c": cid}
    )
    result = check_slack(settings)
    lines = [text for _, text in result.lines]
    assert not result.ok
    assert lines[0] == "token valid: team Standin, bot user newswatch"
    assert "channel #newswatch: the bot is a member" in lines
    assert any(t.startswith("channel #missing: channel_not_found") for t in lines)
    assert any(t.startswith("channel #old: is_archived") for t in lines)
    assert any(t.startswith("channel #ops: not_in_channel") and "/invite" in t for t in lines)
    assert f"channel {cid}: the bot is a member" in lines
    assert slack_standin.calls("chat.postMessage") == []  # checking never posts


def test_check_post_and_bad_token(
    slack_standin: SlackStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    slack_standin.add_channel("newswatch")
    settings = make_settings(slack_standin)
    result = check_slack(settings, post=True)
    assert result.ok and result.lines[-1][1].startswith("test message posted to #newswatch")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-bad")
    bad = check_slack(settings)
    assert not bad.ok and bad.lines[0][1].startswith("auth.test failed: invalid_auth")


def test_check_webhook(slack_standin: SlackStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack_standin.webhook_url())
    settings = make_settings(slack_standin)
    explained = check_slack(settings)
    assert explained.ok and "--post" in explained.lines[0][1] and slack_standin.requests == []
    assert check_slack(settings, post=True).ok and len(slack_standin.posted) == 1
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack_standin.url + "/webhook/gone")
    failed = check_slack(settings, post=True)
    assert not failed.ok and failed.lines[0][1].startswith("webhook post failed: no_service")
