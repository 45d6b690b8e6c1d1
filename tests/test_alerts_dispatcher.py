"""The dispatcher through the real slack-sdk against the stand-in, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import socket
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
import slack_standin as standin_module
from rich.console import Console
from slack_standin import TOKEN, FakeClock, SlackStandin
from test_alerts_support import (
    TOPIC,
    add_cluster,
    add_source,
    bot_sender,
    dispatcher,
    make_settings,
    row,
    rows,
    store_match,
    store_topics,
)

from alerts.dispatcher import Dispatcher
from alerts.outbox import enqueue_health_alert
from alerts.report import kv
from alerts.slack import ConsoleSender, Sender, SendResult, SlackBotSender, WebhookSender
from crawler.storage.db import Database
from crawler.storage.models import Source

slack_standin = standin_module.slack_standin
INJECTION = "<!channel> <https://evil.example|click here> & *free* stuff"


def titles(standin: SlackStandin) -> list[str]:
    """The headline of each delivered message (the alerts are titled 'alert N')."""
    out = []
    for rec in standin.posted:
        for word in rec.text.split("] ", 1)[-1].split(" — ")[:1]:
            out.append(word)
    return out


def store_n(
    db: Database, settings: Any, clock: FakeClock, n: int, first: int = 1, **kwargs: Any
) -> list[int]:
    """Store alerts titled 'alert <first>' … 'alert <first+n-1>'; return their row ids."""
    source_id = kwargs.pop("source_id", None) or add_source(db)
    ids = []
    for i in range(first, first + n):
        title = f"alert {i}"
        ids.append(
            store_match(db, settings, source_id=source_id, title=title, now=clock(), **kwargs)[0].id
        )
    return ids


def test_sends_in_order_one_per_second_and_records_ts(
    database: Database, slack_standin: SlackStandin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    settings = make_settings(slack_standin)
    ids = store_n(database, settings, clock, 3)
    start = clock()
    stats = dispatcher(database, settings, bot_sender(slack_standin), clock).run_once()
    assert (stats.claimed, stats.sent, stats.failed) == (3, 3, 0)
    assert titles(slack_standin) == ["alert 1", "alert 2", "alert 3"]
    assert clock.slept == [1.0, 1.0]  # per_channel_interval, slept on the injected clock
    sent = [row(database, i) for i in ids]
    assert [r.status for r in sent] == ["sent"] * 3
    assert [r.slack_ts for r in sent] == [rec.ts for rec in slack_standin.posted]
    assert [r.sent_at for r in sent] == [
        start,
        start + timedelta(seconds=1),
        start + timedelta(seconds=2),
    ]
    assert all(r.destination == "slack" and r.attempts == 1 and r.claimed_by is None for r in sent)
    assert sent[0].payload["sent_channel"] == slack_standin.channels["newswatch"].id
    assert f"event=alert_sent alert_id={ids[0]} kind=alert channel=#newswatch ts=" in caplog.text
    assert TOKEN not in caplog.text
    assert dispatcher(database, settings, bot_sender(slack_standin), clock).run_once().claimed == 0


def test_slack_down_then_back_delivers_everything_once_in_order(
    database: Database, slack_standin: SlackStandin
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin, backoff_base=5, backoff_max=60)
    ids = store_n(database, settings, clock, 5)
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        dead = SlackBotSender(
            TOKEN, api_url=f"http://127.0.0.1:{sock.getsockname()[1]}/api/", timeout=2
        )
    d = dispatcher(database, settings, dead, clock)
    for _ in range(3):
        stats = d.run_once()
        assert stats.sent == 0 and stats.retried == 1  # the head retries, the others wait behind
        clock.advance(61)
    assert row(database, ids[0]).attempts == 3 and "network" in (
        row(database, ids[0]).last_error or ""
    )
    slack_standin.server_error(times=2, status=503)  # back, but overloaded for two calls
    live = dispatcher(database, settings, bot_sender(slack_standin), clock)
    for _ in range(10):
        if all(row(database, i).status == "sent" for i in ids):
            break
        live.run_once()
        clock.advance(61)
    assert titles(slack_standin) == [f"alert {i}" for i in range(1, 6)]
    assert len(slack_standin.posted) == 5
    assert [r.status for r in rows(database)] == ["sent"] * 5


def test_429_waits_exactly_retry_after(database: Database, slack_standin: SlackStandin) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin)
    [first, second] = store_n(database, settings, clock, 2)
    slack_standin.rate_limit(retry_after=7)
    d = dispatcher(database, settings, bot_sender(slack_standin), clock)
    stats = d.run_once()
    assert (stats.retried, stats.sent, stats.deferred) == (1, 0, 1)
    limited = row(database, first)
    assert limited.next_attempt_at == clock() + timedelta(seconds=7)
    assert limited.attempts == 1 and (limited.last_error or "").startswith("ratelimited")
    clock.advance(6.9)
    assert d.run_once().claimed == 0  # nothing of that channel goes before the limited one
    clock.advance(0.1)
    assert d.run_once().sent == 2
    assert titles(slack_standin) == ["alert 1", "alert 2"]
    assert row(database, second).status == "sent"


def test_rate_limits_never_exhaust_attempts(
    database: Database, slack_standin: SlackStandin
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin, max_attempts=2)
    [alert] = store_n(database, settings, clock, 1)
    d = dispatcher(database, settings, bot_sender(slack_standin), clock)
    slack_standin.rate_limit(retry_after=1, times=4)
    for _ in range(4):
        assert d.run_once().retried == 1
        clock.advance(1)
    assert d.run_once().sent == 1 and row(database, alert).attempts == 5


@pytest.mark.parametrize(
    "error",
    [
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "invalid_blocks",
        "no_text",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
    ],
)
def test_permanent_error_fails_that_row_and_the_others_go(
    database: Database, slack_standin: SlackStandin, caplog: pytest.LogCaptureFixture, error: str
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin, channels={"other": "#broken"})
    source_id = add_source(database)
    [bad] = store_match(
        database, settings, source_id=source_id, title="bad", now=clock(), topic="other"
    )
    good = store_n(database, settings, clock, 2, source_id=source_id)
    slack_standin.api_error(error, times=1)  # the first post (the #broken row) is refused
    stats = dispatcher(database, settings, bot_sender(slack_standin), clock).run_once()
    assert (stats.failed, stats.sent) == (1, 2)
    failed = row(database, bad)
    assert failed.status == "failed" and (failed.last_error or "").startswith(
        f"{error}: Slack answered {error}"
    )
    assert all(row(database, i).status == "sent" for i in good)
    [line] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert line.getMessage().startswith(
        f"event=alert_failed alert_id={bad.id} kind=alert channel=#broken"
    )


def test_real_channel_errors_from_the_standin(
    database: Database, slack_standin: SlackStandin
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin, channels={"a": "#gone", "b": "#private"})
    slack_standin.strict_channels = True
    slack_standin.add_channel("newswatch")
    slack_standin.add_channel("private", is_member=False)
    source_id = add_source(database)
    [gone] = store_match(database, settings, source_id=source_id, title="x", now=clock(), topic="a")
    [private] = store_match(
        database, settings, source_id=source_id, title="y", now=clock(), topic="b"
    )
    [fine] = store_match(database, settings, source_id=source_id, title="z", now=clock())
    dispatcher(database, settings, bot_sender(slack_standin), clock).run_once()
    assert (row(database, gone).last_error or "").startswith("channel_not_found")
    assert (row(database, private).last_error or "").startswith("not_in_channel")
    assert "/invite" in (row(database, private).last_error or "")
    assert row(database, fine).status == "sent"


def test_attempts_exhausted_fail_loudly(database: Database, slack_standin: SlackStandin) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin, max_attempts=3)
    [alert] = store_n(database, settings, clock, 1)
    slack_standin.server_error(times=3)
    d = dispatcher(database, settings, bot_sender(slack_standin), clock)
    for _ in range(3):
        d.run_once()
        clock.advance(3600)
    failed = row(database, alert)
    assert failed.status == "failed" and failed.attempts == 3
    assert (failed.last_error or "").startswith("http_500: gave up after 3 attempts")


def test_backoff_grows_with_jitter_up_to_the_cap(
    database: Database, slack_standin: SlackStandin
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin, backoff_base=10, backoff_max=40, max_attempts=10)
    [alert] = store_n(database, settings, clock, 1)
    slack_standin.server_error(times=5)
    d = dispatcher(database, settings, bot_sender(slack_standin), clock)
    delays = []
    for _ in range(5):
        d.run_once()
        delays.append((row(database, alert).next_attempt_at - clock()).total_seconds())
        clock.advance(3600)
    for delay, nominal in zip(delays, [10, 20, 40, 40, 40], strict=True):
        assert nominal / 2 <= delay <= nominal


def test_timeout_is_retried(database: Database, slack_standin: SlackStandin) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin)
    [alert] = store_n(database, settings, clock, 1)
    slack_standin.slow(30)  # longer than the client's timeout; ends when the server stops
    stats = dispatcher(database, settings, bot_sender(slack_standin, timeout=0.3), clock).run_once()
    assert stats.retried == 1
    assert (row(database, alert).last_error or "").startswith("timeout: cannot reach Slack")


class Crash:
    """A sender that dies (KeyboardInterrupt) on its n-th send, before or after Slack got it."""

    def __init__(self, inner: Sender, n: int, *, after_send: bool) -> None:
        self.inner, self.n, self.after_send, self.calls = inner, n, after_send, 0
        self.destination, self.supports_threads, self.rate_limited = "slack", True, True

    def send(
        self, channel: str, payload: Mapping[str, Any], thread_ts: str | None = None
    ) -> SendResult:
        self.calls += 1
        if self.calls == self.n and not self.after_send:
            raise KeyboardInterrupt
        result = self.inner.send(channel, payload, thread_ts)
        if self.calls == self.n:
            raise KeyboardInterrupt
        return result


@pytest.mark.parametrize("after_send", [True, False])
def test_crash_mid_batch_repeats_at_most_the_message_in_flight(
    database: Database, slack_standin: SlackStandin, after_send: bool
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin)
    ids = store_n(database, settings, clock, 5)
    crashing = Crash(bot_sender(slack_standin), 3, after_send=after_send)
    with pytest.raises(KeyboardInterrupt):
        dispatcher(database, settings, crashing, clock, worker_id="dead").run_once()
    statuses = [row(database, i).status for i in ids]
    assert statuses == ["sent", "sent", "sending", "pending", "pending"]  # untried rows released
    restarted = dispatcher(database, settings, bot_sender(slack_standin), clock, worker_id="new")
    assert restarted.run_once().claimed == 0  # the in-flight row keeps its lease, order is kept
    clock.advance(301)  # the lease (5 minutes) expires
    stats = restarted.run_once()
    assert stats.reclaimed == 1 and stats.sent == 3
    counts = Counter(titles(slack_standin))
    expected = {f"alert {i}": 1 for i in range(1, 6)}
    if after_send:
        expected["alert 3"] = 2  # the documented window: Slack answered, the commit never ran
    assert counts == expected
    assert "lease expired" not in (row(database, ids[2]).last_error or "")  # sent clears it
    assert row(database, ids[2]).attempts == 2


def test_two_dispatchers_never_send_the_same_row(db_url: str, slack_standin: SlackStandin) -> None:
    clock = FakeClock()
    settings = make_settings(
        slack_standin, per_channel_interval=0, channels={f"t{i}": f"#c{i}" for i in range(6)}
    )
    setup = Database(db_url)
    source_id = add_source(setup)
    for i in range(60):
        store_match(
            setup, settings, source_id=source_id, title=f"alert {i}", now=clock(), topic=f"t{i % 6}"
        )
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    totals: list[int] = []

    def worker(name: str) -> None:
        db = Database(db_url)  # its own engine and pool
        try:
            d = Dispatcher(
                db,
                settings,
                sender=bot_sender(slack_standin),
                clock=clock,
                sleep=lambda s: None,
                worker_id=name,
            )
            barrier.wait(timeout=30)
            sent = 0
            for _ in range(200):
                stats = d.run_once(limit=5)
                sent += stats.sent
                if stats.claimed == 0 and not any(r.status == "pending" for r in rows(db)):
                    break
            totals.append(sent)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert not errors
        counts = Counter(titles(slack_standin))
        assert counts == {f"alert {i}": 1 for i in range(60)}
        assert sum(totals) == 60
        assert all(r.status == "sent" for r in rows(setup))
    finally:
        setup.dispose()


def test_injection_title_reaches_slack_escaped(
    database: Database, slack_standin: SlackStandin
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin)
    source_id = add_source(database)
    store_match(
        database,
        settings,
        source_id=source_id,
        title=INJECTION,
        now=clock(),
        snippet=INJECTION,
        outlet="<!here>",
    )
    dispatcher(database, settings, bot_sender(slack_standin), clock).run_once()
    [message] = slack_standin.posted
    everything = message.everything
    assert (
        "<!channel>" not in everything
        and "<!here>" not in everything
        and "<https://evil" not in everything
    )
    assert "&lt;!channel&gt; &lt;https://evil.example|click here&gt; &amp;" in message.text
    assert "&lt;!channel&gt;" in message.blocks[0]["text"]["text"]


def test_huge_snippet_is_cut_not_rejected(database: Database, slack_standin: SlackStandin) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin)
    source_id = add_source(database)
    [alert] = store_match(
        database,
        settings,
        source_id=source_id,
        title="Long",
        now=clock(),
        snippet="ICE at the courthouse. " * 900,
    )
    assert len(alert.payload["view"]["snippet"]) > 20_000
    assert dispatcher(database, settings, bot_sender(slack_standin), clock).run_once().sent == 1
    [message] = slack_standin.posted
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in message.blocks)


def test_follow_up_threads_under_the_first_alert(
    database: Database, slack_standin: SlackStandin
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin)
    source_id = add_source(database)
    cluster = add_cluster(database)
    [first] = store_match(
        database, settings, source_id=source_id, title="first", now=clock(), cluster_id=cluster
    )
    [second] = store_match(
        database,
        settings,
        source_id=source_id,
        title="second",
        now=clock(),
        cluster_id=cluster,
        outlet="Other Times",
    )
    slack_standin.server_error(times=1)  # the first alert fails once: the follow-up must wait
    d = dispatcher(database, settings, bot_sender(slack_standin), clock)
    assert d.run_once().retried == 1
    assert row(database, second).status == "pending" and not slack_standin.posted
    clock.advance(3600)
    assert d.run_once().sent == 2
    parent, reply = slack_standin.posted
    assert (
        parent.thread_ts is None and reply.thread_ts == parent.ts == row(database, first).slack_ts
    )
    assert reply.channel == slack_standin.channels["newswatch"].id
    assert "Also reported by *Other Times*" in reply.blocks[0]["text"]["text"]
    assert row(database, second).thread_ts == parent.ts


def test_follow_up_waits_for_a_parent_sent_by_another_run(
    database: Database, slack_standin: SlackStandin
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin, channels={"t2": "#newswatch"})
    source_id = add_source(database)
    cluster = add_cluster(database)
    [first] = store_match(
        database, settings, source_id=source_id, title="first", now=clock(), cluster_id=cluster
    )
    d = dispatcher(database, settings, bot_sender(slack_standin), clock)
    with database.session() as session:  # the parent is being sent by someone else right now
        parent = session.get(type(first), first.id)
        assert parent is not None
        parent.status, parent.claimed_by, parent.claimed_at = "sending", "other", clock()
    [second] = store_match(
        database, settings, source_id=source_id, title="second", now=clock(), cluster_id=cluster
    )
    assert d.run_once().claimed == 0  # ordered behind the parent
    with database.session() as session:  # the other dispatcher finishes
        parent = session.get(type(first), first.id)
        assert parent is not None
        parent.status, parent.slack_ts, parent.claimed_by = "sent", "1700000000.000001", None
    assert d.run_once().sent == 1
    [reply] = slack_standin.posted
    assert reply.thread_ts == "1700000000.000001" and row(database, second).status == "sent"


def test_follow_up_of_a_failed_alert_is_posted_on_its_own(
    database: Database, slack_standin: SlackStandin
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin)
    source_id = add_source(database)
    cluster = add_cluster(database)
    [first] = store_match(
        database, settings, source_id=source_id, title="first", now=clock(), cluster_id=cluster
    )
    [second] = store_match(
        database,
        settings,
        source_id=source_id,
        title="second",
        now=clock(),
        cluster_id=cluster,
        outlet="Other Times",
    )
    slack_standin.api_error("msg_too_long")  # the first alert is refused for good
    stats = dispatcher(database, settings, bot_sender(slack_standin), clock).run_once()
    assert (stats.failed, stats.sent) == (1, 1)
    [alone] = slack_standin.posted
    assert alone.thread_ts is None and alone.text.startswith("Also reported by Other Times")
    assert row(database, first).status == "failed" and row(database, second).thread_ts is None


def test_webhook_follow_up_is_a_plain_message(
    database: Database, slack_standin: SlackStandin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    settings = make_settings(slack_standin)
    source_id = add_source(database)
    cluster = add_cluster(database)
    store_match(
        database, settings, source_id=source_id, title="first", now=clock(), cluster_id=cluster
    )
    [second] = store_match(
        database,
        settings,
        source_id=source_id,
        title="second",
        now=clock(),
        cluster_id=cluster,
        outlet="Other Times",
    )
    sender = WebhookSender(slack_standin.webhook_url(), timeout=2)
    assert dispatcher(database, settings, sender, clock).run_once().sent == 2
    _, follow = slack_standin.posted
    assert follow.method == "webhook" and "thread_ts" not in follow.body
    assert follow.text.startswith("Also reported by Other Times")
    assert "First alerted: <https://news.example/" in follow.blocks[0]["text"]["text"]
    stored = row(database, second)
    assert (stored.destination, stored.slack_ts, stored.thread_ts) == ("webhook", None, None)
    assert "event=alert_sent" in caplog.text and "/webhook/" not in caplog.text


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (500, "rollup_error", "pending"),
        (503, "", "pending"),
        (400, "invalid_payload", "failed"),
        (403, "action_prohibited", "failed"),
        (404, "no_service", "failed"),
        (410, "channel_is_archived", "failed"),
        (200, "weird", "failed"),
    ],
)
def test_webhook_errors_do_not_pass_as_sent(
    database: Database, slack_standin: SlackStandin, status: int, body: str, outcome: str
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin)
    [alert] = store_n(database, settings, clock, 1)
    url = slack_standin.webhook_url("T1/B1/x", standin_module.Reply(status, body))
    dispatcher(database, settings, WebhookSender(url, timeout=2), clock).run_once()
    stored = row(database, alert)
    assert stored.status == outcome and (stored.last_error or "").startswith(body or "http_503")
    assert url not in (stored.last_error or "")


def test_webhook_429_and_recovery(database: Database, slack_standin: SlackStandin) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin)
    [alert] = store_n(database, settings, clock, 1)
    url = slack_standin.webhook_url()
    slack_standin.rate_limit(retry_after=30, path="/webhook/")
    d = dispatcher(database, settings, WebhookSender(url, timeout=2), clock)
    d.run_once()
    assert row(database, alert).next_attempt_at == clock() + timedelta(seconds=30)
    clock.advance(30)
    assert d.run_once().sent == 1 and len(slack_standin.posted) == 1


def test_hourly_cap_folds_the_overflow_into_one_digest(
    database: Database, slack_standin: SlackStandin
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin, hourly_cap=3)
    ids = store_n(database, settings, clock, 8)
    d = dispatcher(database, settings, bot_sender(slack_standin), clock)
    stats = d.run_once()
    assert (stats.sent, stats.folded, stats.digests) == (4, 5, 1)  # 3 alerts + 1 digest
    assert titles(slack_standin)[:3] == ["alert 1", "alert 2", "alert 3"]
    digest_msg = slack_standin.posted[3]
    assert digest_msg.blocks[0]["text"]["text"] == "newswatch digest: 5 more alerts"
    assert all(f"alert {i}" in digest_msg.everything for i in range(4, 9))
    digest = next(r for r in rows(database) if r.kind == "digest")
    assert digest.status == "sent" and digest.payload["alert_ids"] == ids[3:]
    for folded in ids[3:]:
        r = row(database, folded)
        assert (r.status, r.destination, r.payload["digest_id"]) == ("sent", "digest", digest.id)
    # more news within the hour waits for the next digest slot instead of a second digest now
    clock.advance(600)
    late = store_n(database, settings, clock, 2, first=9)
    stats = d.run_once()
    assert stats.deferred == 2 and len(slack_standin.posted) == 4
    assert row(database, late[0]).next_attempt_at == digest.created_at + timedelta(hours=1)
    clock.advance(3001)  # an hour after the first posts: the channel is under its cap again
    assert d.run_once().sent == 2
    assert len([r for r in rows(database) if r.kind == "digest"]) == 1


def test_health_alert_goes_to_the_health_channel(
    database: Database, slack_standin: SlackStandin
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin, health_channel="#ops")
    source_id = add_source(database)
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        enqueue_health_alert(
            session,
            source=source,
            state="failing",
            message="HTTP 403 three times",
            settings=settings,
            now=clock(),
        )
    dispatcher(database, settings, bot_sender(slack_standin), clock).run_once()
    [message] = slack_standin.posted
    assert message.channel == "#ops" and "HTTP 403 three times" in message.text


def test_console_sender_marks_rows_sent_to_console(database: Database) -> None:
    clock = FakeClock()
    settings = make_settings()
    [alert] = store_n(database, settings, clock, 1)
    console = Console(record=True, width=120)
    stats = dispatcher(database, settings, ConsoleSender(console), clock).run_once()
    assert stats.sent == 1 and clock.slept == []
    out = console.export_text()
    assert "alert → #newswatch" in out and "alert 1 (https://news.example/" in out
    assert row(database, alert).destination == "console"


def test_stale_claim_out_of_attempts_fails(database: Database, slack_standin: SlackStandin) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin, max_attempts=1)
    [alert] = store_n(database, settings, clock, 1)
    with database.session() as session:
        stuck = session.get(type(row(database, alert)), alert)
        assert stuck is not None
        stuck.status, stuck.claimed_by, stuck.claimed_at = "sending", "ghost", clock()
    clock.advance(301)
    stats = dispatcher(database, settings, bot_sender(slack_standin), clock).run_once()
    assert stats.reclaimed == 1 and stats.claimed == 0
    assert row(database, alert).status == "failed" and "lease expired" in (
        row(database, alert).last_error or ""
    )


def test_run_until_idle_respects_max(database: Database, slack_standin: SlackStandin) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin, per_channel_interval=0)
    store_n(database, settings, clock, 7)
    d = dispatcher(database, settings, bot_sender(slack_standin), clock)
    assert d.run_until_idle(max_rows=5, batch=2).sent == 5
    assert d.run_until_idle().sent == 2


def test_kv_quotes_values() -> None:
    assert kv("x", a=1, b="two words", c=None, d='q"') == 'event=x a=1 b="two words" c="" d="q\\""'


def test_article_with_two_topics_posts_one_message(
    database: Database, slack_standin: SlackStandin
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin)
    source_id = add_source(database)
    store_topics(
        database,
        settings,
        source_id=source_id,
        title="two topics",
        now=clock(),
        topics=[(TOPIC, 0.9), ("sanctuary", 0.7)],
    )
    stats = dispatcher(database, settings, bot_sender(slack_standin), clock).run_until_idle()
    assert stats.sent == 1
    [posted] = slack_standin.posted
    assert f"Label of {TOPIC} · Label of sanctuary" in posted.text
