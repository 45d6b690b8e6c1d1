"""Issue 17 items 7–10: every bad config, database, port or input is one line and an exit code."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from alerts.check import token_problem, webhook_problem
from crawler.cli import main
from crawler.cli.failures import all_failed_sentence
from crawler.config import load_settings, settings_from_dict
from crawler.daemon.runner import RunOutcome
from crawler.demo import clear_previous
from crawler.durations import parse_duration
from crawler.errors import ConfigError, DatabaseNotFound, StorageError
from crawler.sources import SourceConfig
from crawler.storage.db import Database, check_url


def run(tmp_path: Path, toml: str, *args: str, env: dict[str, str] | None = None) -> Result:
    config = tmp_path / "newswatch.toml"
    config.write_text(toml, encoding="utf-8")
    return CliRunner().invoke(main, ["--config", str(config), *args], env=env)


def db_toml(url: str) -> str:
    return f'[database]\nurl = "{url}"\n'


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


# ------------------------------------------------------------------ item 7: database URLs


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("not a url", "is not a URL"),
        ("nosuchdb://host/db", "unknown database dialect 'nosuchdb'"),
        ("mysql://user@127.0.0.1/db", "the driver for 'mysql' is not installed"),
    ],
)
def test_bad_database_urls_are_config_errors(tmp_path: Path, url: str, words: str) -> None:
    for command in (["status"], ["config", "check"], ["db", "upgrade"], ["matches"]):
        result = run(tmp_path, db_toml(url), *command)
        assert result.exit_code == 2, (command, result.output)
        [line] = error_lines(result)
        assert line.startswith("error: ") and words in line and "database.url" in line
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_url_from_the_environment_names_the_variable_and_hides_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        check_url("nosuchdb://admin:hunter2@db.internal/x", origin="$NEWSWATCH_DATABASE_URL")
    assert "$NEWSWATCH_DATABASE_URL" in str(caught.value) and "hunter2" not in str(caught.value)
    with pytest.raises(ConfigError) as unparsable:
        check_url("admin:hunter2@:::", origin=None)
    assert "hunter2" not in str(unparsable.value) or "***" in str(unparsable.value)


def test_a_file_that_is_not_a_database_is_exit_3(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not sqlite at all " * 200)
    for command in (["status"], ["config", "check"], ["db", "upgrade"]):
        result = run(tmp_path, db_toml(f"sqlite:///{garbage}"), *command)
        assert result.exit_code == 3, result.output
        assert error_lines(result) == [
            f"error: {garbage} is not a SQLite database (file is not a database)"
        ]


def test_a_sqlite_path_under_a_regular_file_is_exit_3(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    for command in (["status"], ["db", "upgrade"], ["config", "check"]):
        result = run(tmp_path, db_toml(f"sqlite:///{plain}/sub/n.db"), *command)
        assert result.exit_code == 3, result.output
        [line] = error_lines(result)
        assert f"{plain} is a file, not a folder" in line


def test_config_check_says_ok_only_when_the_database_is_usable(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    result = run(tmp_path, db_toml(f"sqlite:///{fresh}"), "config", "check")
    assert result.exit_code == 0 and "not created yet" in result.output
    assert not fresh.exists()  # checking creates nothing
    Database(f"sqlite:///{fresh}").dispose()
    result = run(tmp_path, db_toml(f"sqlite:///{fresh}"), "config", "check")
    assert result.exit_code == 0 and "reachable, schema at" in result.output
    unreachable = db_toml("postgresql+psycopg://nobody@127.0.0.1:9/none")
    result = run(tmp_path, unreachable, "config", "check")
    assert result.exit_code == 3 and "ok" not in result.stdout
    assert "cannot open the database" in result.stderr


def test_web_on_a_busy_port_fails_before_announcing(tmp_path: Path) -> None:
    db = tmp_path / "web.db"
    Database(f"sqlite:///{db}").dispose()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = run(tmp_path, db_toml(f"sqlite:///{db}"), "web", "--port", str(port))
    assert result.exit_code == 2, result.output
    assert "serving" not in result.stdout
    assert error_lines(result) == [
        f"error: cannot listen on 127.0.0.1:{port}: the address is already in use "
        "(choose another with --port or [web] port)"
    ]


# ------------------------------------------------------ item 8: read-only commands never create


@pytest.mark.parametrize(
    "command",
    [["status"], ["matches"], ["sources"], ["alerts"], ["matches", "export", "--labelled"],
     ["web"], ["rematch"], ["matches", "label", "1", "relevant"]],
)  # fmt: skip
def test_read_only_commands_do_not_create_a_database(tmp_path: Path, command: list[str]) -> None:
    absent = tmp_path / "absent.db"
    result = run(tmp_path, db_toml(f"sqlite:///{absent}"), *command)
    assert result.exit_code == 3, result.output
    assert error_lines(result) == [
        f"error: database not found: {absent} (run `newswatch db upgrade` or "
        "`newswatch crawl` first)"
    ]
    assert not absent.exists() and list(tmp_path.glob("absent.db*")) == []


def test_db_upgrade_creates_it_and_then_readers_work(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "new.db"
    assert run(tmp_path, db_toml(f"sqlite:///{path}"), "db", "upgrade").exit_code == 0
    assert path.exists()
    assert run(tmp_path, db_toml(f"sqlite:///{path}"), "status").exit_code == 0


def test_the_library_still_creates_by_default(tmp_path: Path) -> None:
    with pytest.raises(DatabaseNotFound):
        Database(f"sqlite:///{tmp_path / 'x.db'}", create=False)
    Database(f"sqlite:///{tmp_path / 'x.db'}").dispose()
    assert (tmp_path / "x.db").exists()
    with pytest.raises(StorageError, match="is a folder"):
        Database(f"sqlite:///{tmp_path}")


# ------------------------------------------------------------ item 9: crawl's closing sentence


def outcome(name: str, status: str, errors: dict[str, int]) -> RunOutcome:
    return RunOutcome(name, 1, status, 0, {"errors": errors})


def source(name: str, url: str) -> SourceConfig:
    return SourceConfig(name=name, kind="feed", urls=[url])


def test_all_failed_names_the_commonest_cause_and_every_host() -> None:
    sources = [
        source("a", "https://a.example.org/feed"),
        source("b", "https://news.example.net/rss"),
        source("c", "https://c.example.com/x"),
    ]
    outcomes = [
        outcome("a", "failed", {"dns": 3}),
        outcome("b", "failed", {"dns": 1, "timeout": 1}),
        outcome("c", "failed", {"http_403": 2}),
    ]
    sentence = all_failed_sentence(outcomes, sources)
    assert sentence.startswith("every source failed: DNS lookups failed for 2 of the 3")
    assert "is this machine online" in sentence
    assert "a: a.example.org" in sentence and "b: news.example.net" in sentence
    assert "c: c.example.com (http_403)" in sentence
    assert "\n" not in sentence
    same = [outcome(s.name, "failed", {"dns": 1}) for s in sources]
    assert "for all 3 sources" in all_failed_sentence(same, sources)
    crashed = all_failed_sentence([outcome("a", "crashed", {})], sources[:1])
    assert crashed.startswith("the crawl of a failed: crawl processes crashed")


@pytest.mark.slow
def test_crawl_of_unreachable_sources_ends_with_one_sentence(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "newswatch.toml"
    config.write_text(
        db_toml(f"sqlite:///{tmp_path / 'c.db'}")
        + '[[sources]]\nname = "closed"\nkind = "feed"\nurls = ["http://127.0.0.1:9/feed.xml"]\n'
        'allow_private_hosts = ["127.0.0.1"]\n',
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(config), "crawl", "--timeout", "2m"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    [line] = [x for x in proc.stderr.splitlines() if x.strip()]
    assert line.startswith("error: the crawl of closed failed: connections failed")
    assert "(closed: 127.0.0.1)" in line


# ----------------------------------------------------------------- item 10: config problems


def test_every_config_problem_is_listed_with_did_you_mean(tmp_path: Path) -> None:
    toml = (
        '[databse]\nurl = "x"\n[crawl]\nuser_agnt = "x"\nconcurrent_requests = 0\n'
        '[scheduler]\ndefault_interval = "soon"\n'
    )
    result = run(tmp_path, toml, "status")
    assert result.exit_code == 2
    lines = error_lines(result)
    assert len(lines) == 4 and all(line.startswith("error: ") for line in lines)
    text = "\n".join(lines)
    assert "databse: unknown setting 'databse' — did you mean 'database'?" in text
    assert "crawl.user_agnt: unknown setting 'user_agnt' — did you mean 'user_agent'?" in text
    assert "crawl.concurrent_requests: input should be greater than or equal to 1" in text
    assert "scheduler.default_interval: expected a duration such as 90s" in text


def test_unknown_topics_in_thresholds_name_the_file_and_field(tmp_path: Path) -> None:
    toml = (
        "[matching]\nthresholds = { courthouse_arest = 2.0, nonsense = 1.0 }\n"
        'disabled_topics = ["nope"]\n'
    )
    result = run(tmp_path, toml, "config", "check")
    assert result.exit_code == 2
    lines = error_lines(result)
    config = tmp_path / "newswatch.toml"
    assert len(lines) == 3
    assert lines[0].startswith(
        f"error: {config}: matching.thresholds.courthouse_arest: unknown topic "
        "'courthouse_arest' — did you mean 'courthouse_arrest'?"
    )
    assert any("matching.thresholds.nonsense" in x for x in lines)
    assert any("matching.disabled_topics.nope" in x for x in lines)


def test_every_pack_problem_is_listed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[topics.x]\nlabel = 1\nunknown_key = true\n", encoding="utf-8")
    toml = f'[matching]\ntopic_packs = ["{bad}", "{tmp_path / "absent.toml"}"]\n'
    result = run(tmp_path, toml, "config", "check")
    assert result.exit_code == 2
    lines = error_lines(result)
    assert len(lines) >= 3, lines  # two fields of bad.toml and the absent file
    assert any("absent.toml" in x and "cannot read topic pack" in x for x in lines)
    assert sum(f"{bad}:" in x for x in lines) >= 2


def test_durations_are_accepted_in_the_config_and_options() -> None:
    assert parse_duration("15m") == 900 and parse_duration("24h") == 86400
    assert parse_duration("7d") == 604800 and parse_duration("1h30m") == 5400
    assert parse_duration(45) == 45 and parse_duration("3d", unit=3600) == 72
    with pytest.raises(ValueError):
        parse_duration("fortnight")
    settings = settings_from_dict(
        {
            "scheduler": {"default_interval": "15m", "crawl_timeout": "10m"},
            "alerts": {"max_age_hours": "3d"},
            "sources": [
                {"name": "s", "kind": "feed", "urls": ["https://e.org/f"], "interval": "2h"}
            ],
        }
    )
    assert settings.scheduler.default_interval == 900 and settings.scheduler.crawl_timeout == 600
    assert settings.alerts.max_age_hours == 72 and settings.sources[0].interval == 7200
    example = load_settings(Path(__file__).resolve().parents[1] / "newswatch.example.toml")
    assert example.scheduler.default_interval == 900  # written "15m" there


def test_crawl_timeout_option_takes_a_duration(tmp_path: Path) -> None:
    result = run(tmp_path, db_toml(f"sqlite:///{tmp_path / 'x.db'}"), "crawl", "--timeout", "soon")
    assert result.exit_code == 2
    assert "expected a duration such as 90s" in result.stderr


def test_slack_test_flags_non_bot_tokens_and_plain_http_webhooks(tmp_path: Path) -> None:
    assert token_problem("xoxb-1-2-3") is None
    user = token_problem("xoxp-secret-part")
    assert user is not None and "a user token" in user and "secret-part" not in user
    assert "does not start with xoxb-" in (token_problem("abc") or "")
    assert webhook_problem("https://hooks.slack.com/services/T/B/x") is None
    assert webhook_problem("http://127.0.0.1:9999/hook") is None  # a local stand-in
    plain = webhook_problem("http://hooks.slack.com/services/T/B/secretpath")
    assert plain is not None and "not an https URL" in plain and "secretpath" not in plain
    hook = "http://hooks.slack.com/services/T/B/secretpath"
    result = run(tmp_path, "", "slack", "test", "--post", env={"SLACK_WEBHOOK_URL": hook})
    assert result.exit_code == 1 and "not an https URL" in result.stdout
    assert "secretpath" not in result.output
    assert error_lines(result) == ["error: the Slack check failed: 1 problem (FAIL above)"]


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "a PNG image"),
        (b"%PDF-1.7\n...", "a PDF document"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "binary data (it contains NUL bytes)"),
    ],
)
def test_check_refuses_binary_files(tmp_path: Path, data: bytes, kind: str) -> None:
    path = tmp_path / "thing.bin"
    path.write_bytes(data)
    result = run(tmp_path, "", "check", str(path))
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert f"cannot check {path}: it is {kind}, not HTML or text" in line


def test_demo_keeps_a_database_holding_labels(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "demo.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE reviews (id INTEGER PRIMARY KEY)")
    con.execute("INSERT INTO reviews DEFAULT VALUES")
    con.commit()
    con.close()
    console = Console(record=True, width=200)
    kept = clear_previous(console, db)
    assert kept is not None and kept.exists() and not db.exists()
    con = sqlite3.connect(kept)
    assert con.execute("SELECT count(*) FROM reviews").fetchone() == (1,)
    con.close()
    said = console.export_text()
    assert f"{db} holds 1 label (reviews): kept as {kept}" in said
    unlabelled = tmp_path / "demo.db"
    unlabelled.write_bytes(b"")
    assert clear_previous(Console(record=True), unlabelled) is None and not unlabelled.exists()
