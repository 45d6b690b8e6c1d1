"""Incidents in the database: linking in the store transaction, merge/split kept across
rematches, the CLI and the web pages (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from crawler.cli import main
from crawler.config import IncidentsConfig, Settings
from crawler.matching.rematch import rematch_articles
from crawler.review.incidents import counts_by_state, get_incident, timeline
from crawler.review.web import create_app
from crawler.storage.db import Database
from crawler.storage.incidents import link_article, merge_incidents, split_article
from crawler.storage.models import Article, Match
from crawler.storage.models_incidents import Incident, IncidentArticle, IncidentDecision
from crawler.urls import fingerprint

CFG = IncidentsConfig()
ARREST = (
    "Immigration agents arrested Tomas Reyes, 38, in a hallway of the Passaic County "
    "Courthouse in Paterson on Monday after his custody hearing, his lawyer said. A court "
    "officer had alerted ICE agents to the hearing. Judge Ana Whitmore called it unacceptable."
)
CHARGE = (
    "A court officer was charged on Thursday with official misconduct for alerting ICE agents "
    "before the arrest of Tomas Reyes, 38, at the Passaic County Courthouse in Paterson last "
    "week. Judge Ana Whitmore said the courthouse would review its rules."
)
OTHER = (
    "ICE officers detained a woman outside the Essex County Courthouse in Newark on Tuesday "
    "after she paid a traffic fine, witnesses said."
)


def store(
    db: Database, url: str, title: str, text: str, when: datetime, topic: str = "courthouse_arrest"
) -> int:
    with db.session() as session:
        article = Article(
            url=url,
            url_hash=fingerprint(url),
            fetched_url=url,
            status="extracted",
            title=title,
            text=text,
            published_at=when,
        )
        session.add(article)
        session.flush()
        match = Match(
            article_id=article.id,
            topic=topic,
            score=3.0,
            threshold=1.0,
            pack_version="t",
        )
        session.add(match)
        session.flush()
        link = link_article(session, article, match, CFG)
        assert link is not None
        return link.incident_id


@pytest.fixture
def stored(database: Database) -> dict[str, int]:
    return {
        "arrest": store(
            database, "https://a.test/1", "Man arrested at courthouse", ARREST,
            datetime(2026, 3, 10, 15, tzinfo=UTC),
        ),
        "charge": store(
            database, "https://b.test/2", "Court officer charged over ICE tip", CHARGE,
            datetime(2026, 3, 13, 15, tzinfo=UTC),
        ),
        "other": store(
            database, "https://c.test/3", "Woman detained in Newark", OTHER,
            datetime(2026, 3, 11, 15, tzinfo=UTC),
        ),
    }  # fmt: skip


def test_articles_of_one_case_share_an_incident_with_a_timeline(
    database: Database, stored: dict[str, int]
) -> None:
    assert stored["arrest"] == stored["charge"] != stored["other"]
    with database.session() as s:
        incident = get_incident(s, stored["arrest"])
        assert incident is not None
        assert incident.article_count == 2
        assert (incident.court, incident.state) == ("Passaic County Courthouse", "New Jersey")
        assert str(incident.first_date) == "2026-03-09"
        devs = timeline(s, incident.id)
        assert [(str(d.event_date), d.development) for d in devs] == [
            ("2026-03-09", "arrest"),
            ("2026-03-12", "charge"),
        ]
        assert "Reyes" not in json.dumps(incident.fields) + incident.title
        assert counts_by_state(s) == {"New Jersey": 2}


def test_merge_and_split_are_kept_across_rematches(
    database: Database, stored: dict[str, int], tmp_path: Path
) -> None:
    with database.session() as s:
        merged = merge_incidents(s, stored["arrest"], stored["other"], reviewer="ana")
        assert merged.article_count == 3
    with database.session() as s:
        gone = s.get(Incident, stored["other"])
        assert gone is not None and gone.status == "merged"
        assert get_incident(s, stored["other"]).id == stored["arrest"]  # type: ignore[union-attr]
        charge_article = s.scalar(select(Article.id).where(Article.url == "https://b.test/2"))
        fresh = split_article(s, stored["arrest"], int(charge_article or 0), reviewer="ana")
        fresh_id = fresh.id
    with database.session() as s:
        s.execute(Match.__table__.delete())  # the rules find the matches again from scratch
    rematch_articles(database, Settings(database={"url": database.url}))
    with database.session() as s:
        links = {
            url: (incident, decided)
            for url, incident, decided in s.execute(
                select(Article.url, IncidentArticle.incident_id, IncidentArticle.decided_by).join(
                    Article, Article.id == IncidentArticle.article_id
                )
            )
        }
        assert links["https://b.test/2"] == (fresh_id, "person")
        assert links["https://c.test/3"] == (stored["arrest"], "person")
        assert s.scalar(select(func.count()).select_from(IncidentDecision)) == 2


def test_cli_list_show_and_export(
    database: Database, stored: dict[str, int], tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "{database.url}"\n', encoding="utf-8")
    run = CliRunner().invoke
    listed = run(main, ["--config", str(config), "incidents", "list", "--state", "New Jersey"])
    assert listed.exit_code == 0, listed.output
    assert "Passaic" in listed.output and "2 incidents" in listed.output
    shown = run(main, ["--config", str(config), "incidents", "show", str(stored["arrest"])])
    assert shown.exit_code == 0 and "charge" in shown.output and "Reyes" not in shown.output
    out = tmp_path / "i.geojson"
    exported = run(
        main,
        ["--config", str(config), "incidents", "export", "--format", "geojson", "-o", str(out)],
    )
    assert exported.exit_code == 0, exported.output
    features = json.loads(out.read_text())["features"]
    assert {f["properties"]["city"] for f in features} == {"Paterson", "Newark"}
    lon, lat = features[0]["geometry"]["coordinates"]
    assert 39 < lat < 42 and -76 < lon < -73  # northern New Jersey
    csv_out = run(main, ["--config", str(config), "incidents", "export", "--format", "csv"])
    assert csv_out.output.splitlines()[0].startswith("id,kind,title")
    missing = run(main, ["--config", str(config), "incidents", "show", "999"])
    assert missing.exit_code == 1 and "no incident 999" in missing.output


def test_web_pages_and_merge_form(database: Database, stored: dict[str, int]) -> None:
    client = create_app(database, Settings(), secret_key="k").test_client()
    listing = client.get("/incidents?state=New+Jersey")
    html = listing.get_data(as_text=True)
    assert listing.status_code == 200 and "Passaic County Courthouse" in html
    assert '<svg class="state-map"' in html and 'aria-label="New Jersey: 2 incidents"' in html
    assert client.get("/incidents?since=yesterday").status_code == 400
    detail = client.get(f"/incidents/{stored['arrest']}").get_data(as_text=True)
    assert "Timeline" in detail and "Reyes" not in detail
    token = re.search(r'name="csrf_token" value="([^"]+)"', detail)
    assert token is not None
    no_token = client.post(f"/incidents/{stored['arrest']}/merge", data={"other_id": "1"})
    assert no_token.status_code in (400, 403)
    merged = client.post(
        f"/incidents/{stored['arrest']}/merge",
        data={"other_id": str(stored["other"]), "csrf_token": token.group(1), "reviewer": "kim"},
    )
    assert merged.status_code == 302
    with database.session() as s:
        assert s.get(Incident, stored["other"]).status == "merged"  # type: ignore[union-attr]
    assert client.get("/incidents/map").status_code == 200
    assert client.get("/incidents/424242").status_code == 404


def test_untrusted_text_is_escaped_on_the_pages(database: Database) -> None:
    store(
        database,
        "https://x.test/evil",
        "<script>alert(1)</script> ICE arrest",
        "ICE agents arrested a man at the <b>Kings County Courthouse</b> in Brooklyn on Monday.",
        datetime(2026, 3, 10, tzinfo=UTC),
    )
    client = create_app(database, Settings(), secret_key="k").test_client()
    html = client.get("/incidents").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_an_incident_failure_never_costs_the_article_or_its_alert(
    database: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The store stage links incidents in a savepoint: a crash there is logged, not fatal."""
    from crawler.pipelines import store as store_stage
    from crawler.storage import incidents as incident_storage
    from crawler.storage.models import Alert

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("extractor bug")

    monkeypatch.setattr(incident_storage, "record_for", broken)
    with database.session() as s:
        article = Article(
            url="https://x.test/a", url_hash=fingerprint("https://x.test/a"),
            fetched_url="https://x.test/a", status="extracted", title="Arrest", text=ARREST,
            published_at=datetime.now(UTC),
        )  # fmt: skip
        s.add(article)
        s.flush()
        match = Match(
            article_id=article.id, topic="courthouse_arrest", score=3.0, threshold=1.0,
            pack_version="t",
        )  # fmt: skip
        s.add(match)
        s.flush()
        store_stage._link_incident(s, article, match, Settings())
        store_stage._enqueue_alerts(
            s, article=article, matches=[match], source=None, settings=Settings(),
            first_crawl=False,
        )  # fmt: skip
    assert "event=incident_link_failed" in caplog.text and "extractor bug" in caplog.text
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 1
        assert s.scalar(select(func.count()).select_from(Alert)) == 1
        assert s.scalar(select(func.count()).select_from(IncidentArticle)) == 0


