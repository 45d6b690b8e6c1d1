"""Exports for people and for `newswatch eval`: CSV safe to open in a spreadsheet, JSON lines.

Labelled export semantics: a label belongs to one (article, topic) pair — one Match row. Only
pairs a person reviewed are exported; an article's unreviewed topics are listed nowhere, so
`newswatch eval` scores each record only on its `reviewed_topics` (see
`crawler.matching.evaluate`). `relevant` (on any state: matched, possible or a reported miss)
makes the topic a label; `irrelevant` makes it a reviewed negative; `duplicate` says the article
repeats another story, not whether the topic fits, so it is kept apart in `duplicate_topics`
and not scored. Record ids are `match-<id>` of the article's first reviewed match, the form
`newswatch matches show` and `label` accept; `match_ids` maps each reviewed topic to its match.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.storage.models import Article, Match

# A spreadsheet runs a cell starting with one of these as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MATCH_ID_PREFIX = "match-"


def match_ref(match_id: int) -> str:
    """The id form exports use for a match (`newswatch matches show` accepts it)."""
    return f"{MATCH_ID_PREFIX}{match_id}"


def parse_match_ref(text: str) -> int:
    """A match id from `12` or `match-12`; ValueError otherwise."""
    value = text.strip().removeprefix(MATCH_ID_PREFIX)
    if not value.isdigit():
        raise ValueError(f"{text!r} is not a match id: use a number or match-<number>")
    return int(value)


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: formula starters get a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):
        value = json.dumps(value, ensure_ascii=False, default=str)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    """Write dict rows as formula-injection-safe CSV with a header."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])


def write_jsonl(rows: Iterable[Mapping[str, Any]], out: TextIO) -> None:
    """Write dict rows as JSON lines (UTF-8 text, datetimes as ISO strings)."""
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


@dataclass
class LabelledExport:
    """The records and what they hold."""

    records: list[dict[str, Any]]
    relevant: int = 0  # reviewed (article, topic) pairs labelled relevant
    irrelevant: int = 0
    duplicates: int = 0  # pairs labelled duplicate (kept apart, not scored)


def labelled_examples(session: Session) -> LabelledExport:
    """One `newswatch eval` record per article with a reviewed pair (see the module docstring)."""
    stmt = (
        select(Article, Match)
        .join(Match, Match.article_id == Article.id)
        .where(Match.review_status != "unreviewed")
        .order_by(Article.id, Match.id)
    )
    export = LabelledExport(records=[])
    by_article: dict[int, dict[str, Any]] = {}
    for article, match in session.execute(stmt).all():
        record = by_article.get(article.id)
        if record is None:
            record = {
                "id": match_ref(match.id),
                "url": article.url,
                "title": article.title or article.feed_title or "",
                "text": article.text or "",
                "labels": [],
                "reviewed_topics": [],
                "duplicate_topics": [],
                "match_ids": {},
            }
            if article.language:  # lets the evaluator pick the right language's rules
                record["lang"] = article.language
            by_article[article.id] = record
        if match.review_status == "duplicate":
            record["duplicate_topics"].append(match.topic)
            export.duplicates += 1
            continue
        record["reviewed_topics"].append(match.topic)
        record["match_ids"][match.topic] = match.id
        if match.review_status == "relevant":
            record["labels"].append(match.topic)
            export.relevant += 1
        else:
            export.irrelevant += 1
    for record in by_article.values():
        if not record["reviewed_topics"]:
            continue  # only duplicates: nothing to score
        if not record["duplicate_topics"]:
            del record["duplicate_topics"]
        export.records.append(record)
    return export
