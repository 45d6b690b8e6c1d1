"""Configuration: discovery order, validation messages, secrets from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import main
from crawler.config import find_config_file, load_settings
from crawler.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.path is None
    assert settings.database_url == "sqlite:///newswatch.db"
    assert settings.sources == []


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    local = write(tmp_path / "newswatch.toml", "")
    env = write(tmp_path / "env.toml", "")
    explicit = write(tmp_path / "explicit.toml", "")
    assert find_config_file() == Path("newswatch.toml")
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(env))
    assert find_config_file() == env
    assert find_config_file(explicit) == explicit
    assert local.exists()


def test_example_config_is_valid() -> None:
    settings = load_settings(REPO / "newswatch.example.toml")
    assert settings.sources, "the example ships a source list"
    assert settings.alerts.max_age_hours == 72


def test_wrong_type_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", '[crawl]\ndownload_timeout = "soon"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(path) in message and "crawl.download_timeout" in message and "'soon'" in message


def test_unknown_key_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", "[alerts]\nmax_age = 3\n")
    with pytest.raises(ConfigError, match=r"alerts\.max_age: unknown setting"):
        load_settings(path)


def test_source_errors_name_the_source(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", '[[sources]]\nname = "x"\nurls = ["ftp://x.org/feed"]\n')
    with pytest.raises(ConfigError, match=r"sources\[0\] \(x\)\.urls: .*http\(s\) URL"):
        load_settings(path)


def test_duplicate_source_names(tmp_path: Path) -> None:
    one = '[[sources]]\nname = "a"\nurls = ["https://a.org/feed"]\n'
    path = write(tmp_path / "dup.toml", one + one)
    with pytest.raises(ConfigError, match="duplicate source name"):
        load_settings(path)


def test_password_in_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "pw.toml", '[database]\nurl = "postgresql://u:hunter2@db/x"\n')
    with pytest.raises(ConfigError, match="NEWSWATCH_DATABASE_URL"):
        load_settings(path)


def test_database_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", "postgresql://u:secret@db/x")
    settings = load_settings(write(tmp_path / "c.toml", ""))
    assert settings.database_url == "postgresql://u:secret@db/x"
    assert "secret" not in settings.model_dump_json()


def test_relative_sqlite_path_is_relative_to_the_file(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    settings = load_settings(write(sub / "c.toml", '[database]\nurl = "sqlite:///data/n.db"\n'))
    assert settings.database_url == f"sqlite:///{sub / 'data' / 'n.db'}"


def test_bad_toml_syntax(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path / "c.toml", "[crawl\n"))


def test_config_check_cli_reports_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", "[scheduler]\nmax_concurrent_crawls = 0\n")
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 2
    assert "scheduler.max_concurrent_crawls" in result.output
    assert "Traceback" not in result.output


def test_config_check_cli_ok(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--config", str(REPO / "newswatch.example.toml"), "config", "check"]
    )
    assert result.exit_code == 0, result.output
    assert "courthouse_arrest" in result.output and "sanctuary_dispute" in result.output


def test_missing_explicit_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "nope.toml"), "config", "check"])
    assert result.exit_code == 2 and "config file not found" in result.output
