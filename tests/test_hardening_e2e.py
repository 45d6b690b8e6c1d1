"""End to end (issue 17 items 1 and 2): `newswatch crawl` subprocesses against the sample site.

- a pipeline that cannot start (missing topic pack) fails before fetching anything, exit 2;
- pages that failed on our side are fetched and processed again by the next crawl, because
  the failed run saved no feed validators, and then alert exactly once;
- listing pages a sitemap lists are stored `not_article`, never matched or alerted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawler.config import load_settings
from crawler.daemon.runner import run_crawl
from crawler.sample_site.server import SampleSite
from crawler.sample_site.sitemaps import LISTING_PATHS
from crawler.storage.db import Database
from crawler.storage.models import Alert, Article, CrawlRun, FeedState, Match
from crawler.urls import canonicalize

pytestmark = pytest.mark.slow
ALLOW = 'allow_private_hosts = ["127.0.0.1"]'
FEED = "/feeds/rss.xml"
# A crawl process (as `newswatch crawl` starts it) with a fault of ours injected.
FAULTY_CRAWL = """
import os, sys
import crawler.pipelines.canonicalize
import crawler.pipelines.extract
import crawler.pipelines.workers

def die(*args):
    os._exit(3)

def boom(*args):
    raise RuntimeError("a bug in a stage")

if sys.argv[1] == "dying_workers":  # both worker tasks that extract (prefilter's, extract's)
    crawler.pipelines.extract.extract_to_dict = die
    crawler.pipelines.workers.extract_to_dict = die
else:
    crawler.pipelines.canonicalize.choose_canonical = boom
from scrapy.cmdline import execute
sys.argv = ["scrapy", "crawl", "feed", "-a", "source=paper"]
execute()
"""


def faulty_crawl(config: Path, fault: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawler.settings"}
    env["NEWSWATCH_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-c", FAULTY_CRAWL, fault],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture(scope="module")
def site() -> Iterator[SampleSite]:
    with SampleSite() as server:
        yield server


def write_config(
    path: Path, site: SampleSite, *, url: str = FEED, kind: str = "feed", **m: str
) -> Path:
    matching = "".join(f"{k} = {v}\n" for k, v in m.items())
    path.write_text(
        f"""
