"""Tables of the distributed mode: crawl workers (a registry with heartbeats) and source leases.

A lease says "this worker is crawling this source until `expires_at`": the per-source guard
that keeps two workers (or a redelivered job and the original) from crawling one source at
once. A lease whose holder stopped heartbeating may be taken over before it expires.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crawler.storage.models import Base, utcnow


class Worker(Base):
    """A `newswatch worker` (or the leader) process and its last heartbeat."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int]
    role: Mapped[str] = mapped_column(String(20), default="worker")  # worker | leader
    concurrency: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    stopped_at: Mapped[datetime | None]
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SourceLease(Base):
    """Which worker crawls a source right now, and until when."""

    __tablename__ = "source_leases"

    source_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    job_id: Mapped[str | None] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(default=utcnow)
