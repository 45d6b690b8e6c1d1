"""Label alerts from Slack: the alert buttons arrive over Socket Mode (no public URL needed).

It lives in review/ (not alerts/) because it writes reviews: imports keep pointing down.

With `SLACK_APP_TOKEN` (an app-level token, scope `connections:write`) the daemon runs
slack-sdk's builtin `SocketModeClient` (it reconnects by itself when the socket drops, asking
`apps.connections.open` for a new URL). Each button click is acknowledged at once (Slack wants
the ack within 3 s), then handled: the review is recorded with the Slack user's name (looked
up with `users.info`, scope `users:read`, falling back to the name in the payload), or the
source is muted for 7 days, and the message is rewritten with `chat.update` (bot token, scope
`chat:write`) to say who labelled it. A click that cannot be handled is logged with its reason;
it never stops the client.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from alerts.format import labelled_blocks
from alerts.report import kv
from alerts.slack import SDK_LOGGER, scrub
from crawler.config import Settings
from crawler.errors import NewswatchError
from crawler.review.feedback import mute_source, record_label
from crawler.storage.db import Database
from crawler.storage.models import Article, Match, Source

log = logging.getLogger(__name__)
ACTION_LABELS = {"newswatch_relevant": "relevant", "newswatch_irrelevant": "irrelevant"}
ACTION_MUTE = "newswatch_mute_source"
MUTE_DAYS = 7


def _match_ids(value: object) -> list[int]:
    """The match ids of a button value `match:<id>[,<id>…]` ([] when malformed)."""
    text = str(value or "")
    if not text.startswith("match:"):
        return []
    try:
        return [int(part) for part in text.removeprefix("match:").split(",")]
    except ValueError:
        return []


class FeedbackHandler:
    """Turns block_actions envelopes into reviews and mutes, and updates the message."""

    def __init__(self, db: Database, settings: Settings, web: WebClient | None) -> None:
        self.db = db
        self.settings = settings
        self.web = web  # None without a bot token: reviews are recorded, messages not updated
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        """The Socket Mode listener: ack first, then do the work."""
        if request.envelope_id:
            client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        if request.type != "interactive":
            return
        payload = request.payload or {}
        if payload.get("type") != "block_actions":
            return
        for action in payload.get("actions") or []:
            try:
                self.handle_action(payload, action)
            except Exception as exc:  # one bad click must not stop the client
                log.exception(
                    kv("slack_action_failed", action=action.get("action_id"), error=repr(exc))
                )

    def user_name(self, user: Mapping[str, Any]) -> str:
        """The Slack user's display name (users.info), else the name in the payload."""
        uid = str(user.get("id") or "")
        fallback = str(user.get("name") or user.get("username") or uid or "slack user")
        if not uid or self.web is None:
            return fallback
        with self._lock:
            if uid in self._names:
                return self._names[uid]
        try:
            info = self.web.users_info(user=uid).get("user") or {}
            profile = info.get("profile") or {}
            name = str(
                profile.get("display_name") or profile.get("real_name") or info.get("name") or ""
            )
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning(kv("slack_user_lookup_failed", user=uid, error=scrub(str(exc), None)))
            name = ""
        name = name or fallback
        with self._lock:
            self._names[uid] = name
        return name

    def handle_action(self, payload: Mapping[str, Any], action: Mapping[str, Any]) -> str | None:
        """Record one button click; returns the note shown on the message (None if ignored)."""
        action_id = str(action.get("action_id") or "")
        match_ids = _match_ids(action.get("value"))
        if not match_ids or (action_id not in ACTION_LABELS and action_id != ACTION_MUTE):
            log.info(kv("slack_action_ignored", action=action_id, value=action.get("value")))
            return None
        user = payload.get("user") or {}
        uid = str(user.get("id") or "") or None
        name = self.user_name(user)
        with self.db.session() as session:
            found = [m for m in (session.get(Match, i) for i in match_ids) if m is not None]
            if not found:
                log.warning(kv("slack_action_unknown_match", match_ids=match_ids, user=uid))
                return None
            match, match_id = found[0], found[0].id
            if action_id == ACTION_MUTE:
                article = session.get(Article, match.article_id)
                source_id = article.source_id if article is not None else None
                source = session.get(Source, source_id) if source_id else None
                if source is None:
                    raise NewswatchError(f"match {match_id} has no source to mute")
                mute = mute_source(
                    session, source.id, by=name, days=MUTE_DAYS, slack_user=uid,
                    reason=f"Slack button on match {match_id}",
                )  # fmt: skip
                note = f"Source {source.name} muted until {mute.until:%Y-%m-%d %H:%M} UTC by {name}"
            else:
                label = ACTION_LABELS[action_id]
                for each in found:  # a message lists every topic of its article
                    record_label(session, each.id, label, reviewer=name, slack_user=uid)
                shown = "Relevant" if label == "relevant" else "Not relevant"
                note = f"Labelled {shown} by {name}"
        log.info(kv("slack_action_recorded", action=action_id, match_ids=match_ids, user=uid))
        self.update_message(payload, note)
        return note

    def update_message(self, payload: Mapping[str, Any], note: str) -> None:
        """Replace the buttons with the note (chat.update); logged, never raised, on failure."""
        message = payload.get("message") or {}
        container = payload.get("container") or {}
        channel = (payload.get("channel") or {}).get("id") or container.get("channel_id")
        ts = message.get("ts") or container.get("message_ts")
        if self.web is None or not channel or not ts:
            log.info(kv("slack_message_not_updated", reason="no bot token or no message ts"))
            return
        blocks = labelled_blocks(message.get("blocks") or [], note)
        try:
            self.web.chat_update(
                channel=channel, ts=ts, blocks=blocks, text=str(message.get("text") or note)
            )
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning(kv("slack_update_failed", channel=channel, ts=ts, error=repr(exc)[:300]))