def test_a_revised_article_updates_its_record_but_keeps_its_incident(
    database: Database, stored: dict[str, int]
) -> None:
    from crawler.storage.incidents import refresh_link

    with database.session() as s:
        article = s.scalar(select(Article).where(Article.url == "https://b.test/2"))
        assert article is not None
        article.title = "Court officer indicted over ICE tip"
        article.text = CHARGE.replace("on Thursday", "on Wednesday")
        link = refresh_link(s, article, article.matches[0] if article.matches else
                            s.scalars(select(Match).where(Match.article_id == article.id)).one(),
                            CFG)  # fmt: skip
        assert link is not None
        assert (link.incident_id, str(link.event_date)) == (stored["charge"], "2026-03-11")


SUMMARY = (
    "article_count", "first_date", "last_date", "first_article_id", "title", "development",
    "fields", "court", "city", "county", "state",
)  # fmt: skip


@pytest.mark.parametrize(
    "order",
    [("arrest", "charge", "later"), ("charge", "arrest", "later"), ("arrest", "later", "charge")],
)
def test_appending_a_link_sums_up_the_incident_as_a_full_refresh_does(
    database: Database, order: tuple[str, ...]
) -> None:
    """A link folded in without re-reading the others (news in date order) leaves the incident
    exactly as recomputing it from every link would; out of order, it is recomputed."""
    from crawler.storage.incidents import refresh_incident

    later = CHARGE.replace("was charged on Thursday", "pleaded not guilty on Monday")
    stories = {
        "arrest": ("https://a.test/1", "Man arrested at courthouse", ARREST, 10),
        "charge": ("https://b.test/2", "Court officer charged over ICE tip", CHARGE, 13),
        "later": ("https://d.test/4", "Court officer pleads not guilty", later, 20),
    }
    ids = {
        name: store(database, *stories[name][:3], datetime(2026, 3, stories[name][3], tzinfo=UTC))
        for name in order
    }
    assert len(set(ids.values())) == 1
    with database.session() as session:
        incident = session.get(Incident, ids[order[0]])
        assert incident is not None
        appended = {name: getattr(incident, name) for name in SUMMARY}
        refresh_incident(session, incident)
        assert {name: getattr(incident, name) for name in SUMMARY} == appended
        assert appended["article_count"] == 3
