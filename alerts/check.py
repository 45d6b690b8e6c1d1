"""`newswatch slack test`: say exactly what is wrong with the Slack setup, without posting."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from alerts.format import HealthView, build_health_message
from alerts.slack import SlackBotSender, WebhookSender
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


def check_slack(settings: Settings, *, post: bool = False) -> CheckResult:
    """Check the token (auth.test and each channel) or the webhook (only by posting)."""
    token = settings.slack.bot_token
    url = settings.slack.webhook_url
    message = build_health_message(TEST_MESSAGE)
    if token:
        result = CheckResult("slack")
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
