"""Tables of the feedback loop (issue 13): source mutes set from Slack or the CLI."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crawler.storage.models import Base, utcnow


class SourceMute(Base):
    """A source whose alerts are suppressed until `until` (its articles are still stored)."""

    __tablename__ = "source_mutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    until: Mapped[datetime] = mapped_column(index=True)
    muted_by: Mapped[str] = mapped_column(String(200))
    slack_user: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
