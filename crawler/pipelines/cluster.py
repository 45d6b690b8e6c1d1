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


def assign_cluster(
    session: Session, article: Article, fp: Fingerprint, *, now: datetime | None = None
) -> StoryCluster:
    """Put a flushed article into the story cluster it belongs to, or open a new one."""
    now = now or utcnow()
    candidates = recent_candidates(session, now - timedelta(days=WINDOW_DAYS))
    found = best_cluster(fp, candidates)
    if found is not None:
        cluster = session.get(StoryCluster, found[0])
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
            return cluster
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
