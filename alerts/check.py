"""`newswatch slack test`: say exactly what is wrong with the Slack setup, without posting."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from alerts.format import HealthView, build_health_message
from alerts.slack import SlackBotSender, WebhookSender, check_webhook_url
from crawler.config import Settings
from crawler.errors import AlertError, AlertRetryableError

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
TEST_MESSAGE = HealthView(
    source="newswatch", state="ok", message="Test message from `newswatch slack test --post`."
)


@dataclass
class CheckResult:
    """The findings of a Slack check: each line is (ok, text); `ok` is False if any failed."""

    mode: str  # slack | webhook | console
    lines: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every finding is fine."""
        return all(good for good, _ in self.lines)

    def add(self, good: bool, text: str) -> None:
        """Record one finding."""
        self.lines.append((good, text))


def configured_channels(settings: Settings) -> list[str]:
    """Every channel the configuration can post to, without duplicates."""
    alerts = settings.alerts
    names = [alerts.default_channel, *alerts.channels.values()]
    if alerts.health_channel:
        names.append(alerts.health_channel)
    return list(dict.fromkeys(names))


def _list_channels(sender: SlackBotSender) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    cursor = ""
    for _ in range(50):  # at most 50 pages of 1000 channels
        data = sender.call(
            "conversations.list",
            types="public_channel,private_channel",
            limit=1000,
            cursor=cursor,
        )
        for channel in data.get("channels") or []:
            found[str(channel.get("name"))] = channel
        cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            break
    return found


def _check_channel(
    sender: SlackBotSender, name: str, listing: dict[str, dict[str, object]] | None
) -> tuple[bool, str]:
    if CHANNEL_ID.match(name):
        try:
            info = sender.call("conversations.info", channel=name).get("channel") or {}
        except AlertError as exc:
            return False, f"channel {name}: {exc.reason} — {exc}"
    elif listing is None:
        return True, f"channel {name}: not verified (the app cannot list channels)"
    else:
        info = listing.get(name.lstrip("#"), {})
        if not info:
            return False, (
                f"channel {name}: channel_not_found — no such channel, or it is private and "
                "the bot was not invited"
            )
    if info.get("is_archived"):
        return False, f"channel {name}: is_archived — unarchive it or configure another channel"
    if not info.get("is_member"):
        return False, f"channel {name}: not_in_channel — invite the bot with /invite @<bot name>"
    return True, f"channel {name}: the bot is a member"


# Slack's token prefixes: only a bot token (xoxb-) posts as the app and returns `ts` for threads.
TOKEN_KINDS = {
    "xoxp-": "a user token",
    "xoxa-": "an app token",
    "xapp-": "an app-level token (Socket Mode only)",
    "xoxe-": "a refresh token",
    "xoxc-": "a browser session token",
    "xoxs-": "a legacy session token",
}


def token_problem(token: str) -> str | None:
    """Why a SLACK_BOT_TOKEN is not a bot token (never quoting the token), or None."""
    token = token.strip()
    if token.startswith("xoxb-"):
        return None
    kind = next((k for p, k in TOKEN_KINDS.items() if token.startswith(p)), None)
    what = f"it is {kind} ({token[:5]}…)" if kind else "it does not start with xoxb-"
    return (
        f"SLACK_BOT_TOKEN is not a bot token: {what}; use the Bot User OAuth Token (xoxb-…) "
        "from the Slack app's OAuth & Permissions page"
    )


def _loopback(host: str | None) -> bool:
    if host in ("localhost", None):
        return host is not None
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_problem(url: str) -> str | None:
    """Why a SLACK_WEBHOOK_URL must not be used (never quoting the URL's secret path), or None."""
    parts = urlsplit(url.strip())
    if parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname)):
        return None  # plain http only to a stand-in on this machine
    return (
        f"SLACK_WEBHOOK_URL is not an https URL ({parts.scheme or 'no'} scheme, host "
        f"{parts.hostname or '?'}): the URL is a secret and must travel encrypted; Slack's "
        "webhooks are https://hooks.slack.com/services/…"
    )


def check_slack(settings: Settings, *, post: bool = False) -> CheckResult:
    """Check the token (auth.test and each channel) or the webhook (only by posting)."""
    token = settings.slack.bot_token
    url = settings.slack.webhook_url
    message = build_health_message(TEST_MESSAGE)
    if token:
        result = CheckResult("slack")
        problem = token_problem(token)
        if problem:
            result.add(False, problem)
        sender = SlackBotSender(
            token, api_url=settings.slack.api_url, timeout=settings.slack.timeout
        )
        try:
            auth = sender.call("auth.test")
        except AlertError as exc:
            result.add(False, f"auth.test failed: {exc.reason} — {exc}")
            return result
        who = auth.get("user") or auth.get("bot_id") or "?"
        result.add(True, f"token valid: team {auth.get('team', '?')}, bot user {who}")
        listing: dict[str, dict[str, object]] | None
        try:
            listing = _list_channels(sender)
        except AlertRetryableError as exc:
            result.add(False, f"conversations.list failed: {exc}")
            return result
        except AlertError as exc:
            result.add(True, f"cannot list channels ({exc.reason}); names are not verified")
            listing = None
        for name in configured_channels(settings):
            result.add(*_check_channel(sender, name, listing))
        if post:
            channel = settings.alerts.default_channel
            try:
                sent = sender.send(channel, message)
                result.add(True, f"test message posted to {channel} (ts {sent.ts})")
            except AlertError as exc:
                result.add(False, f"posting to {channel} failed: {exc.reason} — {exc}")
        return result
    if url:
        result = CheckResult("webhook")
        check_webhook_url(url)  # not a URL at all: ConfigError, exit 2
        problem = webhook_problem(url)
        if problem:
            result.add(False, problem + "; nothing was posted")
            return result
        if not post:
            result.add(
                True,
                "SLACK_WEBHOOK_URL is set; a webhook can only be checked by posting: "
                "run `newswatch slack test --post` to send a test message",
            )
            return result
        try:
            WebhookSender(url, timeout=settings.slack.timeout).send("webhook", message)
            result.add(True, "test message posted through the webhook")
        except AlertError as exc:
            result.add(False, f"webhook post failed: {exc.reason} — {exc}")
        return result
    result = CheckResult("console")
    result.add(
        False,
        "neither SLACK_BOT_TOKEN nor SLACK_WEBHOOK_URL is set: alerts are printed to the "
        "console only (set one of them in the environment)",
    )
    return result
