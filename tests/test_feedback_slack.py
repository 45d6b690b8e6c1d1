"""Slack buttons over Socket Mode: button → ack → review row → chat.update, across a dropped socket.

Everything runs on loopback: the Web API stand-in answers apps.connections.open with the
ws:// URL of a SocketModeStandin, which sends block_actions envelopes and records acks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from slack_standin import APP_TOKEN, TOKEN, SlackStandin, SocketModeStandin
from sqlalchemy import select
from test_review_factory import add_article, add_match, add_source

from alerts.dispatcher import Dispatcher
from alerts.format import FEEDBACK_BLOCK_ID
from alerts.outbox import enqueue_match_alerts, message_for
from alerts.slack import SlackBotSender
from crawler.config import Settings
from crawler.review.interactive import FeedbackHandler, start_interactive
from crawler.storage.db import Database
from crawler.storage.models import Alert, Article, Match, Review, Source
from crawler.storage.models_feedback import SourceMute


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    try:
        yield database
    finally:
        database.dispose()


def _seed(db: Database, topic: str = "courthouse_arrests") -> tuple[int, int]:
    with db.session() as s:
        source = add_source(s, "metro-daily")
        article = add_article(s, source, "Agents detain a man at the county courthouse")
        match = add_match(s, article, topic)
        return match.id, source.id


def _enqueue(db: Database, match_id: int, settings: Settings) -> list[Alert]:
    with db.session() as s:
        match = s.get(Match, match_id)
        assert match is not None
        article = s.get(Article, match.article_id)
        assert article is not None
        source = s.get(Source, article.source_id)
        rows = enqueue_match_alerts(
            s, article=article, match=match, source=source, settings=settings, first_crawl=False
        )
        s.expunge_all()
        return rows


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in message["blocks"] if b.get("block_id") == FEEDBACK_BLOCK_ID]


def test_buttons_only_with_an_app_token(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    first, _ = _seed(db)
    with db.session() as s:
        source = s.scalars(select(Source)).one()
        article = add_article(s, source, "A second courthouse story")
        second = add_match(s, article, "courthouse_arrests").id
    settings = Settings()
    [plain] = _enqueue(db, first, settings)
    assert _buttons(message_for(plain, None, threaded=False, cap=20)) == []
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    [interactive] = _enqueue(db, second, Settings())
    [actions] = _buttons(message_for(interactive, None, threaded=False, cap=20))
    labels = [e["text"]["text"] for e in actions["elements"]]
    assert labels == ["Relevant", "Not relevant", "Mute source for 7 days"]
    assert {e["value"] for e in actions["elements"]} == {f"match:{second}"}


def test_possible_and_missed_matches_are_never_enqueued(db: Database) -> None:
    match_id, _ = _seed(db)
    with db.session() as s:
        match = s.get(Match, match_id)
        assert match is not None
        match.state = "possible"
    assert _enqueue(db, match_id, Settings()) == []
    with db.session() as s:
        assert s.scalars(select(Alert)).all() == []


class _Done:
    """Signals each handled action (the work runs after the ack, on the client's threads).

    The work waits for `gate`: a handler that acked only after its work would never ack.
    """

    def __init__(self, handler: FeedbackHandler) -> None:
        self.notes: list[str | None] = []
        self.event = threading.Event()
        self.gate = threading.Event()
        original = handler.handle_action

        def wrapped(payload: Any, action: Any) -> str | None:
            try:
                assert self.gate.wait(15), "the test never opened the gate"
                note = original(payload, action)
                self.notes.append(note)
                return note
            finally:
                self.event.set()

        handler.handle_action = wrapped  # type: ignore[method-assign]

    def wait(self) -> bool:
        self.gate.set()
        ok = self.event.wait(15)
        self.event.clear()
        self.gate.clear()
        return ok


def _payload(match_id: int, action: str, channel: str, ts: str, blocks: Any) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice", "name": "alice"},
        "channel": {"id": channel, "name": "newswatch"},
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "message": {"ts": ts, "text": "alert", "blocks": blocks},
        "actions": [
            {
                "action_id": f"newswatch_{action}",
                "block_id": FEEDBACK_BLOCK_ID,
                "type": "button",
                "value": f"match:{match_id}",
            }
        ],
    }


def test_slack_button_records_review_updates_message_and_survives_a_drop(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    match_id, source_id = _seed(db)
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    with SocketModeStandin() as sm, SlackStandin(socket_mode=sm) as api:
        settings = Settings.model_validate({"slack": {"api_url": api.api_url}})
        # The alert goes out with its buttons, through the real dispatcher.
        _enqueue(db, match_id, settings)
        sender = SlackBotSender(TOKEN, api_url=api.api_url, timeout=5)
        Dispatcher(db, settings, sender=sender, sleep=lambda _s: None).run_until_idle()
        [posted] = api.posted
        assert _buttons({"blocks": posted.blocks})
        channel, ts = posted.answer["channel"], posted.ts

        interactive = start_interactive(db, settings, ping_interval=0.5, retry_every=0.2)
        assert interactive is not None
        try:
            done = _Done(interactive.handler)
            assert interactive.connected.wait(15), "the client never connected"
            assert sm.connected.wait(15)

            payload = _payload(match_id, "relevant", channel, ts, posted.blocks)
            assert sm.send_envelope(payload, "env-1"), "the click was not acknowledged"
            assert done.wait()
            with db.session() as s:
                [review] = s.scalars(select(Review)).all()
                assert (review.label, review.reviewer, review.slack_user) == (
                    "relevant", "Alice", "U0ALICE",
                )  # fmt: skip
                match = s.get(Match, match_id)
                assert match is not None and match.review_status == "relevant"
            [update] = api.calls("chat.update")
            assert (update.body["channel"], update.body["ts"]) == (channel, ts)
            assert "Labelled Relevant by Alice" in update.everything
            assert not _buttons({"blocks": update.blocks})

            # The stand-in drops the socket; the client reconnects through a new URL.
            opened = len(api.calls("apps.connections.open"))
            sm.drop()
            assert sm.connected.wait(20), "the client did not reconnect after the drop"
            assert len(api.calls("apps.connections.open")) > opened
            payload = _payload(match_id, "mute_source", channel, ts, posted.blocks)
            assert sm.send_envelope(payload, "env-2"), "no ack after reconnecting"
            assert done.wait()
        finally:
            interactive.close()
    with db.session() as s:
        [mute] = s.scalars(select(SourceMute)).all()
        assert (mute.source_id, mute.muted_by, mute.slack_user) == (source_id, "Alice", "U0ALICE")
        # A muted source's next alert is stored suppressed, with the reason.
        source = s.get(Source, source_id)
        article = add_article(s, source, "Another courthouse arrest story")
        new_match = add_match(s, article, "courthouse_arrests")
        [row] = enqueue_match_alerts(
            s, article=article, match=new_match, source=source, settings=Settings(),
            first_crawl=False,
        )  # fmt: skip
        assert row.status == "suppressed" and "muted by Alice" in (row.last_error or "")


def test_handler_falls_back_to_the_payload_name_and_ignores_foreign_buttons(
    db: Database, slack_standin: SlackStandin
) -> None:
    from slack_sdk import WebClient

    match_id, _ = _seed(db)
    web = WebClient(token=TOKEN, base_url=slack_standin.api_url)
    handler = FeedbackHandler(db, Settings(), web)
    unknown_user = {"id": "U0BOB", "username": "bob", "name": "bob"}
    payload = {**_payload(match_id, "irrelevant", "C1", "1.2", []), "user": unknown_user}
    assert handler.handle_action(payload, payload["actions"][0]) == "Labelled Not relevant by bob"
    foreign = {"action_id": "someone_else", "value": f"match:{match_id}"}
    assert handler.handle_action(payload, foreign) is None
    bad = {"action_id": "newswatch_relevant", "value": "match:nope"}
    assert handler.handle_action(payload, bad) is None
    gone = {"action_id": "newswatch_relevant", "value": "match:999999"}
    assert handler.handle_action(payload, gone) is None
    with db.session() as s:
        [review] = s.scalars(select(Review)).all()
        assert (review.label, review.reviewer, review.slack_user) == ("irrelevant", "bob", "U0BOB")
    # the message could not be found by chat.update: logged, the review stays recorded
    assert [c.answer["ok"] for c in slack_standin.calls("chat.update")] == [False]


def test_one_message_for_two_topics_labels_both(
    db: Database, monkeypatch: pytest.MonkeyPatch, slack_standin: SlackStandin
) -> None:
    from slack_sdk import WebClient

    from alerts.outbox import enqueue_article_alerts

    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    with db.session() as s:
        source = add_source(s, "metro-daily")
        article = add_article(s, source, "Sheriff and agents clash at the courthouse")
        ids = [add_match(s, article, t).id for t in ("courthouse_arrest", "sanctuary_dispute")]
        [row] = enqueue_article_alerts(
            s, article=article, matches=[s.get(Match, i) for i in ids], source=source,
            settings=Settings(), first_crawl=False,
        )  # fmt: skip
        message = message_for(row, None, threaded=False, cap=20)
    [actions] = _buttons(message)
    value = actions["elements"][0]["value"]
    assert sorted(int(i) for i in value.removeprefix("match:").split(",")) == sorted(ids)
    handler = FeedbackHandler(
        db, Settings(), WebClient(token=TOKEN, base_url=slack_standin.api_url)
    )
    payload = _payload(ids[0], "relevant", "C1", "1.2", message["blocks"])
    payload["actions"][0]["value"] = value
    assert handler.handle_action(payload, payload["actions"][0]) == "Labelled Relevant by Alice"
    with db.session() as s:
        labelled = s.scalars(select(Match.review_status).where(Match.id.in_(ids))).all()
        assert labelled == ["relevant", "relevant"]


def test_the_daemon_connects_socket_mode_and_closes_it_on_stop(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler.daemon.scheduler import Daemon

    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)

    class NoDispatch:
        def run_once(self, limit: int = 100) -> None:
            pass

    with SocketModeStandin() as sm, SlackStandin(socket_mode=sm) as api:
        settings = Settings.model_validate({"slack": {"api_url": api.api_url}})
        daemon = Daemon(settings, db, crawl_fn=lambda _s: None, dispatcher=NoDispatch())
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(daemon.run()), daemon=True)
        thread.start()
        assert sm.connected.wait(20), "the daemon never opened the Socket Mode connection"
        daemon.request_stop()
        thread.join(20)
        assert result == [0]
        sm.current.wait_closed()  # the client said goodbye: no socket is left behind
        assert len(api.calls("apps.connections.open")) == 1
