"""Evaluation on labelled JSON Lines, and the `check` and `eval` commands."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import matching as cli
from crawler.errors import ConfigError
from crawler.matching import load_matcher
from crawler.matching.evaluate import LabelledItem, breakdown, load_labelled, run_eval

CA = "courthouse_arrest"
SD = "sanctuary_dispute"
COURT = "ICE agents arrested a man at the Queens courthouse after his hearing on Monday."
SANCTUARY = (
    "The Justice Department sued the city over its sanctuary policy. The mayor vowed to fight "
    "the lawsuit and defend the sanctuary city law."
)
PAGE = (
    "<html><head><title>ICE arrests man at Queens courthouse</title></head><body><article>"
    "<h1>ICE arrests man at Queens courthouse</h1><p>"
    + " ".join([COURT] * 3)
    + "</p><p>The man's lawyer said he had come to court to answer a traffic summons and was "
    "detained by plainclothes officers in the hallway, in front of his family.</p>"
    "</article></body></html>"
)


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    (tmp_path / "story.txt").write_text(SANCTUARY, encoding="utf-8")
    (tmp_path / "page.html.gz").write_bytes(gzip.compress(PAGE.encode()))
    return write_jsonl(
        tmp_path / "set.jsonl",
        [
            {"id": "a", "text": COURT, "labels": [CA]},
            {"id": "b", "title": "Sanctuary fight", "path": "story.txt", "labels": [SD]},
            {"url": "https://example.test/c", "html": PAGE, "labels": [CA, SD]},
            {"id": "d", "path": "page.html.gz", "labels": []},
            {"id": "e", "text": "The ice storm closed roads.", "labels": []},
        ],
    )


def test_load_labelled_reads_every_source(labelled: Path) -> None:
    items = load_labelled(labelled)
    assert [i.id for i in items] == ["a", "b", "https://example.test/c", "d", "e"]
    assert items[1].path == labelled.parent / "story.txt" and items[1].title == "Sanctuary fight"
    assert items[2].html == PAGE and items[2].labels == (CA, SD)


def test_run_eval_counts_and_lists_errors(labelled: Path) -> None:
    report = run_eval(load_matcher(), load_labelled(labelled))
    ca, sd = report.topics[CA], report.topics[SD]
    assert (ca.tp, ca.fp, ca.fn, ca.tn) == (2, 1, 0, 2)
    assert ca.false_positives == ["d"] and ca.precision == pytest.approx(2 / 3)
    assert ca.recall == 1.0 and ca.f1 == pytest.approx(0.8)
    assert (sd.tp, sd.fp, sd.fn, sd.tn) == (1, 0, 1, 3)
    assert sd.false_negatives == ["https://example.test/c"]
    assert report.predictions["a"] == [CA] and report.predictions["e"] == []
    data = json.loads(json.dumps(report.to_dict()))
    assert data["items"] == 5 and data["topics"][CA]["precision"] == pytest.approx(2 / 3)


def test_unextractable_items_are_errors_not_crashes(tmp_path: Path) -> None:
    items = [LabelledItem("x", (CA,), html="<html></html>"), LabelledItem("y", (), path=tmp_path)]
    report = run_eval(load_matcher(), items)
    assert set(report.errors) == {"x", "y"}
    assert report.topics[CA].false_negatives == ["x"] and report.topics[CA].precision == 0.0


@pytest.mark.parametrize(
    ("content", "message", "field"),
    [
        ('{"id": "a", "text": "t", "labels": []}\n{oops\n', "invalid JSON", "line 2"),
        ('{"id": "a", "text": "t"}\n', "list of topic names", "line 1.labels"),
        ('{"id": "a", "labels": []}\n', '"text", "html" or "path"', "line 1.text"),
        ('{"text": "t", "labels": []}\n', '"id"', "line 1.id"),
        ("[1, 2]\n", "JSON object", "line 1"),
        (
            '{"id": "a", "text": "t", "labels": []}\n{"id": "a", "text": "t", "labels": []}\n',
            "duplicate id",
            "line 2",
        ),
        ("\n\n", "no labelled items", None),
    ],
)
def test_bad_labelled_files_name_the_line(
    tmp_path: Path, content: str, message: str, field: str | None
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        load_labelled(path)
    assert info.value.path == str(path) and info.value.field == field


def test_eval_command_reports_and_writes_predictions(labelled: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred.jsonl"
    result = CliRunner().invoke(cli.eval_cmd, [str(labelled), "--predictions", str(out)])
    assert result.exit_code == 0, result.output
    assert "courthouse_arrest: precision 0.667 recall 1.000 f1 0.800" in result.output
    assert "courthouse_arrest false positives: d" in result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0] == {"id": "a", "labels": [CA]} and len(lines) == 5


def test_eval_command_json_and_threshold(labelled: Path) -> None:
    result = CliRunner().invoke(
        cli.eval_cmd, [str(labelled), "--json", "--threshold", "courthouse_arrest=100"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["topics"][CA]["tp"] == 0 and data["pack_version"]


@pytest.fixture
def tagged(tmp_path: Path) -> Path:
    spanish = "Agentes de ICE arrestaron a un hombre en la corte de inmigración el lunes."
    return write_jsonl(
        tmp_path / "tagged.jsonl",
        [
            {"id": "a", "text": COURT, "labels": [CA], "lang": "en", "kind": "brief"},
            {"id": "b", "text": spanish, "labels": [CA], "lang": "es", "kind": "brief"},
            {"id": "c", "text": SANCTUARY, "labels": [], "lang": "en", "kind": "explainer"},
            {"id": "d", "text": "The ice storm closed roads.", "labels": [CA]},
        ],
    )


def test_breakdown_splits_scores_by_any_item_field(tagged: Path) -> None:
    items = load_labelled(tagged)
    assert items[2].attr("kind") == "explainer" and items[3].attr("kind") is None
    report = run_eval(load_matcher(), items)
    by_lang = breakdown(report, items, "lang")
    assert list(by_lang) == ["(none)", "en", "es"]
    assert (by_lang["en"][CA].tp, by_lang["en"][CA].tn) == (1, 1)
    assert by_lang["en"][SD].false_positives == ["c"] and by_lang["es"][SD].tn == 1
    assert by_lang["(none)"][CA].false_negatives == ["d"]
    by_kind = breakdown(report, items, "kind")
    assert by_kind["brief"][CA].tp == 2 and by_kind["explainer"][CA].tn == 1


def test_eval_command_breaks_down_by_fields(tagged: Path) -> None:
    result = CliRunner().invoke(cli.eval_cmd, [str(tagged), "--by", "lang", "--by", "kind"])
    assert result.exit_code == 0, result.output
    assert "by lang:" in result.output and "  lang=es (1 items)" in result.output
    assert "by kind:" in result.output and "  kind=explainer (1 items)" in result.output
    result = CliRunner().invoke(cli.eval_cmd, [str(tagged), "--by", "lang", "--json"])
    data = json.loads(result.output)
    assert data["by"]["lang"]["es"][CA]["tp"] == 1
    assert data["by"]["lang"]["en"][SD]["false_positives"] == ["c"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["missing.jsonl"], 2, "cannot read labelled file"),
        (["{labelled}", "--threshold", "courthouse_arrest"], 2, "TOPIC=NUMBER"),
        (["{labelled}", "--threshold", "nope=1"], 2, "unknown topic 'nope'"),
        (["{labelled}", "--pack", "missing.toml"], 2, "cannot read topic pack"),
    ],
)
def test_eval_command_fails_with_one_line(
    labelled: Path, args: list[str], code: int, message: str
) -> None:
    args = [a.format(labelled=labelled) for a in args]
    result = CliRunner().invoke(cli.eval_cmd, args)
    assert result.exit_code == code
    assert message in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_check_command_explains_a_file(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    result = CliRunner().invoke(cli.check, [str(page)])
    assert result.exit_code == 0, result.output
    for expected in (
        "Extracted",
        "Prefilter",
        "pass",
        "courthouse_arrest",
        "ca.agents_arrest_at_court",
        "fired",
        "Queens",
    ):
        assert expected in result.output


def test_check_command_plain_text_and_near_misses(tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text("ICE agents were seen at the courthouse on Monday.", encoding="utf-8")
    result = CliRunner().invoke(cli.check, [str(story)])
    assert result.exit_code == 0, result.output
    assert "plain text" in result.output and "missing arrest" in result.output


@pytest.mark.parametrize(
    ("source", "message"),
    [("ftp://example.test/x", "only http and https"), ("nowhere.html", "cannot read")],
)
def test_check_command_refuses_bad_sources(source: str, message: str) -> None:
    result = CliRunner().invoke(cli.check, [source])
    assert result.exit_code == 2 and message in result.output


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/article":
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_check_command_fetches_a_url(server: str) -> None:
    result = CliRunner().invoke(cli.check, [f"{server}/article"])
    assert result.exit_code == 0, result.output
    assert "ca.agents_arrest_at_court" in result.output


def test_check_command_reports_fetch_failures(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(cli.check, [f"{server}/missing"])
    assert result.exit_code == 1 and "cannot fetch" in result.output
    monkeypatch.setattr(cli, "FETCH_CAP", 100)
    result = CliRunner().invoke(cli.check, [f"{server}/article"])
    assert result.exit_code == 1 and "larger than" in result.output


def test_commands_are_exported_for_the_newswatch_group() -> None:
    assert [c.name for c in cli.commands] == ["check", "eval"]
    assert all(c.help for c in cli.commands)
