"""Source health: one alert per trouble episode, one recovery notice, orphaned runs closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crawler.config import SchedulerConfig, Settings
from crawler.daemon.health import assess, check_all, check_source, close_orphan_runs
from crawler.sources import SourceConfig
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import Alert, CrawlRun, Source

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FEED = SourceConfig(name="metro", urls=["https://news.example/feed.xml"])


def settings(**sched: float) -> Settings:
    cfg = {"failure_alert_after": 2, "quiet_alert_hours": 6.0} | sched
    return Settings(scheduler=SchedulerConfig(**cfg), sources=[FEED])  # type: ignore[arg-type]


def crawl(
    db: Database,
    status: str,
    at: datetime,
    *,
    new: int = 0,
    errors: dict[str, int] | None = None,
    samples: dict[str, list[str]] | None = None,
) -> None:
    with db.session() as session:
        source = repo.upsert_source(session, FEED)
        run = repo.create_run(session, source.id, trigger="schedule", pid=None)
        run.started_at, run.new_articles = at, new
        run.errors, run.error_samples = errors or {}, samples or {}
        session.flush()
        repo.finish_run(session, run.id, status=status, message="closed: finished", now=at)


def check(db: Database, cfg: Settings, at: datetime) -> list[str]:
    with db.session() as session:
        return [event.state for event in check_all(session, cfg, at)]


def health_alerts(db: Database) -> list[tuple[str, str]]:
    with db.session() as session:
        rows = session.scalars(select(Alert).where(Alert.kind == "health").order_by(Alert.id))
        return [(r.payload["health"]["state"], r.payload["health"]["message"]) for r in rows]


def test_failing_is_alerted_once_then_recovery_once(database: Database) -> None:
    cfg = settings()
    crawl(database, "ok", T0, new=5)
    assert check(database, cfg, T0) == []
    err = {"http_5xx": 1}
    sample = {"http_5xx": ["https://news.example/feed.xml: HTTP 500"]}
    crawl(database, "failed", T0 + timedelta(minutes=15), errors=err, samples=sample)
    assert check(database, cfg, T0 + timedelta(minutes=16)) == []  # one failure is not news
    for minutes in (30, 60, 120):
        crawl(database, "failed", T0 + timedelta(minutes=minutes), errors=err, samples=sample)
        check(database, cfg, T0 + timedelta(minutes=minutes + 1))
    alerts = health_alerts(database)
    assert [state for state, _ in alerts] == ["failing"]
    assert "failed 2 runs in a row" in alerts[0][1] and "HTTP 500" in alerts[0][1]
    assert "http_5xx" in alerts[0][1]

    crawl(database, "ok", T0 + timedelta(hours=3), new=1)
    assert check(database, cfg, T0 + timedelta(hours=3)) == ["recovered"]
    assert check(database, cfg, T0 + timedelta(hours=3, minutes=5)) == []
    assert [state for state, _ in health_alerts(database)] == ["failing", "recovered"]


def test_a_second_episode_is_alerted_again(database: Database) -> None:
    cfg = settings()
    crawl(database, "ok", T0, new=1)
    for episode in range(2):
        base = T0 + timedelta(hours=episode + 1)
        crawl(database, "timed_out", base)
        crawl(database, "timed_out", base + timedelta(minutes=10))
        check(database, cfg, base + timedelta(minutes=11))
        crawl(database, "ok", base + timedelta(minutes=20), new=1)
        check(database, cfg, base + timedelta(minutes=21))
    assert [s for s, _ in health_alerts(database)] == ["failing", "recovered"] * 2


def test_quiet_source_and_its_recovery(database: Database) -> None:
    cfg = settings()
    crawl(database, "ok", T0, new=3)
    crawl(database, "not_modified", T0 + timedelta(hours=5))
    assert check(database, cfg, T0 + timedelta(hours=5)) == []
    crawl(database, "not_modified", T0 + timedelta(hours=7))
    assert check(database, cfg, T0 + timedelta(hours=7)) == ["quiet"]
    assert check(database, cfg, T0 + timedelta(hours=8)) == []
    assert "no new article for more than 6 h" in health_alerts(database)[0][1]
    crawl(database, "ok", T0 + timedelta(hours=9), new=1)
    assert check(database, cfg, T0 + timedelta(hours=9)) == ["recovered"]


def test_recovery_from_failing_restarts_the_quiet_clock(database: Database) -> None:
    cfg = settings()
    crawl(database, "ok", T0, new=3)
    crawl(database, "failed", T0 + timedelta(hours=1), errors={"dns": 1})
    crawl(database, "failed", T0 + timedelta(hours=2), errors={"dns": 1})
    check(database, cfg, T0 + timedelta(hours=2))
    crawl(database, "not_modified", T0 + timedelta(hours=10))  # back, but nothing new for 10 h
    assert check(database, cfg, T0 + timedelta(hours=10)) == ["recovered"]
    assert check(database, cfg, T0 + timedelta(hours=11)) == []
    assert check(database, cfg, T0 + timedelta(hours=17)) == ["quiet"]


def test_assess_states(database: Database) -> None:
    cfg = settings()
    with database.session() as session:
        source = repo.upsert_source(session, FEED)
        assert assess(source, cfg, T0) == "new"
        source.consecutive_failures = 2
        assert assess(source, cfg, T0) == "failing"
        assert check_source(session, source, cfg, T0) is not None
        assert source.health_status == "failing" and source.health_alerted_at == T0


def test_orphaned_runs_are_closed(database: Database) -> None:
    cfg = settings()
    now = datetime.now(UTC)
    with database.session() as session:
        source = repo.upsert_source(session, FEED)
        dead = repo.create_run(session, source.id, trigger="schedule", pid=2**22 + 12345)
        dead.started_at = now - timedelta(minutes=1)
        live = repo.create_run(session, source.id, trigger="schedule", pid=2**22 + 12346)
        live.started_at = now - timedelta(minutes=1)
        fresh = repo.create_run(session, source.id, trigger="schedule", pid=None)
        ids = (dead.id, live.id, fresh.id)
    with database.session() as session:
        assert close_orphan_runs(session, {ids[1]}, cfg, now) == [ids[0]]
    with database.session() as session:
        statuses = {r.id: r.status for r in session.scalars(select(CrawlRun))}
        source_row = session.scalar(select(Source))
        assert source_row is not None and source_row.last_error_kind == "crashed"
    assert statuses == {ids[0]: "crashed", ids[1]: "running", ids[2]: "running"}
