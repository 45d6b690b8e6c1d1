"""Stage 6: story clustering (syndicated copies and rewrites share one cluster).

This stage computes the fingerprint (pure, `crawler.matching.clustering`); the store stage calls
`assign_cluster` inside its transaction, so two copies of one story stored in the same run
(items are stored one at a time) still find each other. Only articles that matched a topic are
clustered: they are the ones that alert, and it keeps the candidate scan small.

The first article of a cluster alerts; the outbox threads later articles of the same cluster
and topic under that alert as `follow_up` rows ("also reported by").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.items import ArticleItem
from crawler.matching.clustering import (
    MAX_CANDIDATES,
    WINDOW_DAYS,
    Candidate,
    Fingerprint,
    best_cluster,
    fingerprint,
    signature_from_bytes,
    signature_to_bytes,
)
from crawler.pipelines.base import Stage
from crawler.storage.models import Article, StoryCluster, utcnow

log = logging.getLogger(__name__)
UNTITLED = "(untitled)"


def recent_candidates(session: Session, since: datetime) -> list[Candidate]:
    """Clusters touched since `since`, newest first, at most MAX_CANDIDATES."""
    rows = session.execute(
        select(StoryCluster.id, StoryCluster.title_key, StoryCluster.minhash)
        .where(StoryCluster.updated_at >= since)
        .order_by(StoryCluster.updated_at.desc(), StoryCluster.id.desc())
        .limit(MAX_CANDIDATES)
    )
    return [Candidate(r[0], r[1] or "", signature_from_bytes(r[2])) for r in rows]


class RecentClusters:
    """The candidate clusters, loaded once per crawl process and then topped up.

    Re-reading every recent cluster's signature for each matched article made storing an
    all-relevant crawl quadratic. The first call loads the window; later calls read only the
    clusters with a higher id than any seen, and every `RECHECK` also those created or touched
    within the last `RECHECK` × 2 (a cluster another process committed late, under a lower id,
    is still seen within that time). Clusters this process opens or joins are added as made.
    """

    RECHECK = timedelta(seconds=30)

    def __init__(self) -> None:
        self._known: dict[int, tuple[Candidate, datetime]] = {}
        self._max_id = 0
        self._loaded_at: datetime | None = None
        self._checked_at: datetime | None = None

    def _read(self, session: Session, where: Any) -> None:
        rows = session.execute(
            select(
                StoryCluster.id,
                StoryCluster.title_key,
                StoryCluster.minhash,
                StoryCluster.updated_at,
            ).where(where)
        )
        for cid, key, minhash, updated in rows:
            self._known[cid] = (Candidate(cid, key or "", signature_from_bytes(minhash)), updated)
            self._max_id = max(self._max_id, cid)

    def candidates(self, session: Session, now: datetime) -> list[Candidate]:
        """Clusters touched within the window before `now`, newest first."""
        since = now - timedelta(days=WINDOW_DAYS)
        if self._checked_at is None or now < self._checked_at:  # first use, or a clock jump
            self._known.clear()
            self._read(session, StoryCluster.updated_at >= since)
            self._checked_at = now
        elif now - self._checked_at >= self.RECHECK:
            self._read(session, StoryCluster.updated_at >= self._checked_at - self.RECHECK)
            self._checked_at = now
        else:
            self._read(session, StoryCluster.id > self._max_id)
        stale = [cid for cid, (_c, at) in self._known.items() if at < since]
        for cid in stale:
            del self._known[cid]
        live = sorted(self._known.values(), key=lambda p: (p[1], p[0].cluster_id), reverse=True)
        return [c for c, _ in live[:MAX_CANDIDATES]]

    def touched(self, cluster: StoryCluster) -> None:
        """Remember a cluster this process opened or joined (flushed: it has its id)."""
        minhash = signature_from_bytes(cluster.minhash)
        candidate = Candidate(cluster.id, cluster.title_key or "", minhash)
        self._known[cluster.id] = (candidate, cluster.updated_at)
        self._max_id = max(self._max_id, cluster.id)

    def forget(self, cluster_id: int) -> None:
        """Drop a cluster that is gone (its transaction rolled back, or it was deleted)."""
        self._known.pop(cluster_id, None)


def _same(cluster: StoryCluster, candidates: list[Candidate], cluster_id: int) -> bool:
    cached = next(c for c in candidates if c.cluster_id == cluster_id)
    stored = signature_from_bytes(cluster.minhash)
    if stored is None or cached.minhash is None:
        same_sig = stored is None and cached.minhash is None
    else:
        same_sig = bool(np.array_equal(stored, cached.minhash))
    return same_sig and (cluster.title_key or "") == cached.title_key


def assign_cluster(
    session: Session,
    article: Article,
    fp: Fingerprint,
    *,
    now: datetime | None = None,
    recent: RecentClusters | None = None,
) -> StoryCluster:
    """Put a flushed article into the story cluster it belongs to, or open a new one."""
    now = now or utcnow()
    if recent is None:
        candidates = recent_candidates(session, now - timedelta(days=WINDOW_DAYS))
    else:
        candidates = recent.candidates(session, now)
    found = best_cluster(fp, candidates)
    if found is not None:
        cluster = session.get(StoryCluster, found[0])
        if recent is not None and cluster is not None and not _same(cluster, candidates, found[0]):
            cluster = None  # a cached cluster rolled back, and SQLite gave its id to another
        if cluster is not None:
            cluster.article_count += 1
            cluster.updated_at = now
            article.cluster_id = cluster.id
            log.info(
                "event=story_also_reported cluster_id=%s first_article_id=%s article_id=%s "
                "similarity=%.2f",
                cluster.id,
                cluster.first_article_id,
                article.id,
                found[1],
            )
            if recent is not None:
                recent.touched(cluster)
            return cluster
        if recent is not None:
            recent.forget(found[0])
    cluster = StoryCluster(
        title_key=fp.title_key or UNTITLED,
        simhash=fp.simhash,
        minhash=signature_to_bytes(fp.minhash) if fp.minhash is not None else None,
        first_article_id=article.id,
        article_count=1,
        created_at=now,
        updated_at=now,
    )
    session.add(cluster)
    session.flush()
    article.cluster_id = cluster.id
    if recent is not None:
        recent.touched(cluster)
    return cluster


def also_reported_by(session: Session, cluster_id: int) -> list[Article]:
    """The articles of a story cluster, first one first."""
    return list(
        session.scalars(
            select(Article).where(Article.cluster_id == cluster_id).order_by(Article.id)
        )
    )


class ClusterPipeline(Stage):
    """Fingerprint extracted articles; the store stage joins or opens their story cluster."""

    def process_item(self, item: ArticleItem) -> ArticleItem:
        """Scrapy hook."""
        if item.status != "extracted" or item.extracted is None or not item.matches:
            return item  # only articles that matched are clustered (see the module doc)
        ex = item.extracted
        try:
            fp = fingerprint(ex.title or item.feed_title, ex.text)
        except Exception as exc:  # an alert threaded wrongly is worse than one retried later
            self.fail_internal(item, "clustering", exc)
            return item
        item.title_key = fp.title_key
        item.simhash = fp.simhash
        item.extra["fingerprint"] = fp
        return item
