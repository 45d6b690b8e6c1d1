"""Measure incident extraction and linking on a labelled file (`newswatch eval --incidents`).

Each item carries `incident` (items about one event or case share it), `published` and
`fields` (event_date, court, court_kind, state, county, city, agency, and the development or
action kind). Items are replayed in publication order, as a crawl would see them, each linked
against the incidents built so far. Reported: pairwise precision, recall and F1 of
"same incident" decisions over all item pairs, and per-field accuracy (the event date counts
when within a day; court names compare after normalising; a field labelled null counts as
right only when nothing was extracted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

from crawler.errors import ConfigError
from crawler.incidents.extract import extract_record
from crawler.incidents.link import LinkSettings, court_key, decide
from crawler.incidents.model import ACTION_KINDS, DEVELOPMENTS, IncidentRecord, IncidentState
from crawler.incidents.places import gazetteer

# Other labellers' words for the same development (tests/fixtures/labelled/realistic.jsonl).
ACTION_ALIASES = {
    "courthouse_arrest": "arrest",
    "courthouse_arrest_attempt": "arrest",
    "charged": "charge",
    "indicted": "charge",
    "convicted": "ruling",
    "acquitted": "ruling",
    "sentenced": "ruling",
    "released_on_bond": "aftermath",
    "released": "aftermath",
    "deported": "aftermath",
    "resigned": "resignation",
}
SCORED_FIELDS = ("event_date", "court", "court_kind", "state", "county", "city", "action_kind")


@dataclass
class IncidentItem:
    """One labelled article."""

    id: str
    incident: str
    kind: str
    published: datetime
    title: str
    text: str
    fields: dict[str, Any]


@dataclass
class IncidentReport:
    """Pairwise linking scores, field accuracy and the mistakes behind them."""

    items: int
    incidents: int
    predicted_incidents: int
    precision: float
    recall: float
    f1: float
    field_accuracy: dict[str, float]
    field_counts: dict[str, int]
    wrongly_joined: list[tuple[str, str]] = field(default_factory=list)
    wrongly_split: list[tuple[str, str]] = field(default_factory=list)
    field_errors: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "items": self.items,
            "incidents": self.incidents,
            "predicted_incidents": self.predicted_incidents,
            "pairwise": {"precision": self.precision, "recall": self.recall, "f1": self.f1},
            "field_accuracy": self.field_accuracy,
            "field_counts": self.field_counts,
            "wrongly_joined": [list(p) for p in self.wrongly_joined],
            "wrongly_split": [list(p) for p in self.wrongly_split],
            "field_errors": self.field_errors,
        }


def _parse_time(value: Any, where: str) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{where}: published must be an ISO date-time, got {value!r}") from None


def load_incident_items(path: Path) -> list[IncidentItem]:
    """Read the labelled JSON Lines file; items without an `incident` id are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    items: list[IncidentItem] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(data, dict) or not data.get("incident"):
            continue
        fields = dict(data.get("fields") or {})
        kind = fields.get("kind") or _kind_of(fields) or next(iter(data.get("labels") or []), None)
        if kind not in ("courthouse_arrest", "sanctuary_dispute"):
            raise ConfigError(f"{where}: needs fields.kind or a topic label")
        if "published" not in data:
            raise ConfigError(f"{where}: needs published")
        items.append(
            IncidentItem(
                id=str(data.get("id") or number),
                incident=str(data["incident"]),
                kind=str(kind),
                published=_parse_time(data["published"], where),
                title=str(data.get("title") or ""),
                text=str(data.get("text") or ""),
                fields=fields,
            )
        )
    return items


def _kind_of(fields: dict[str, Any]) -> str | None:
    """The incident kind its labelled action implies, when the item does not say."""
    action = _gold_action(fields)
    if action in ACTION_KINDS and action not in DEVELOPMENTS:
        return "sanctuary_dispute"
    if action in DEVELOPMENTS and action not in ACTION_KINDS:
        return "courthouse_arrest"
    return None


