"""End to end: `newswatch crawl` as a subprocess against the local sample site, with faults."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from crawler.sample_site.server import SampleSite
from crawler.storage.db import Database
from crawler.storage.models import Alert, Article, CrawlRun, Match, RawPage, Source

pytestmark = pytest.mark.slow
ALLOW = 'allow_private_hosts = ["127.0.0.1"]'


@pytest.fixture(scope="module")
def site() -> Iterator[SampleSite]:
    with SampleSite(faults=True, slow_seconds=60) as server:
        yield server


def write_config(tmp_path: Path, site: SampleSite, sources: str) -> Path:
    config = tmp_path / "newswatch.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "crawl.db"}"
[crawl]
autothrottle = false
download_timeout = 4
retry_times = 2
max_page_bytes = 2000000
extract_workers = 1
[alerts]
alert_first_crawl = true
{sources}
""",
        encoding="utf-8",
    )
    return config


def crawl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(config), "crawl", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def runs(db: Database, source: str) -> list[CrawlRun]:
    with db.session() as session:
        return list(
            session.scalars(
                select(CrawlRun).join(Source).where(Source.name == source).order_by(CrawlRun.id)
            )
        )


def count(db: Database, model: Any) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_feed_crawl_stores_extracts_matches_and_never_twice(
    tmp_path: Path, site: SampleSite
) -> None:
    sources = f"""
[[sources]]
name = "rss"
urls = ["{site.base_url}/feeds/rss.xml"]
{ALLOW}
"""
    config = write_config(tmp_path, site, sources)
    first = crawl(config)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "crawl summary" in first.stdout and "rss" in first.stdout
    db = Database(f"sqlite:///{tmp_path / 'crawl.db'}")
    visible = site.articles()
    main_articles = [a for a in visible if a.site == "main"]
    with db.session() as session:
        stored = {a.url: a for a in session.scalars(select(Article))}
        matched_urls = {
            url
            for (url,) in session.execute(
                select(Article.url).join(Match).where(Match.state == "matched").distinct()
            )
        }
        # near misses are stored as possible matches, and never get an outbox row
        possible_alerts = session.scalars(
            select(Alert.id).join(Match, Alert.match_id == Match.id).where(Match.state != "matched")
        ).all()
    assert len(stored) == len(main_articles)
    assert {a.url for a in main_articles} == set(stored)
    extracted = [a for a in stored.values() if a.status == "extracted"]
    assert extracted and all(a.text and a.title for a in extracted)
    positives = {a.url for a in main_articles if a.expected_topics}
    negatives = {a.url for a in main_articles if not a.expected_topics}
    assert positives & matched_urls, "positives are matched"
    assert not (negatives & matched_urls), "no hard negative matched"
    assert possible_alerts == []
    assert count(db, RawPage) == len(stored)
    [run] = runs(db, "rss")
    assert run.status == "ok" and run.new_articles == len(main_articles)
    # Re-running stores nothing twice.
    second = crawl(config)
    assert second.returncode == 0, second.stdout + second.stderr
    assert count(db, Article) == len(main_articles)
    last = runs(db, "rss")[-1]
    assert last.new_articles == 0
    assert last.status in ("ok", "not_modified")
    db.dispose()


def test_faults_are_recorded_and_the_crawl_carries_on(tmp_path: Path, site: SampleSite) -> None:
    sources = f"""
[[sources]]
name = "faults"
urls = ["{site.base_url}/faults/feed.xml"]
{ALLOW}

[[sources]]
name = "malformed"
urls = ["{site.base_url}/faults/malformed.xml"]
{ALLOW}
"""
    config = write_config(tmp_path, site, sources)
    before = sum(1 for r in site.requests if r[1] == "/faults/500")
    result = crawl(config)
    assert result.returncode == 0, result.stdout + result.stderr
    db = Database(f"sqlite:///{tmp_path / 'crawl.db'}")
    [run] = runs(db, "faults")
    assert run.status == "partial", run.message
    errors = run.errors
    assert errors.get("http_404") == 1
    assert errors.get("http_5xx") == 1
    assert errors.get("timeout") == 1
    assert errors.get("too_large", 0) >= 1  # the 50 MB bodies are cut at max_page_bytes
    assert errors.get("not_html", 0) >= 1  # the PDF
    assert errors.get("blocked") == 1  # the loopback redirect to 127.0.0.2
    assert errors.get("redirect") == 1  # the redirect loop
    assert "error" not in errors, run.error_samples.get("error")
    assert run.error_samples["http_404"][0].endswith("HTTP 404")
    # 500 is retried (retry_times = 2): three requests in all.
    after = sum(1 for r in site.requests if r[1] == "/faults/500")
    assert after - before == 3
    with db.session() as session:
        statuses = {a.fetched_url.rsplit("/", 1)[-1]: a for a in session.scalars(select(Article))}
    # The good pages and the odd-but-valid ones are stored; failures are statuses, not crashes.
    assert statuses["latin1.html"].status == "extracted"
    assert "José Peñafiel" in (statuses["latin1.html"].text or "")
    assert statuses["empty.html"].status in ("empty", "skipped_prefilter")
    assert statuses["binary.html"].status in ("empty", "failed", "skipped_prefilter")
    assert statuses["broken.html"].status == "extracted"
    assert "Quintanilla" in (statuses["broken.html"].text or "")
    assert not any("127.0.0.2" in a.fetched_url for a in statuses.values())
    assert not any(r[1] == "/secret" for r in site.requests)
    # A malformed feed: its recoverable links are still followed, or the failure is recorded.
    [broken] = runs(db, "malformed")
    assert broken.status in ("ok", "partial", "failed")
    # (Its good link may already be stored by the other source crawling at the same time.)
    assert broken.discovered >= 1 or broken.errors.get("unparseable_feed") == 1
    db.dispose()


def test_exit_code_when_every_source_fails(tmp_path: Path, site: SampleSite) -> None:
    sources = f"""
[[sources]]
name = "gone"
urls = ["{site.base_url}/faults/404"]
{ALLOW}
"""
    result = crawl(write_config(tmp_path, site, sources))
    assert result.returncode == 1
    db = Database(f"sqlite:///{tmp_path / 'crawl.db'}")
    [run] = runs(db, "gone")
    assert run.status == "failed" and run.errors == {"http_404": 1}
    db.dispose()


def test_robots_txt_is_obeyed(tmp_path: Path, site: SampleSite) -> None:
    sources = f"""
[[sources]]
name = "private"
urls = ["{site.base_url}/private/secret.html"]
{ALLOW}
"""
    result = crawl(write_config(tmp_path, site, sources))
    assert result.returncode == 1
    db = Database(f"sqlite:///{tmp_path / 'crawl.db'}")
    [run] = runs(db, "private")
    assert run.errors == {"robots": 1}
    assert not any(r[1] == "/private/secret.html" for r in site.requests)
    db.dispose()
