"""`newswatch alerts …` and `newswatch slack test` through click's CliRunner."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import slack_standin as standin_module
from click.testing import CliRunner, Result
from slack_standin import TOKEN, SlackStandin
from test_alerts_support import add_source, make_settings, row, store_match

from crawler.cli import main
from crawler.storage.db import Database
from crawler.storage.models import utcnow

slack_standin = standin_module.slack_standin


@pytest.fixture
def config(tmp_path: Path, slack_standin: SlackStandin) -> Path:
    path = tmp_path / "newswatch.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "nw.db"}"\n'
        f'[slack]\napi_url = "{slack_standin.api_url}"\ntimeout = 2.0\n'
        '[alerts]\ndefault_channel = "#newswatch"\nper_channel_interval = 0.0\n'
        'channels = { other = "#gone" }\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def db(config: Path, tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'nw.db'}")
    yield database
    database.dispose()


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        main, ["--config", str(config), *args], env={"COLUMNS": "200", **(env or {})}
    )


def seed(db: Database, titles: list[str], topic: str = "courthouse_ice") -> list[int]:
    settings = make_settings(channels={"other": "#gone"})
    source_id = add_source(db)
    return [
        store_match(db, settings, source_id=source_id, title=t, now=utcnow(), topic=topic)[0].id
        for t in titles
    ]


@pytest.mark.parametrize(
    "args",
    [["alerts"], ["alerts", "retry"], ["alerts", "send"], ["slack"], ["slack", "test"]],
)
def test_every_command_has_help(args: list[str]) -> None:
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0
    first = result.output.split("\n\n")[1].strip()
    assert first and not first.startswith("Options")


def test_list_and_filter(config: Path, db: Database) -> None:
    seed(db, ["Arrest at the courthouse", "Second <b>story</b>"])
    seed(db, ["Old one"], topic="other")
    listed = run(config, "alerts")
    assert listed.exit_code == 0, listed.output
    assert "Arrest at the courthouse" in listed.output and "Second <b>story</b>" in listed.output
    assert "pending" in listed.output and "#gone" in listed.output
    none = run(config, "alerts", "--status", "failed")
    assert none.exit_code == 0 and "no failed alerts" in none.output
    limited = run(config, "alerts", "--limit", "1")
    assert "Old one" in limited.output and "Arrest" not in limited.output
    bad = run(config, "alerts", "--status", "nope")
    assert bad.exit_code == 2


def test_send_with_token_then_retry_failed(
    config: Path, db: Database, slack_standin: SlackStandin
) -> None:
    [good] = seed(db, ["Good"])
    [bad] = seed(db, ["Bad"], topic="other")
    slack_standin.channel_error("#gone", "channel_not_found")
    sent = run(config, "alerts", "send", env={"SLACK_BOT_TOKEN": TOKEN})
    assert sent.exit_code == 0, sent.output
    assert "1 sent (slack), 0 to retry, 1 failed" in sent.output
    assert "newswatch alerts --status failed" in sent.output
    assert row(db, good).status == "sent" and row(db, bad).status == "failed"
    failed = run(config, "alerts", "--status", "failed")
    assert "channel_not_found" in failed.output
    slack_standin.channel_error("#gone", None)
    assert "1 failed alert queued again" in run(config, "alerts", "retry", "--failed").output
    assert row(db, bad).status == "pending" and row(db, bad).attempts == 0
    again = run(config, "alerts", "send", "--max", "5", env={"SLACK_BOT_TOKEN": TOKEN})
    assert "1 sent (slack)" in again.output and row(db, bad).status == "sent"
    assert TOKEN not in sent.output + again.output


def test_retry_by_id_rules(config: Path, db: Database) -> None:
    [alert] = seed(db, ["One"])
    assert run(config, "alerts", "retry").exit_code == 2
    assert run(config, "alerts", "retry", str(alert), "--failed").exit_code == 2
    pending = run(config, "alerts", "retry", str(alert))
    assert pending.exit_code == 1 and f"alert {alert} is pending" in pending.output
    missing = run(config, "alerts", "retry", "999")
    assert missing.exit_code == 1 and "no alert with id 999" in missing.output
    with db.session() as session:
        stored = row(db, alert)
        stored.status, stored.last_error = "suppressed", "suppressed: first crawl"
        session.merge(stored)
    ok = run(config, "alerts", "retry", str(alert))
    assert ok.exit_code == 0 and f"alert {alert} queued again" in ok.output
    assert row(db, alert).status == "pending" and row(
        db, alert
    ).next_attempt_at > utcnow() - timedelta(minutes=1)


def test_send_without_secrets_prints_to_the_console(config: Path, db: Database) -> None:
    seed(db, ["Shown on the console [red]not markup[/red]"])
    result = run(config, "alerts", "send")
    assert result.exit_code == 0, result.output
    assert "alert → #newswatch" in result.output
    assert "Shown on the console [red]not markup[/red]" in result.output
    assert "1 sent (console)" in result.output


def test_slack_test_messages(config: Path, slack_standin: SlackStandin) -> None:
    nothing = run(config, "slack", "test")
    assert nothing.exit_code == 1
    assert "neither SLACK_BOT_TOKEN nor SLACK_WEBHOOK_URL is set" in nothing.output
    bad = run(config, "slack", "test", env={"SLACK_BOT_TOKEN": "xoxb-nope"})
    assert bad.exit_code == 1 and "invalid_auth" in bad.output and "xoxb-nope" not in bad.output
    slack_standin.add_channel("newswatch", is_member=False)
    outside = run(config, "slack", "test", env={"SLACK_BOT_TOKEN": TOKEN})
    assert outside.exit_code == 1
    assert "channel #newswatch: not_in_channel — invite the bot" in outside.output
    assert "channel #gone: channel_not_found" in outside.output
    slack_standin.add_channel("newswatch")
    slack_standin.add_channel("gone")
    fine = run(config, "slack", "test", "--post", env={"SLACK_BOT_TOKEN": TOKEN})
    assert fine.exit_code == 0, fine.output
    assert "test message posted to #newswatch" in fine.output
    hook = slack_standin.webhook_url()
    webhook = run(config, "slack", "test", env={"SLACK_WEBHOOK_URL": hook})
    assert webhook.exit_code == 0 and "--post" in webhook.output
    posted = run(config, "slack", "test", "--post", env={"SLACK_WEBHOOK_URL": hook})
    assert posted.exit_code == 0 and "posted through the webhook" in posted.output
    assert hook not in webhook.output + posted.output


def test_malformed_webhook_is_one_line_error(config: Path) -> None:
    result = run(config, "slack", "test", "--post", env={"SLACK_WEBHOOK_URL": "not-a-url-secret"})
    assert result.exit_code == 2
    assert "error: SLACK_WEBHOOK_URL is not an http(s) URL" in result.output
    assert "not-a-url-secret" not in result.output
