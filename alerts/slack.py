"""Destinations for alerts: Slack's Web API (bot token), an incoming webhook, or the console.

Every sender raises AlertPermanentError (do not retry: invalid_auth, channel_not_found,
msg_too_long …) or AlertRetryableError (429 with its Retry-After, 5xx, network, timeout).
slack-sdk's own retry handlers are switched off: the outbox retries, with backoff, and a hidden
in-client retry would only widen the duplicate window. Tokens and the webhook URL never reach
a log line or an error message.
"""

from __future__ import annotations

import http.client
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast
from urllib.error import URLError
from urllib.parse import urlsplit

from rich.console import Console
from rich.panel import Panel
from rich.text import Text
from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from crawler.config import Settings
from crawler.errors import AlertError, AlertPermanentError, AlertRetryableError, ConfigError

log = logging.getLogger(__name__)

# slack-sdk logs request headers (the token) and the webhook URL at DEBUG: give it a logger
# that only lets critical messages through.
SDK_LOGGER = logging.getLogger("alerts.slack_sdk")
SDK_LOGGER.setLevel(logging.CRITICAL)

RETRYABLE_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
        "rollup_error",
    }
)
HINTS = {
    "invalid_auth": "the token is not valid (check SLACK_BOT_TOKEN)",
    "not_authed": "no token was sent (check SLACK_BOT_TOKEN)",
    "account_inactive": "the token belongs to a deleted user or an uninstalled app",
    "token_revoked": "the token was revoked: reinstall the app and update SLACK_BOT_TOKEN",
    "channel_not_found": "no such channel, or it is private and the bot is not in it",
    "not_in_channel": "the bot is not in the channel: invite it with /invite @<bot name>",
    "is_archived": "the channel is archived",
    "channel_is_archived": "the channel is archived",
    "msg_too_long": "the message text is too long",
    "invalid_blocks": "Slack rejected the message blocks",
    "no_text": "the message has no text",
    "no_service": "the webhook was disabled or removed: create a new one",
    "invalid_payload": "Slack could not read the webhook payload",
    "action_prohibited": "an admin restricted posting to this channel",
    "missing_scope": "the app lacks a permission scope (chat:write)",
}


@dataclass(frozen=True)
class SendResult:
    """What Slack answered: the message timestamp (None for webhooks) and the channel."""

    ts: str | None
    channel: str


class Sender(Protocol):
    """Posts one message; raises AlertPermanentError or AlertRetryableError on failure."""

    destination: str  # slack | webhook | console
    supports_threads: bool  # returns a ts that thread replies can use
    rate_limited: bool  # the per-channel interval applies

    def send(
        self, channel: str, payload: Mapping[str, Any], thread_ts: str | None = None
    ) -> SendResult:
        """Post `payload` (text + blocks) to `channel`, as a reply in `thread_ts` if given."""
        ...


def retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """The Retry-After header in seconds, if present and numeric."""
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(0.0, float(str(raw).strip()))
            except ValueError:
                return None
    return None


def classify(status: int, error: str, *, retry_after_s: float | None = None) -> AlertError:
    """Turn an HTTP status and Slack error code into a permanent or retryable AlertError."""
    if not re.fullmatch(r"[a-z0-9_.]{1,80}", error or ""):  # e.g. an HTML page from a proxy
        error = f"http_{status}"
    hint = HINTS.get(error)
    message = f"Slack answered {error}" + (f": {hint}" if hint else "") + f" (HTTP {status})"
    if status == 429 or error in ("ratelimited", "rate_limited"):
        return AlertRetryableError(message, reason="ratelimited", retry_after=retry_after_s)
    if status >= 500 or error in RETRYABLE_ERRORS:
        return AlertRetryableError(message, reason=error)
    return AlertPermanentError(message, reason=error)


def network_error(exc: BaseException, *, secret: str | None = None) -> AlertRetryableError:
    """A retryable error for a failed connection or timeout (secrets scrubbed)."""
    text = scrub(str(exc) or type(exc).__name__, secret)
    reason = "timeout" if isinstance(exc, TimeoutError) or "timed out" in text else "network"
    return AlertRetryableError(f"cannot reach Slack: {text}", reason=reason)


NETWORK_ERRORS = (OSError, URLError, http.client.HTTPException, TimeoutError)


def scrub(text: str, secret: str | None) -> str:
    """Remove a secret (token, webhook URL) and anything token-shaped from a message."""
    if secret:
        text = text.replace(secret, "<secret>")
    return re.sub(r"xox[a-z]-[A-Za-z0-9-]+", "xox?-<secret>", text)[:500]