def _gold_action(fields: dict[str, Any]) -> Any:
    action = fields.get("action_kind", fields.get("development"))
    return ACTION_ALIASES.get(action, action) if isinstance(action, str) else action


def _field_right(name: str, gold: Any, record: IncidentRecord) -> bool:
    if name == "action_kind":
        return bool(record.development == gold)
    predicted = record.value(name)
    if gold is None:
        return predicted is None
    if predicted is None:
        return False
    if name == "event_date":
        return abs((date.fromisoformat(predicted) - date.fromisoformat(str(gold))).days) <= 1
    if name == "state":
        names = gazetteer().state_names
        return names.get(str(gold), str(gold)) == names.get(predicted, predicted)
    if name == "court":
        a, b = court_key(predicted), court_key(str(gold))
        return bool(a and b and (a == b or a in b or b in a))
    return predicted.lower().removeprefix("the ") == str(gold).lower().removeprefix("the ")


def replay(
    items: list[IncidentItem], cfg: LinkSettings | None = None
) -> tuple[dict[str, int], dict[str, IncidentRecord]]:
    """Link the items in publication order: item id → predicted incident, and the records."""
    ordered = sorted(items, key=lambda it: (it.published, it.id))
    states: list[IncidentState] = []
    assigned: dict[str, int] = {}
    records: dict[str, IncidentRecord] = {}
    for item in ordered:
        record = extract_record(item.kind, item.title, item.text, item.published.date())
        records[item.id] = record
        decision = decide(record, states, cfg)
        if decision.incident_id is None:
            state = IncidentState(id=len(states), kind=item.kind, first_date=None, last_date=None)
            states.append(state)
        else:
            state = states[decision.incident_id]
        state.add(record)
        assigned[item.id] = state.id
    return assigned, records


def run_incident_eval(items: list[IncidentItem], cfg: LinkSettings | None = None) -> IncidentReport:
    """Score linking pairwise and the fields of every item."""
    assigned, records = replay(items, cfg)
    tp = fp = fn = 0
    joined: list[tuple[str, str]] = []
    split: list[tuple[str, str]] = []
    for a, b in combinations(items, 2):
        same_gold = a.incident == b.incident
        same_pred = assigned[a.id] == assigned[b.id]
        if same_gold and same_pred:
            tp += 1
        elif same_pred:
            fp += 1
            joined.append((a.id, b.id))
        elif same_gold:
            fn += 1
            split.append((a.id, b.id))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    right: dict[str, int] = {}
    counts: dict[str, int] = {}
    errors: dict[str, list[str]] = {}
    for item in items:
        record = records[item.id]
        for name in SCORED_FIELDS:
            gold = _gold_action(item.fields) if name == "action_kind" else item.fields.get(name)
            if name not in item.fields and not (name == "action_kind" and gold is not None):
                continue
            counts[name] = counts.get(name, 0) + 1
            if _field_right(name, gold, record):
                right[name] = right.get(name, 0) + 1
            else:
                got = record.development if name == "action_kind" else record.value(name)
                errors.setdefault(name, []).append(f"{item.id}: want {gold!r}, got {got!r}")
    return IncidentReport(
        items=len(items),
        incidents=len({it.incident for it in items}),
        predicted_incidents=len(set(assigned.values())),
        precision=precision,
        recall=recall,
        f1=f1,
        field_accuracy={n: right.get(n, 0) / c for n, c in counts.items()},
        field_counts=counts,
        wrongly_joined=joined,
        wrongly_split=split,
        field_errors=errors,
    )


def incident_summary_lines(report: IncidentReport) -> list[str]:
    """Human-readable lines for the CLI."""
    lines = [
        f"{report.items} items, {report.incidents} labelled incidents, "
        f"{report.predicted_incidents} predicted",
        f"same-incident pairs: precision {report.precision:.3f}  recall {report.recall:.3f}  "
        f"F1 {report.f1:.3f}",
    ]
    for name, value in report.field_accuracy.items():
        label = "event date (±1 day)" if name == "event_date" else name.replace("_", " ")
        lines.append(f"{label}: {value:.3f} of {report.field_counts[name]}")
    return lines