[database]
url = "sqlite:///{path.parent / "crawl.db"}"
[crawl]
autothrottle = false
download_timeout = 10
retry_times = 0
extract_workers = 1
[matching]
{matching}
[alerts]
alert_first_crawl = true
[[sources]]
name = "paper"
kind = "{kind}"
urls = ["{site.base_url}{url}"]
max_articles = 6
{ALLOW}
""",
        encoding="utf-8",
    )
    return path


def crawl(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(config), "crawl"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def table_counts(db: Database) -> tuple[int, int, int]:
    """Articles, matches and alerts stored."""
    with db.session() as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Article, Match, Alert)
        )


def alerted_once(db: Database) -> bool:
    """Every matched article has exactly one alert (one message per article per channel)."""
    with db.session() as session:
        matched = set(session.scalars(select(Match.article_id).distinct()))
        per_article = dict(
            session.execute(select(Alert.article_id, func.count()).group_by(Alert.article_id)).all()
        )
    return bool(matched) and per_article == dict.fromkeys(matched, 1)


def runs(db: Database) -> list[CrawlRun]:
    with db.session() as session:
        return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))


def fetched(site: SampleSite, path: str, since: int) -> int:
    return sum(1 for r in site.requests[since:] if r[1] == path)


def test_missing_pack_fails_before_fetching_then_crawls_once_fixed(
    tmp_path: Path, site: SampleSite
) -> None:
    config = write_config(tmp_path / "newswatch.toml", site, topic_packs='["missing.toml"]')
    before = len(site.requests)
    result = crawl(config)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pipeline cannot start" in lines[0] and "missing.toml" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert fetched(site, FEED, before) == 0, "nothing may be fetched"
    db = Database(f"sqlite:///{tmp_path / 'crawl.db'}")
    try:
        [run] = runs(db)
        assert run.status == "failed" and "missing.toml" in (run.message or "")
        assert table_counts(db) == (0, 0, 0)

        # A crawl process whose config changed under its parent (a running daemon loaded the
        # good one) checks its own pipeline too, and records why it did not start.
        settings = load_settings(write_config(config, site))
        write_config(config, site, topic_packs='["missing.toml"]')
        before = len(site.requests)
        outcome = run_crawl(db, settings, settings.sources[0], timeout=120)
        assert outcome.status == "failed"
        assert str(outcome.summary["message"]).startswith("pipeline cannot start")
        assert "missing.toml" in str(outcome.summary["message"])
        assert fetched(site, FEED, before) == 0 and table_counts(db) == (0, 0, 0)

        # The same for a config file the crawl process cannot load at all.
        config.write_text("[crawl\nbroken", encoding="utf-8")
        outcome = run_crawl(db, settings, settings.sources[0], timeout=120)
        assert outcome.status == "failed"
        assert str(outcome.summary["message"]).startswith("pipeline cannot start")
        assert str(config) in str(outcome.summary["message"])
        assert fetched(site, FEED, before) == 0 and table_counts(db) == (0, 0, 0)

        # Fixed: the crawl runs, and every match alerts exactly once.
        write_config(config, site)
        result = crawl(config)
        assert result.returncode == 0, result.stdout + result.stderr
        assert table_counts(db)[0] == 6 and alerted_once(db)
    finally:
        db.dispose()


def test_pages_that_failed_on_our_side_are_refetched_and_alert_once(
    tmp_path: Path, site: SampleSite
) -> None:
    # Extraction workers die on every page (our side: the pages are fine).
    config = write_config(tmp_path / "newswatch.toml", site)
    result = faulty_crawl(config, "dying_workers")
    assert result.returncode == 0, result.stdout + result.stderr
    db = Database(f"sqlite:///{tmp_path / 'crawl.db'}")
    try:
        with db.session() as session:
            articles = list(session.scalars(select(Article)))
            states = session.scalar(select(func.count()).select_from(FeedState))
        assert len(articles) == 6
        assert {a.status for a in articles} == {"failed_internal"}
        assert all(a.status_reason == "extraction: worker process died" for a in articles)
        assert states == 0, "a run with internal failures must not save feed validators"
        assert runs(db)[-1].errors.get("internal") == 6
        assert table_counts(db)[1:] == (0, 0)

        # The cause is gone: the same feed is fetched again and the pages processed.
        write_config(config, site)
        before = len(site.requests)
        result = crawl(config)
        assert result.returncode == 0, result.stdout + result.stderr
        assert fetched(site, FEED, before) == 1
        with db.session() as session:
            statuses = {a.url: a.status for a in session.scalars(select(Article))}
        assert set(statuses) == {a.url for a in articles}
        assert "failed_internal" not in statuses.values()
        assert runs(db)[-1].status == "ok"
        _, matches, alerts = table_counts(db)
        assert alerted_once(db)

        # And never again.
        result = crawl(config)
        assert result.returncode == 0, result.stdout + result.stderr
        assert table_counts(db) == (6, matches, alerts)
    finally:
        db.dispose()


def test_listing_pages_from_a_sitemap_are_stored_not_article_and_never_alert(
    tmp_path: Path, site: SampleSite
) -> None:
    config = write_config(
        tmp_path / "newswatch.toml", site, url="/sitemaps/sections.xml", kind="sitemap"
    )
    result = crawl(config)
    assert result.returncode == 0, result.stdout + result.stderr
    db = Database(f"sqlite:///{tmp_path / 'crawl.db'}")
    try:
        with db.session() as session:
            articles = {a.url: a for a in session.scalars(select(Article))}
        assert set(articles) == {canonicalize(site.base_url + p) for p in LISTING_PATHS}
        for article in articles.values():
            assert article.status == "not_article", (article.url, article.status)
            assert article.status_reason
        coverage = articles[canonicalize(site.base_url + LISTING_PATHS[-1])]
        assert "headline links" in (coverage.status_reason or "")  # told by its links alone
        assert table_counts(db)[1:] == (0, 0)
    finally:
        db.dispose()


def test_a_stage_that_raises_leaves_the_page_unseen_and_the_feed_unsaved(
    tmp_path: Path, site: SampleSite
) -> None:
    config = write_config(tmp_path / "newswatch.toml", site)
    result = faulty_crawl(config, "raising_stage")
    assert result.returncode == 0, result.stdout + result.stderr
    db = Database(f"sqlite:///{tmp_path / 'crawl.db'}")
    try:
        run = runs(db)[-1]
        assert run.errors.get("internal") == 6, run.errors
        assert "pipeline error: RuntimeError: a bug in a stage" in run.error_samples["internal"][0]
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(FeedState)) == 0
        assert table_counts(db) == (0, 0, 0)

        before = len(site.requests)
        result = crawl(config)
        assert result.returncode == 0, result.stdout + result.stderr
        assert fetched(site, FEED, before) == 1 and runs(db)[-1].status == "ok"
        assert table_counts(db)[0] == 6 and alerted_once(db)
    finally:
        db.dispose()
