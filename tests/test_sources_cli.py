"""`newswatch sources`, `sources add` and `sources test` against the local sample site."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crawler.cli import main
from crawler.cli.sources import insert_source_text
from crawler.sample_site.server import SampleSite


@pytest.fixture(scope="module")
def site() -> Iterator[SampleSite]:
    with SampleSite() as server:
        yield server


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "newswatch.toml"
    path.write_text(
        f"""# my config
[database]
url = "sqlite:///{tmp_path / "nw.db"}"

[crawl]
autothrottle = false
extract_workers = 1

# SOURCES-BEGIN
# SOURCES-END

[web]
port = 8099
""",
        encoding="utf-8",
    )
    return path


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def add(config: Path, site: SampleSite, *extra: str) -> Result:
    return run(
        config, "sources", "add", site.base_url + "/", "--allow-private-host", "127.0.0.1", *extra
    )


def test_add_writes_a_validated_entry_that_config_check_accepts(
    config: Path, site: SampleSite
) -> None:
    result = add(config, site, "--name", "ledger")
    assert result.exit_code == 0, result.output
    assert "found feed" in result.output and "sitemap_index.xml" in result.output
    text = config.read_text(encoding="utf-8")
    assert text.index("[[sources]]") < text.index("# SOURCES-END") < text.index("[web]")
    data = tomllib.loads(text)
    (source,) = data["sources"]
    assert source["name"] == "ledger" and source["kind"] == "feed"
    assert source["urls"] == [f"{site.base_url}/feeds/rss.xml"]
    assert source["allow_private_hosts"] == ["127.0.0.1"]
    assert f"# also found: {site.base_url}/sitemap_index.xml" in text
    check = run(config, "config", "check")
    assert check.exit_code == 0, check.output
    assert "sources: 1" in check.output


def test_add_refuses_a_duplicate_name_and_leaves_the_file_alone(
    config: Path, site: SampleSite
) -> None:
    assert add(config, site, "--name", "ledger").exit_code == 0
    before = config.read_text(encoding="utf-8")
    again = add(config, site, "--name", "ledger")
    assert again.exit_code == 2 and "already exists" in again.output
    assert config.read_text(encoding="utf-8") == before


def test_print_only_prints(config: Path, site: SampleSite) -> None:
    before = config.read_text(encoding="utf-8")
    result = add(config, site, "--print", "--kind", "sitemap")
    assert result.exit_code == 0, result.output
    assert 'kind = "sitemap"' in result.output
    assert config.read_text(encoding="utf-8") == before


def test_loopback_needs_an_explicit_allowance(config: Path, site: SampleSite) -> None:
    result = run(config, "sources", "add", site.base_url + "/")
    assert result.exit_code != 0 and "non-public" in result.output


def test_insert_keeps_the_markers_or_appends() -> None:
    block = "[[sources]]\nname = 'x'\n"
    marked = insert_source_text("a = 1\n# SOURCES-BEGIN\n# SOURCES-END\n[web]\n", block)
    assert marked.index(block) < marked.index("# SOURCES-END")
    assert insert_source_text("", block) == block
    assert insert_source_text("a = 1\n", block) == "a = 1\n\n" + block


@pytest.mark.slow
def test_list_and_test_a_source(config: Path, site: SampleSite) -> None:
    assert add(config, site, "--name", "ledger").exit_code == 0
    assert run(config, "sources").exit_code == 3  # listing only reads: no database yet
    assert run(config, "db", "upgrade").exit_code == 0
    listed = run(config, "sources", "--json")
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert (row["name"], row["health"], row["consecutive_failures"]) == (
        "ledger",
        "never crawled",
        0,
    )
    tested = run(config, "sources", "test", "ledger", "--json")
    assert tested.exit_code == 0, tested.output
    report = json.loads(tested.output)
    assert report["status"] == "ok" and report["documents"] == 1
    assert report["article_links"] == report["new_articles"] == len(site.articles())
    assert report["matched"] > 0 and report["errors"] == {}
    db = config.parent / "nw.db"
    assert not db.exists() or "ledger" not in db.read_bytes().decode("latin-1")  # throwaway DB
    table = run(config, "sources")
    assert table.exit_code == 0 and "ledger" in table.output
