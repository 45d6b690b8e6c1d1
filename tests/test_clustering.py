"""Story clustering: fingerprints (pure) and cluster assignment in a real database."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.matching.clustering import (
    MIN_TOKENS,
    Candidate,
    best_cluster,
    fingerprint,
    signature_from_bytes,
    signature_to_bytes,
    strip_outlet_suffix,
    text_similarity,
    title_key,
)
from crawler.pipelines.cluster import assign_cluster
from crawler.sample_site.content import load_specs
from crawler.storage.db import Database
from crawler.storage.models import Article, StoryCluster, utcnow

SPECS = {s.slug: s for s in load_specs()}
MAIN = SPECS["wire-bronx-hall-of-justice-detention"]
WIRE = SPECS["bronx-courthouse-detention-wire"]


def test_title_keys_are_normalised() -> None:
    assert title_key("ICE Detains Man at the Bronx Courthouse - Tri-State Wire") == (
        "ice detains man bronx courthouse"
    )
    assert title_key("Detenido en la Corte: ¡ICE!") == title_key("detenido corte ice")
    assert strip_outlet_suffix("Short - Outlet") == "Short - Outlet"  # too short to be a suffix


def test_the_syndicated_pair_is_one_story() -> None:
    a, b = fingerprint(MAIN.title, MAIN.body), fingerprint(WIRE.title, WIRE.body)
    assert a.title_key != b.title_key  # the wire rewrote the headline
    found = best_cluster(b, [Candidate(7, a.title_key, a.minhash)])
    assert found is not None and found[0] == 7 and found[1] >= 0.5


def test_different_stories_on_the_same_topic_stay_apart() -> None:
    prints = {slug: fingerprint(s.title, s.body) for slug, s in SPECS.items()}
    pair = {MAIN.slug, WIRE.slug}
    for x, y in itertools.combinations(prints, 2):
        if {x, y} == pair:
            continue
        other = prints[y]
        assert best_cluster(prints[x], [Candidate(1, other.title_key, other.minhash)]) is None, (
            x,
            y,
        )


def test_short_texts_cluster_only_on_an_identical_specific_title() -> None:
    short = fingerprint("Judge halts calendar over agents in court", "Too short to shingle.")
    assert short.minhash is None and short.tokens < MIN_TOKENS
    same = Candidate(3, title_key("Judge halts calendar over agents in court"), None)
    other = Candidate(4, title_key("Judge halts calendar"), None)
    assert best_cluster(short, [other, same]) == (3, 0.0)
    assert best_cluster(short, [other]) is None


def test_signatures_round_trip_and_simhash_fits_bigint() -> None:
    f = fingerprint(MAIN.title, MAIN.body)
    assert f.minhash is not None
    restored = signature_from_bytes(signature_to_bytes(f.minhash))
    assert restored is not None and np.array_equal(restored, f.minhash)
    assert signature_from_bytes(b"short") is None
    assert f.simhash is not None and -(2**63) <= f.simhash < 2**63
    assert fingerprint(MAIN.title, MAIN.body).simhash == f.simhash  # stable


def test_text_similarity() -> None:
    assert text_similarity(MAIN.body, MAIN.body) == 1.0
    assert 0.5 < text_similarity(MAIN.body, WIRE.body) < 0.95
    assert text_similarity(None, None) == 1.0


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    yield database
    database.dispose()


def _article(session: Session, url: str) -> Article:
    article = Article(url=url, url_hash=url[-16:], fetched_url=url, status="extracted")
    session.add(article)
    session.flush()
    return article


def test_assign_cluster_opens_then_joins(db: Database) -> None:
    with db.session() as session:
        first = _article(session, "https://a.example/1")
        cluster = assign_cluster(session, first, fingerprint(MAIN.title, MAIN.body))
        copy = _article(session, "https://b.example/2")
        joined = assign_cluster(session, copy, fingerprint(WIRE.title, WIRE.body))
        other = _article(session, "https://c.example/3")
        spec = SPECS["queens-court-hallway-arrest"]
        separate = assign_cluster(session, other, fingerprint(spec.title, spec.body))
        assert joined.id == cluster.id and separate.id != cluster.id
        assert (first.cluster_id, copy.cluster_id) == (cluster.id, cluster.id)
    with db.session() as session:
        stored = session.get(StoryCluster, cluster.id)
        assert stored is not None and stored.article_count == 2
        assert stored.first_article_id == first.id and stored.minhash is not None


def test_clusters_older_than_the_window_are_not_candidates(db: Database) -> None:
    with db.session() as session:
        first = _article(session, "https://a.example/1")
        old = utcnow() - timedelta(days=30)
        cluster = assign_cluster(session, first, fingerprint(MAIN.title, MAIN.body), now=old)
        copy = _article(session, "https://b.example/2")
        fresh = assign_cluster(session, copy, fingerprint(WIRE.title, WIRE.body))
        assert fresh.id != cluster.id
        assert len(session.scalars(select(StoryCluster)).all()) == 2


def test_minhash_is_datasketchs_default_scheme() -> None:
    """Signatures stored before datasketch was dropped from the crawl must still compare."""
    datasketch = pytest.importorskip("datasketch")
    from crawler.matching.clustering import NUM_PERM, SEED, minhash_of, shingles

    for text in (MAIN.body, WIRE.body, "one two three four five", ""):
        grams = shingles(text)
        reference = datasketch.MinHash(num_perm=NUM_PERM, seed=SEED)
        reference.update_batch([g.encode("utf-8") for g in grams])
        expected = np.asarray(reference.hashvalues, dtype=np.uint64)
        assert np.array_equal(minhash_of(grams), expected), text[:40]


def test_recent_clusters_sees_other_writers_and_forgets_rolled_back_ones(db: Database) -> None:
    """The per-process candidate cache finds a cluster another process committed after it
    loaded, and a cluster whose transaction rolled back is not joined."""
    from crawler.pipelines.cluster import RecentClusters

    recent = RecentClusters()
    other = SPECS["queens-court-hallway-arrest"]
    with db.session() as session:
        seen = assign_cluster(
            session,
            _article(session, "https://c.example/3"),
            fingerprint(other.title, other.body),
            recent=recent,
        )
    with db.session() as session:  # another crawl process opens the story's cluster
        first = assign_cluster(
            session, _article(session, "https://a.example/1"), fingerprint(MAIN.title, MAIN.body)
        )
    with db.session() as session:
        copy = _article(session, "https://b.example/2")
        joined = assign_cluster(session, copy, fingerprint(WIRE.title, WIRE.body), recent=recent)
        assert joined.id == first.id != seen.id
    with pytest.raises(RuntimeError), db.session() as session:
        spec = SPECS["governor-rejects-dhs-data-request"]
        lost = assign_cluster(
            session,
            _article(session, "https://d.example/4"),
            fingerprint(spec.title, spec.body),
            recent=recent,
        )
        lost_id = lost.id
        raise RuntimeError("the store transaction fails after the cluster was opened")
    with db.session() as session:
        again = _article(session, "https://e.example/5")
        made = assign_cluster(session, again, fingerprint(spec.title, spec.body), recent=recent)
        assert session.get(StoryCluster, made.id) is not None
        assert made.article_count == 1 and again.cluster_id == made.id
    assert lost_id is not None
