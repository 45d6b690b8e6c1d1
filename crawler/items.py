"""The item that flows through the pipeline: a fetched page and what each stage added."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class ArticleItem:
    """A fetched article page; stages fill in the fields below the line."""

    url: str
    request_url: str
    body: bytes
    encoding: str | None
    content_type: str
    http_status: int
    discovered_via: str
    feed_title: str | None = None
    feed_published: datetime | None = None
    feed_guid: str | None = None
    feed_url: str | None = None
    # --- filled by the pipeline ---
    canonical_url: str = ""
    status: str = "pending"
    status_reason: str | None = None
    prefilter_hits: tuple[str, ...] = ()
    extracted: Any = None  # crawler.extract.Extracted
    matches: list[Any] = field(default_factory=list)  # crawler.matching.TopicResult
    simhash: int | None = None
    title_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
