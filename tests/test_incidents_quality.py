"""Quality gate for incidents: same-incident linking and field accuracy on the labelled file."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from click.testing import CliRunner

from crawler.cli import main
from crawler.incidents.evaluate import load_incident_items, run_incident_eval

LABELLED = Path(__file__).resolve().parent / "fixtures" / "labelled"
ITEMS = LABELLED / "incidents.jsonl"
GOALS = {"pairwise_f1": 0.90, "state": 0.95, "action_kind": 0.95, "event_date": 0.85}


def _floors() -> dict[str, float]:
    data = tomllib.loads((LABELLED / "floors.toml").read_text(encoding="utf-8"))
    floors: dict[str, float] = data["incidents"]
    return floors


def test_labelled_file_is_well_formed() -> None:
    items = load_incident_items(ITEMS)
    assert len(items) >= 60
    assert sum(1 for line in ITEMS.read_text(encoding="utf-8").splitlines() if '"es"' in line) >= 20
    ids = [i.id for i in items]
    assert len(ids) == len(set(ids))
    per_incident: dict[str, int] = {}
    for item in items:
        per_incident[item.incident] = per_incident.get(item.incident, 0) + 1
        assert {"event_date", "state", "court"} <= set(item.fields), item.id
    assert max(per_incident.values()) >= 5 and list(per_incident.values()).count(1) >= 10


def test_floors_never_drop_below_the_goals() -> None:
    floors = _floors()
    for name, goal in GOALS.items():
        assert floors[name] >= goal, name


def test_incident_linking_and_fields_meet_the_floors() -> None:
    report = run_incident_eval(load_incident_items(ITEMS))
    floors = _floors()
    measured = {
        "pairwise_f1": report.f1,
        "pairwise_precision": report.precision,
        **{k: report.field_accuracy[k] for k in ("state", "action_kind", "event_date")},
    }
    problems = [
        f"{name} {measured[name]:.3f} < floor {floor}"
        for name, floor in floors.items()
        if measured[name] < floor
    ]
    assert problems == [], (problems, report.wrongly_joined, report.field_errors)


def test_eval_cli_reports_incident_figures() -> None:
    result = CliRunner().invoke(main, ["eval", "--incidents", str(ITEMS), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["items"] >= 60 and 0 < data["pairwise"]["f1"] <= 1
    assert set(data["field_accuracy"]) >= {"event_date", "court", "state", "action_kind"}


def test_eval_cli_needs_a_file() -> None:
    result = CliRunner().invoke(main, ["eval"])
    assert result.exit_code == 2 and "--incidents" in result.output
