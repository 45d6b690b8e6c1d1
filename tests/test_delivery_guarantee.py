"""What the README's delivery guarantee says can repeat is what the dispatcher does (issue 17.6).

The case the old wording missed: the process is killed while its request is in flight, before
Slack answered. Slack posts the message anyway; the row is still `sending`, so once its lease
expires it is posted again. Nothing else repeats.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from slack_standin import FakeClock, SlackStandin
from test_alerts_dispatcher import store_n, titles
from test_alerts_support import bot_sender, dispatcher, make_settings, row

from alerts.slack import Sender, SendResult
from crawler.storage.db import Database

README = Path(__file__).resolve().parents[1] / "README.md"


class DiesInFlight:
    """A sender whose process dies on its n-th send after the request reached Slack, before
    Slack's answer came back (the request itself carries on, as it would on the wire)."""

    def __init__(self, inner: Sender, standin: SlackStandin, n: int) -> None:
        self.inner, self.standin, self.n, self.calls = inner, standin, n, 0
        self.destination, self.supports_threads, self.rate_limited = "slack", True, True
        self.in_flight: threading.Thread | None = None

    def send(
        self, channel: str, payload: Mapping[str, Any], thread_ts: str | None = None
    ) -> SendResult:
        self.calls += 1
        if self.calls != self.n:
            return self.inner.send(channel, payload, thread_ts)
        arrived = len(self.standin.calls("chat.postMessage")) + 1
        self.standin.slow(1)  # Slack is slow to answer; it posts when it does
        self.in_flight = threading.Thread(
            target=self._send_quietly, args=(channel, payload, thread_ts), daemon=True
        )
        self.in_flight.start()
        reached = threading.Event()
        for _ in range(500):  # wait for the request to reach Slack (a condition, not a time)
            if len(self.standin.calls("chat.postMessage")) >= arrived:
                reached.set()
                break
            reached.wait(0.01)
        assert reached.is_set(), "the request never reached the stand-in"
        raise KeyboardInterrupt  # the kill: no answer was ever read

    def _send_quietly(self, channel: str, payload: Mapping[str, Any], ts: str | None) -> None:
        # Whatever the answer: nobody is listening any more.
        with contextlib.suppress(Exception):
            self.inner.send(channel, payload, ts)


def test_kill_while_the_request_is_in_flight_repeats_that_message_after_its_lease(
    database: Database, slack_standin: SlackStandin
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin)
    ids = store_n(database, settings, clock, 4)
    dying = DiesInFlight(bot_sender(slack_standin, timeout=10), slack_standin, 2)
    try:
        dispatcher(database, settings, dying, clock, worker_id="dead").run_once()
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the dispatcher should have been killed")
    assert dying.in_flight is not None
    dying.in_flight.join(15)  # Slack finishes the request the dead process made
    assert Counter(titles(slack_standin)) == {"alert 1": 1, "alert 2": 1}  # Slack posted it
    assert [row(database, i).status for i in ids] == ["sent", "sending", "pending", "pending"]
    restarted = dispatcher(database, settings, bot_sender(slack_standin), clock, worker_id="new")
    assert restarted.run_once().claimed == 0  # the row in flight keeps its lease and the order
    clock.advance(301)  # the lease (5 minutes) expires
    stats = restarted.run_once()
    assert stats.reclaimed == 1 and stats.sent == 3
    counts = Counter(titles(slack_standin))
    assert counts == {"alert 1": 1, "alert 2": 2, "alert 3": 1, "alert 4": 1}
    assert all(row(database, i).status == "sent" for i in ids)


def test_readme_names_exactly_what_can_repeat() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    found = re.search(r"\*\*Delivery guarantee\.\*\*(.*?)\*\*No floods\.\*\*", text)
    assert found, "README has no delivery guarantee paragraph"
    guarantee = found.group(1)
    assert "at-least-once" in guarantee
    assert "in flight" in guarantee and "not yet" in guarantee  # killed before Slack answered
    assert "lease expires" in guarantee
    assert "times out after Slack had posted it" in guarantee
    assert "never a row already marked `sent`" in guarantee
