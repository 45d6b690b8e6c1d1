"""datasette/metadata.json: valid, describing real tables, and every canned query runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_review_factory import Sample, populate

from crawler.storage.db import Database

METADATA = Path(__file__).resolve().parents[1] / "datasette" / "metadata.json"


@pytest.fixture
def metadata() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(METADATA.read_text(encoding="utf-8"))
    return data


@pytest.fixture
def sample_db(sqlite_url: str) -> tuple[Path, Sample]:
    db = Database(sqlite_url)
    try:
        sample = populate(db)
    finally:
        db.dispose()
    return Path(sqlite_url.removeprefix("sqlite:///")), sample


def run(path: Path, sql: str) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql).fetchall()]


def test_metadata_has_title_description_and_the_database(metadata: dict[str, Any]) -> None:
    assert metadata["title"] == "newswatch"
    assert len(metadata["description"]) > 40
    # newswatch.db and the demo's demo.db get the same descriptions and canned queries.
    assert set(metadata["databases"]) == {"newswatch", "demo"}
    assert metadata["databases"]["demo"] == metadata["databases"]["newswatch"]


def test_described_tables_exist(metadata: dict[str, Any], sample_db: tuple[Path, Sample]) -> None:
    path, _ = sample_db
    tables = {r["name"] for r in run(path, "select name from sqlite_master where type = 'table'")}
    described = metadata["databases"]["newswatch"]["tables"]
    assert set(described) <= tables
    for name in ("articles", "matches", "reviews", "alerts", "sources", "crawl_runs"):
        assert len(described[name]["description"]) > 20, name
    for name, table in described.items():
        for column in (table.get("label_column"), table.get("sort_desc")):
            if column:
                columns = {r["name"] for r in run(path, f"pragma table_info({name})")}
                assert column in columns, (name, column)


def test_every_canned_query_runs(metadata: dict[str, Any], sample_db: tuple[Path, Sample]) -> None:
    path, sample = sample_db
    queries = metadata["databases"]["newswatch"]["queries"]
    assert {
        "recent_matches",
        "unsent_alerts",
        "matches_per_source",
        "matches_per_day_per_topic",
        "failing_sources",
    } <= set(queries)
    results = {}
    for name, query in queries.items():
        assert query["title"] and query["description"], name
        assert ":" not in query["sql"].replace("'", ""), f"{name} needs no parameters"
        rows = run(path, query["sql"])
        assert rows, f"canned query {name} returned nothing on the sample"
        results[name] = rows

    recent = results["recent_matches"]
    assert len(recent) == 6
    assert recent[0]["match_id"] in (sample.m1, sample.m2)
    assert {"title", "url", "outlet"} <= set(recent[0])
    assert recent[0]["outlet"] == "Metro Times"

    unsent = results["unsent_alerts"]
    assert [(r["status"], r["title"]) for r in unsent] == [
        ("pending", "Courthouse arrest draws protest")
    ]

    per_source = {r["source"]: r for r in results["matches_per_source"]}
    assert per_source["metro-times"]["matches"] == 5
    assert per_source["metro-times"]["relevant"] == 1
    assert per_source["metro-times"]["irrelevant"] == 1
    assert per_source["county-wire"]["matches"] == 1

    per_day = results["matches_per_day_per_topic"]
    assert sum(r["matches"] for r in per_day) == 6
    assert all(len(r["day"]) == 10 for r in per_day)  # YYYY-MM-DD

    failing = results["failing_sources"]
    assert [(r["name"], r["consecutive_failures"]) for r in failing] == [("county-wire", 3)]

    assert {r["match_id"] for r in results["labelled_matches"]} == {sample.m4, sample.m6}
