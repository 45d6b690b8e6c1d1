"""Incident tables: incidents, the articles (developments) linked to them, people's decisions.

An incident is one courthouse arrest or one sanctuary dispute; each matched article adds one
development (`incident_articles`) with the record extracted from it (fields, spans, date). A
person's merge or split is a pinned link plus an `incident_decisions` row; pinned links are
never moved by the linker, so the decision survives rematches.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crawler.storage.models import Article, Base, utcnow


class Incident(Base):
    """One courthouse arrest or sanctuary dispute, with its best-known fields."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    # open | merged (folded into `merged_into_id` by a person)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    development: Mapped[str | None] = mapped_column(String(40))
    first_date: Mapped[date | None] = mapped_column(Date, index=True)
    last_date: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str | None] = mapped_column(String(80), index=True)
    county: Mapped[str | None] = mapped_column(String(120), index=True)
    city: Mapped[str | None] = mapped_column(String(120))
    court: Mapped[str | None] = mapped_column(String(300), index=True)
    court_kind: Mapped[str | None] = mapped_column(String(40))
    agency: Mapped[str | None] = mapped_column(String(80))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    article_count: Mapped[int] = mapped_column(default=0)
    first_article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL")
    )
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    links: Mapped[list[IncidentArticle]] = relationship(back_populates="incident")


class IncidentArticle(Base):
    """One article's development of an incident: the extracted record and why it was linked."""

    __tablename__ = "incident_articles"
    __table_args__ = (UniqueConstraint("article_id", "kind", name="uq_incident_articles_article"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    match_id: Mapped[int | None] = mapped_column(ForeignKey("matches.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(40))
    development: Mapped[str] = mapped_column(String(40))
    event_date: Mapped[date | None] = mapped_column(Date)
    record: Mapped[dict[str, Any]] = mapped_column(default=dict)
    link_score: Mapped[float] = mapped_column(Float, default=0.0)
    link_reasons: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # linker | person (a person's merge or split: never moved by the linker)
    decided_by: Mapped[str] = mapped_column(String(20), default="linker")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="links")
    article: Mapped[Article] = relationship()


class IncidentDecision(Base):
    """A person's merge or split, kept as the audit trail of pinned links."""

    __tablename__ = "incident_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(20))  # merge | split
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    other_incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL")
    )
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    reviewer: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
