"""One alert per story, as real crawls: a syndicated copy on the wire site joins the main site's
story cluster and becomes a thread reply; a search feed later stores no publisher URL twice; a
corrected article becomes a revision, not a new article."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from test_spiders_support import Crawled, crawl_once, prepare, source_toml

from crawler.sample_site.content import load_specs
from crawler.sample_site.server import SampleSite, serve_pair
from crawler.storage.db import Database
from crawler.storage.models import Alert, Article, ArticleRevision, StoryCluster

pytestmark = pytest.mark.slow
MAIN_SLUG = "wire-bronx-hall-of-justice-detention"
WIRE_SLUG = "bronx-courthouse-detention-wire"
TOPIC = "courthouse_arrest"


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[SampleSite, SampleSite]]:
    main, wire = serve_pair()
    try:
        yield main, wire
    finally:
        main.stop()
        wire.stop()


@pytest.fixture(scope="module")
def story_db(
    sites: tuple[SampleSite, SampleSite], tmp_path_factory: pytest.TempPathFactory
) -> Crawled:
    """Main site's feed, then the wire's feed, then a search feed, into one database."""
    main, wire = sites
    sources = (
        source_toml("main-rss", "feed", [f"{main.base_url}/feeds/rss.xml"])
        + source_toml("wire-rss", "feed", [f"{wire.base_url}/feeds/rss.xml"])
        + source_toml("search", "search", [f"{main.base_url}/search/rss?q=Bronx"])
    )
    job = prepare(tmp_path_factory.mktemp("story"), "story", sources)
    for name in ("main-rss", "wire-rss", "search"):
        crawl_once(job, name)
        assert job.returncode == 0, job.output[-3000:]
    return job


def url_of(site: SampleSite, slug: str) -> str:
    return next(a.url for a in site.articles() if a.slug == slug)


def test_syndicated_copy_joins_the_story_cluster(
    story_db: Crawled, sites: tuple[SampleSite, SampleSite]
) -> None:
    main, wire = sites
    db = Database(story_db.db_url)
    with db.session() as session:
        first = session.scalars(select(Article).where(Article.url == url_of(main, MAIN_SLUG))).one()
        copy = session.scalars(select(Article).where(Article.url == url_of(wire, WIRE_SLUG))).one()
        assert first.cluster_id is not None and copy.cluster_id == first.cluster_id
        cluster = session.get(StoryCluster, first.cluster_id)
        assert cluster is not None
        assert cluster.article_count == 2 and cluster.first_article_id == first.id
        others = session.scalars(select(StoryCluster).where(StoryCluster.id != cluster.id)).all()
        assert others and all(c.article_count == 1 for c in others)  # no false merges
    db.dispose()


def test_one_alert_and_one_thread_reply_per_story(
    story_db: Crawled, sites: tuple[SampleSite, SampleSite]
) -> None:
    main, _ = sites
    db = Database(story_db.db_url)
    with db.session() as session:
        first = session.scalars(select(Article).where(Article.url == url_of(main, MAIN_SLUG))).one()
        rows = session.scalars(
            select(Alert)
            .where(Alert.cluster_id == first.cluster_id, Alert.topic == TOPIC)
            .order_by(Alert.id)
        ).all()
        assert [r.kind for r in rows] == ["alert", "follow_up"]
        alert, reply = rows
        assert alert.article_id == first.id and alert.status == "pending"
        assert reply.parent_alert_id == alert.id and reply.article_id != first.id
    db.dispose()


def test_a_stored_publisher_url_is_not_stored_again_from_search(story_db: Crawled) -> None:
    run = story_db.last_run()
    assert run.status == "ok", (run.errors, run.error_samples)
    assert run.new_articles == 0  # every search hit was already stored from the feeds
    urls = [a.url for a in story_db.articles()]
    assert len(urls) == len(set(urls))
    assert all("/r/" not in u for u in urls)


@pytest.fixture
def revision_site() -> Iterator[SampleSite]:
    with SampleSite() as site:
        yield site


def test_a_corrected_article_becomes_a_revision(revision_site: SampleSite, tmp_path: Path) -> None:
    site = revision_site
    job = prepare(tmp_path, "rev", source_toml("rev", "feed", [f"{site.base_url}/feeds/atom.xml"]))
    crawl_once(job)
    assert job.returncode == 0, job.output[-3000:]
    before = {a.url: a for a in job.articles()}
    spec = next(s for s in load_specs() if s.slug == "queens-court-hallway-arrest")
    corrected = dataclasses.asdict(spec)
    corrected["title"] = spec.title + " (corrected)"
    corrected["body"] = spec.body + "\n\nCorrection: an earlier version misstated the court part."
    # The site's clock moves on five minutes so its <updated> is clearly after our fetch.
    site._fixed_now = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    url = site.add_article(corrected)
    crawl_once(job)
    assert job.returncode == 0, job.output[-3000:]
    after = {a.url: a for a in job.articles()}
    assert after.keys() == before.keys()  # no new article
    article = after[url]
    assert article.revision_count == 1 and article.updated_at is not None
    assert article.title is not None and article.title.endswith("(corrected)")
    db = Database(job.db_url)
    with db.session() as session:
        revision = session.scalars(select(ArticleRevision)).one()
        assert revision.article_id == article.id
        assert revision.previous_title == before[url].title
        assert revision.previous_text_sha1 == before[url].text_sha1 != revision.new_text_sha1
        keys = [a.idempotency_key for a in session.scalars(select(Alert).order_by(Alert.id))]
        assert any(k.startswith(f"revision:a{article.id}:r1:") for k in keys)
    db.dispose()
    crawl_once(job)  # nothing changed since: no second revision
    assert [a.revision_count for a in job.articles() if a.url == url] == [1]
