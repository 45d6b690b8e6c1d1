"""Terminal tables at 80 and 200 columns: source names, titles and headlines are never cut."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console
from test_alerts_support import add_source, make_settings, store_match

from crawler.cli import main
from crawler.cli.core import _summary_table
from crawler.cli.tables import Column, fitted_table
from crawler.daemon.runner import RunOutcome
from crawler.storage.db import Database
from crawler.storage.models import Source, utcnow

LONG_SOURCE = "minnesota-public-radio-immigration-sitemap"
LONG_TITLE = (
    "Federal agents detain a man in the hallway of the Hennepin County courthouse after his "
    "hearing, lawyers say"
)
WIDTHS = (80, 200)


def flat(text: str) -> str:
    """Table text with borders and line breaks removed (wrapped words joined again)."""
    for ch in "│┃┆┇┊┋║╎╏|":
        text = text.replace(ch, " ")
    return " ".join(text.split())


def check_width(text: str, width: int) -> None:
    assert max(len(line) for line in text.splitlines()) <= width, text


def render(table: object, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(table)
    return out.getvalue()


@pytest.mark.parametrize("width", WIDTHS)
def test_crawl_summary_keeps_every_source_name(width: int) -> None:
    summary: dict[str, object] = {
        "discovered": 120, "pages_fetched": 118, "new_articles": 40, "duplicates": 70,
        "skipped": 8, "matched": 3, "failed": 2, "errors": {"http_403": 2},
    }  # fmt: skip
    outcomes = [
        RunOutcome(LONG_SOURCE, 1, "partial", 0, summary),
        RunOutcome("county-wire", 2, "ok", 0, {**summary, "errors": {}}),
    ]
    text = render(_summary_table(outcomes, width), width)
    check_width(text, width)
    assert LONG_SOURCE in text and "county-wire" in text  # whole, on one line
    assert "partial" in text and "matched" in flat(text)
    if width == 80:  # what did not fit is folded under the name, not lost
        assert "links 120" in flat(text) or "links" in text
    else:
        assert "http_403=2" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_sources_table_keeps_names(tmp_path: Path, width: int) -> None:
    db_url = f"sqlite:///{tmp_path / 'nw.db'}"
    config = tmp_path / "newswatch.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n'
        f'[[sources]]\nname = "{LONG_SOURCE}"\nurls = ["https://mpr.example/sitemap.xml"]\n'
        '[[sources]]\nname = "county-wire"\nurls = ["https://county.example/feed.xml"]\n',
        encoding="utf-8",
    )
    db = Database(db_url)
    with db.session() as s:
        s.add(
            Source(
                name=LONG_SOURCE,
                kind="sitemap",
                url="https://mpr.example/sitemap.xml",
                health_status="failing",
                consecutive_failures=3,
                last_error_kind="http_403",
            )
        )
    db.dispose()
    result = CliRunner().invoke(
        main, ["--config", str(config), "sources"], env={"COLUMNS": str(width)}
    )
    assert result.exit_code == 0, result.output
    check_width(result.output, width)
    assert LONG_SOURCE in result.output and "county-wire" in result.output
    assert "failing" in result.output


@pytest.mark.parametrize("width", WIDTHS)
def test_alerts_table_keeps_headlines(tmp_path: Path, width: int) -> None:
    db_url = f"sqlite:///{tmp_path / 'nw.db'}"
    config = tmp_path / "newswatch.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    db = Database(db_url)
    store_match(db, make_settings(), source_id=add_source(db), title=LONG_TITLE, now=utcnow())
    db.dispose()
    result = CliRunner().invoke(
        main, ["--config", str(config), "alerts"], env={"COLUMNS": str(width)}
    )
    assert result.exit_code == 0, result.output
    check_width(result.output, width)
    assert LONG_TITLE in flat(result.output)
    assert "pending" in result.output and "#newswatch" in flat(result.output)


def test_fitted_table_drops_low_priority_columns_first() -> None:
    columns = [Column("name"), Column("a", 2), Column("b", 1), Column("title", wrap=True)]
    rows = [["x" * 30, "A" * 20, "B" * 20, "word " * 20]]
    narrow = render(fitted_table(60, columns, rows), 60)
    assert "x" * 30 in narrow and "a " + "A" * 20 in flat(narrow)  # dropped, folded under name
    wide = render(fitted_table(200, columns, rows), 200)
    assert "A" * 20 in wide and "B" * 20 in wide and "a A" not in flat(wide)