class Interactive:
    """The running Socket Mode client of the daemon (`start_interactive` builds it)."""

    def __init__(self, client: SocketModeClient, handler: FeedbackHandler) -> None:
        self.client = client
        self.handler = handler
        self.stopped = threading.Event()
        self.connected = threading.Event()
        # close() waits for a connect in flight: one finishing after close() would switch the
        # client's auto-reconnect back on and leave it running
        self._connecting = threading.Lock()

    def connect(self, retry_every: float) -> None:
        """Connect, retrying until it works or `close()`; once connected, the client itself
        reconnects whenever the socket drops."""
        while not self.stopped.is_set():
            try:
                with self._connecting:
                    if self.stopped.is_set():
                        return
                    self.client.connect()
                if self.client.is_connected():
                    self.connected.set()
                    log.info(kv("socket_mode_connected"))
                    return
                reason = "the handshake failed"
            except Exception as exc:
                reason = scrub(repr(exc), self.client.app_token)
            log.error(kv("socket_mode_connect_failed", error=reason, retry_in=retry_every))
            self.stopped.wait(retry_every)

    def close(self) -> None:
        """Disconnect and stop the client's threads."""
        self.stopped.set()
        with self._connecting:
            self._close()

    def _close(self) -> None:
        try:
            self.client.close()
        except Exception as exc:  # closing must never fail the daemon's shutdown
            log.warning(kv("socket_mode_close_failed", error=repr(exc)))


def start_interactive(
    db: Database, settings: Settings, *, ping_interval: float = 5.0, retry_every: float = 30.0
) -> Interactive | None:
    """Connect Socket Mode when $SLACK_APP_TOKEN is set (else None); errors are logged."""
    app_token = settings.slack.app_token
    if not app_token:
        return None
    bot = settings.slack.bot_token
    web = WebClient(
        token=bot, base_url=settings.slack.api_url, timeout=int(settings.slack.timeout),
        logger=SDK_LOGGER,
    )  # fmt: skip
    handler = FeedbackHandler(db, settings, web if bot else None)
    client = SocketModeClient(
        app_token=app_token, web_client=web, logger=SDK_LOGGER, ping_interval=ping_interval
    )
    client.socket_mode_request_listeners.append(handler)
    interactive = Interactive(client, handler)
    threading.Thread(
        target=interactive.connect, args=(retry_every,), name="socket-mode-connect", daemon=True
    ).start()
    log.info(kv("socket_mode_started", bot_token=bool(bot)))
    return interactive


__all__ = ["FeedbackHandler", "Interactive", "start_interactive"]