class SlackBotSender:
    """chat.postMessage with a bot token; returns the message ts, so follow-ups can thread."""

    destination = "slack"
    supports_threads = True
    rate_limited = True

    def __init__(self, token: str, *, api_url: str, timeout: float) -> None:
        self._token = token
        # slack-sdk types `timeout` as int but hands it to urlopen, which takes seconds as float
        self.client = WebClient(
            token=token,
            base_url=api_url,
            timeout=cast(int, timeout),
            logger=SDK_LOGGER,
            retry_handlers=[],
        )

    def __repr__(self) -> str:
        return f"SlackBotSender(api_url={self.client.base_url!r})"

    def _guard(self, fn: Callable[..., SlackResponse], **kwargs: Any) -> SlackResponse:
        try:
            return fn(**kwargs)
        except SlackApiError as exc:
            resp = exc.response
            error = str(resp.get("error") or "") if isinstance(resp.data, dict) else ""
            wait = retry_after(resp.headers)
            raise classify(resp.status_code, error, retry_after_s=wait) from None
        except SlackClientError as exc:
            raise AlertPermanentError(scrub(str(exc), self._token), reason="client_error") from None
        except NETWORK_ERRORS as exc:
            raise network_error(exc, secret=self._token) from None

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a Web API method; Slack errors become AlertPermanentError/AlertRetryableError."""
        data = self._guard(self.client.api_call, api_method=method, params=params).data
        return dict(data) if isinstance(data, dict) else {}

    def send(
        self, channel: str, payload: Mapping[str, Any], thread_ts: str | None = None
    ) -> SendResult:
        """Post with chat.postMessage (links are not unfurled)."""
        params: dict[str, Any] = {
            "channel": channel,
            "text": payload.get("text") or "",
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if payload.get("blocks"):
            params["blocks"] = payload["blocks"]
        if thread_ts:
            params["thread_ts"] = thread_ts
        response = self._guard(self.client.chat_postMessage, **params)
        ts = response.get("ts")
        return SendResult(
            ts=str(ts) if ts else None, channel=str(response.get("channel") or channel)
        )


def check_webhook_url(url: str) -> str:
    """The webhook URL if it is http(s) with a host, else ConfigError (never echoing it)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("SLACK_WEBHOOK_URL is not an http(s) URL (the value is not shown)")
    return url


class WebhookSender:
    """An incoming webhook: one fixed channel, no ts (follow-ups become ordinary messages)."""

    destination = "webhook"
    supports_threads = False
    rate_limited = True

    def __init__(self, url: str, *, timeout: float) -> None:
        self._url = check_webhook_url(url)
        self.client = WebhookClient(
            url=url, timeout=cast(int, timeout), logger=SDK_LOGGER, retry_handlers=[]
        )

    def __repr__(self) -> str:
        return "WebhookSender(url=<secret>)"

    def send(
        self, channel: str, payload: Mapping[str, Any], thread_ts: str | None = None
    ) -> SendResult:
        """POST the payload; `send()` does not raise on 4xx/5xx, so the status is checked here."""
        try:
            response = self.client.send(
                text=str(payload.get("text") or ""),
                blocks=payload.get("blocks") or None,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackClientError as exc:
            raise AlertPermanentError(scrub(str(exc), self._url), reason="client_error") from None
        except NETWORK_ERRORS as exc:
            raise network_error(exc, secret=self._url) from None
        body = (response.body or "").strip()
        if response.status_code == 200 and body == "ok":
            return SendResult(ts=None, channel=channel)
        error = body if re.fullmatch(r"[a-z_]{1,80}", body) else ""
        status = response.status_code
        if status == 200:  # a 200 without "ok" is not a delivery we can trust
            status, error = 400, error or "unexpected_response"
        raise classify(status, error, retry_after_s=retry_after(response.headers))


def mrkdwn_to_plain(text: str) -> str:
    """Render escaped Slack mrkdwn as plain text for the console."""
    text = re.sub(r"<([^|<>]+)\|([^<>]*)>", r"\2 (\1)", text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def payload_lines(payload: Mapping[str, Any]) -> list[str]:
    """The readable lines of a Block Kit payload (sections, fields, context, headers)."""
    lines: list[str] = []
    for block in payload.get("blocks") or []:
        parts = []
        if isinstance(block.get("text"), dict):
            parts.append(block["text"].get("text", ""))
        parts += [f.get("text", "").replace("\n", ": ", 1) for f in block.get("fields") or []]
        parts += [e.get("text", "") for e in block.get("elements") or []]
        lines += [mrkdwn_to_plain(p) for p in parts if p]
    return lines or [mrkdwn_to_plain(str(payload.get("text") or ""))]


class ConsoleSender:
    """Prints alerts to the terminal: the demo's destination when no Slack secret is set."""

    destination = "console"
    supports_threads = False
    rate_limited = False

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)

    def send(
        self, channel: str, payload: Mapping[str, Any], thread_ts: str | None = None
    ) -> SendResult:
        """Print the message in a panel titled with its channel (no markup is interpreted)."""
        body = Text("\n".join(payload_lines(payload)))
        self.console.print(Panel(body, title=Text(f"alert → {channel}"), title_align="left"))
        log.info("event=alert_console channel=%s", channel)
        return SendResult(ts=None, channel=channel)


def make_sender(settings: Settings, console: Console | None = None) -> Sender:
    """A bot-token sender if SLACK_BOT_TOKEN is set, else a webhook, else the console."""
    token = settings.slack.bot_token
    if token:
        return SlackBotSender(token, api_url=settings.slack.api_url, timeout=settings.slack.timeout)
    url = settings.slack.webhook_url
    if url:
        return WebhookSender(url, timeout=settings.slack.timeout)
    return ConsoleSender(console)
