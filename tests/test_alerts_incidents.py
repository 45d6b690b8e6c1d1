"""Alerts per incident: "New incident" first, later articles in its Slack thread, material
developments at top level when configured; exactly-once keys; through the real dispatcher."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import slack_standin as standin_module
from slack_standin import FakeClock, SlackStandin
from sqlalchemy import select
from test_alerts_support import add_source, bot_sender, dispatcher, make_settings

from alerts.outbox import enqueue_article_alerts, message_for
from crawler.config import IncidentsConfig, Settings
from crawler.storage.db import Database
from crawler.storage.incidents import link_article
from crawler.storage.models import Alert, Article, Match
from crawler.urls import fingerprint

slack_standin = standin_module.slack_standin
ARREST = (
    "Immigration agents arrested Tomas Reyes, 38, in a hallway of the Passaic County "
    "Courthouse in Paterson yesterday after his custody hearing, his lawyer said. A court "
    "officer had alerted ICE agents to the hearing. Judge Ana Whitmore called it unacceptable."
)
COPY = (
    "Tomas Reyes, 38, was arrested by ICE agents at the Passaic County Courthouse in Paterson "
    "yesterday, a court officer having alerted agents to his custody hearing. Judge Ana "
    "Whitmore condemned it."
)
CHARGE = (
    "A court officer was charged yesterday with official misconduct for alerting ICE agents "
    "before the arrest of Tomas Reyes, 38, at the Passaic County Courthouse in Paterson. "
    "Judge Ana Whitmore said the courthouse would review its rules."
)
RULING = (
    "A federal judge yesterday ordered the release of Tomas Reyes, 38, arrested by ICE at the "
    "Passaic County Courthouse in Paterson after a court officer alerted agents. Judge Ana "
    "Whitmore welcomed the ruling."
)


def publish(
    db: Database,
    settings: Settings,
    source_id: int,
    url: str,
    title: str,
    text: str,
    when: datetime,
) -> list[Alert]:
    """Store an article and its match, link its incident and enqueue, in one transaction."""
    with db.session() as s:
        article = Article(
            url=url,
            url_hash=fingerprint(url),
            fetched_url=url,
            source_id=source_id,
            status="extracted",
            title=title,
            text=text,
            site_name=url.split("/")[2],
            published_at=when,
        )
        s.add(article)
        s.flush()
        match = Match(
            article_id=article.id,
            topic="courthouse_arrest",
            topic_label="Courthouse arrest",
            score=3.0,
            threshold=1.0,
            pack_version="t",
            snippet=text[:160],
            explanation={"snippet": text[:160], "snippet_marks": [[0, 11]]},
        )
        s.add(match)
        s.flush()
        link_article(s, article, match, settings.incidents)
        rows = enqueue_article_alerts(
            s, article=article, matches=[match], source=None, settings=settings, first_crawl=False,
            now=when,
        )  # fmt: skip
        s.expunge_all()
        return rows


def texts(message: dict[str, Any]) -> str:
    out = [message["text"]]
    for block in message["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(f["text"] for f in block.get("fields") or [])
        out.extend(e.get("text", "") for e in block.get("elements") or [])
    return "\n".join(out)


def test_one_thread_per_incident_through_slack(
    database: Database, slack_standin: SlackStandin
) -> None:
    clock = FakeClock()
    settings = make_settings(slack_standin)
    source = add_source(database)
    now = clock()
    [first] = publish(database, settings, source, "https://a.test/1", "Tomas Reyes arrested",
                      ARREST, now - timedelta(hours=30))  # fmt: skip
    [copy] = publish(database, settings, source, "https://b.test/2", "ICE arrest in Paterson",
                     COPY, now - timedelta(hours=20))  # fmt: skip
    [charge] = publish(database, settings, source, "https://c.test/3", "Officer charged over tip",
                       CHARGE, now - timedelta(hours=2))  # fmt: skip
    assert first.kind == "alert" and first.idempotency_key.startswith("alert:i")
    assert (copy.kind, copy.parent_alert_id) == ("follow_up", first.id)
    assert (charge.kind, charge.parent_alert_id) == ("follow_up", first.id)
    assert charge.payload["incident"]["role"] == "update"
    # the same article offered again writes nothing new
    with database.session() as s:
        article = s.scalar(select(Article).where(Article.url == "https://c.test/3"))
        assert article is not None
        again = enqueue_article_alerts(
            s, article=article, matches=list(article.matches), source=None, settings=settings,
            first_crawl=False,
        )  # fmt: skip
        assert [r.id for r in again] == [charge.id]
    stats = dispatcher(database, settings, bot_sender(slack_standin), clock).run_once()
    assert stats.sent == 3
    root, also, update = slack_standin.posted
    assert root.thread_ts is None and also.thread_ts == root.ts and update.thread_ts == root.ts
    root_text = root.text + str(root.blocks)
    assert "New incident #" in root_text and "Passaic County Courthouse" in root_text
    assert "Reyes" not in root.text + str(root.blocks)  # incident alerts never name him
    assert "Also reported by" in str(also.blocks)
    assert "Update: charges filed" in str(update.blocks)


def test_a_ruling_can_go_to_top_level(database: Database) -> None:
    settings = make_settings().model_copy(
        update={"incidents": IncidentsConfig(top_level=["ruling"])}
    )
    source = add_source(database)
    start = datetime(2026, 3, 10, 15).astimezone()
    [first] = publish(database, settings, source, "https://a.test/1", "Man arrested", ARREST,
                      start)  # fmt: skip
    [ruling] = publish(database, settings, source, "https://d.test/4",
                       "Judge orders release of man arrested at courthouse", RULING,
                       start + timedelta(days=9))  # fmt: skip
    assert ruling.kind == "alert" and ruling.parent_alert_id is None
    assert ruling.idempotency_key.startswith("incident:a")
    message = message_for(ruling, None, threaded=False, cap=20)
    assert "Update on incident #" in texts(message) and "ruling" in texts(message)
    with database.session() as s:
        assert s.get(Alert, first.id) is not None


def test_incident_alerts_can_be_turned_off(database: Database) -> None:
    settings = make_settings().model_copy(update={"incidents": IncidentsConfig(alerts=False)})
    source = add_source(database)
    [row] = publish(database, settings, source, "https://a.test/1", "Man arrested", ARREST,
                    datetime(2026, 3, 10, 15).astimezone())  # fmt: skip
    assert "incident" not in row.payload and row.idempotency_key.startswith("alert:a")


def test_untrusted_page_text_is_escaped_in_incident_alerts(database: Database) -> None:
    settings = make_settings()
    source = add_source(database)
    [row] = publish(
        database, settings, source, "https://a.test/1", "<!channel> arrest",
        ARREST.replace("Paterson", "Paterson <https://evil.test|click>"),
        datetime(2026, 3, 10, 15).astimezone(),
    )  # fmt: skip
    text = texts(message_for(row, None, threaded=False, cap=20))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<https://evil.test|click>" not in text


def test_names_stay_when_redaction_is_off(database: Database) -> None:
    settings = make_settings().model_copy(update={"incidents": IncidentsConfig(redact_names=False)})
    source = add_source(database)
    [row] = publish(database, settings, source, "https://a.test/1", "Tomas Reyes arrested",
                    ARREST, datetime(2026, 3, 10, 15).astimezone())  # fmt: skip
    assert "Reyes" in texts(message_for(row, None, threaded=False, cap=20))
