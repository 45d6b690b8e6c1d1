"""What an alert shows, as plain data: the views `alerts.format` turns into Slack messages.

`AlertView` is built from the ORM rows by `alerts.outbox.alert_view` and stored in the outbox
payload (`to_dict`), so a message can be rebuilt after a restart (`from_dict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TopicScore:
    """One topic an alert announces: its label, score and the rules that fired."""

    topic: str
    label: str
    score: float
    threshold: float | None = None
    rules: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # the rules' descriptions, for people

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TopicScore:
        """Rebuild a topic stored by `AlertView.to_dict`."""
        threshold = data.get("threshold")
        return cls(
            topic=str(data.get("topic") or ""),
            label=str(data.get("label") or data.get("topic") or ""),
            score=float(data.get("score") or 0.0),
            threshold=None if threshold is None else float(threshold),
            rules=[str(r) for r in data.get("rules") or []],
            reasons=[str(r) for r in data.get("reasons") or []],
        )


@dataclass(frozen=True)
class AlertView:
    """What one alert shows, assembled from the ORM rows (see `alerts.outbox.alert_view`)."""

    title: str
    url: str
    outlet: str
    topic: str
    topic_label: str
    score: float
    threshold: float | None = None
    published_at: datetime | None = None
    snippet: str = ""
    snippet_marks: list[tuple[int, int]] = field(default_factory=list)
    entities: dict[str, list[str]] = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)
    pack_version: str = ""
    source_name: str | None = None
    revision: int = 0
    reasons: list[str] = field(default_factory=list)  # why, in words (rule ids stay in `rules`)
    # Every topic of the article routed to this channel, lead first (empty: only `topic`).
    topics: list[TopicScore] = field(default_factory=list)

    @property
    def all_topics(self) -> list[TopicScore]:
        """The topics this alert announces, lead first."""
        if self.topics:
            return list(self.topics)
        return [
            TopicScore(
                self.topic, self.topic_label, self.score, self.threshold, self.rules, self.reasons
            )
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict for the outbox payload."""
        data = asdict(self)
        data["published_at"] = self.published_at.isoformat() if self.published_at else None
        data["snippet_marks"] = [list(m) for m in self.snippet_marks]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertView:
        """Rebuild a view stored by `to_dict` (unknown keys are ignored)."""
        published = data.get("published_at")
        return cls(
            title=str(data.get("title") or ""),
            url=str(data.get("url") or ""),
            outlet=str(data.get("outlet") or ""),
            topic=str(data.get("topic") or ""),
            topic_label=str(data.get("topic_label") or data.get("topic") or ""),
            score=float(data.get("score") or 0.0),
            threshold=None if data.get("threshold") is None else float(data["threshold"]),
            published_at=datetime.fromisoformat(published) if published else None,
            snippet=str(data.get("snippet") or ""),
            snippet_marks=[(int(a), int(b)) for a, b in data.get("snippet_marks") or []],
            entities={str(k): [str(x) for x in v] for k, v in (data.get("entities") or {}).items()},
            rules=[str(r) for r in data.get("rules") or []],
            pack_version=str(data.get("pack_version") or ""),
            source_name=data.get("source_name"),
            revision=int(data.get("revision") or 0),
            reasons=[str(r) for r in data.get("reasons") or []],
            topics=[
                TopicScore.from_dict(t) for t in data.get("topics") or [] if isinstance(t, dict)
            ],
        )


@dataclass(frozen=True)
class HealthView:
    """A source-health event for the health channel."""

    source: str
    state: str
    message: str
    url: str | None = None
