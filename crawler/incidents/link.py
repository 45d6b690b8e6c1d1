"""Same incident or not: score a new record against the incidents already known (pure).

A record joins an incident of the same kind when the evidence adds up: the same court (or the
same jurisdiction for a sanctuary dispute), shared named officials, shared case details (the
hashed distinctive words of `IncidentRecord.signature`), dates within the window. Some things
rule a link out whatever else agrees: different states; a date outside the window; and two
*arrests* at the same court on different days, which are two incidents, not one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from crawler.incidents.model import IncidentRecord, IncidentState

_NOISE = re.compile(r"\b(?:the|el|la|of|de|del|courthouse|court|corte|tribunal)\b|[^\w ]", re.I)
LINK_THRESHOLD = 3.0
# The steps a sanctuary fight takes: what may follow each action kind.
FOLLOWS = {
    "law_passed": ("law_signed", "lawsuit_filed", "law_blocked", "ruling"),
    "law_signed": ("lawsuit_filed", "law_blocked", "ruling"),
    "funding_threat": ("funding_cut", "lawsuit_filed"),
    "funding_cut": ("lawsuit_filed", "ruling"),
    "lawsuit_filed": ("ruling", "law_blocked", "appeal"),
    "law_blocked": ("appeal", "ruling"),
    "ruling": ("appeal",),
}
COMMON_DETAIL = 3  # a case detail shared by this many incidents says nothing about any one
_GENERIC_COURTS = frozenset({"us district", "u s district", "federal", "district", "immigration"})


@dataclass(frozen=True)
class LinkSettings:
    """How far apart developments of one incident may be, and how sure linking must be."""

    window_days: int = 180
    same_event_days: int = 1
    threshold: float = LINK_THRESHOLD


@dataclass(frozen=True)
class LinkDecision:
    """The incident a record joins (None: it starts one), the score and the reasons."""

    incident_id: int | None
    score: float
    reasons: tuple[str, ...]


def court_key(name: str) -> str:
    """A court name reduced for comparison ("the Brooklyn Criminal Court" → "brooklyn criminal")."""
    return " ".join(_NOISE.sub(" ", name.lower()).split())


def place_key(name: str) -> str:
    """A place name reduced for comparison."""
    return name.lower().removeprefix("the ").strip()


def _courts_agree(a: str, b: set[str]) -> bool:
    return any(a == c or (a and c and (a in c or c in a)) for c in b)


def _specific(key: str) -> bool:
    """A court name that identifies one building (not "the federal court")."""
    return len(key.split()) >= 2 and key not in _GENERIC_COURTS


def _near(dates: Iterable[date], when: date | None, days: int) -> bool:
    return when is not None and any(abs((d - when).days) <= days for d in dates)


def score(
    record: IncidentRecord,
    state: IncidentState,
    cfg: LinkSettings,
    common: frozenset[str] = frozenset(),
) -> tuple[float, list[str]]:
    """How strongly `record` belongs to `state` (negative: ruled out), with the reasons.

    `common` holds case-detail hashes found in several other incidents: not distinctive.
    """
    if record.kind != state.kind:
        return -1.0, ["different kind"]
    rec_state = record.value("state")
    if rec_state and state.states and rec_state not in state.states:
        return -1.0, ["different state"]
    when = record.event_date
    if when is not None and state.first_date is not None and state.last_date is not None:
        window = timedelta(days=cfg.window_days)
        if when < state.first_date - window or when > state.last_date + window:
            return -1.0, ["outside the window"]
    reasons: list[str] = []
    total = 0.0
    if record.kind == "courthouse_arrest" and record.development == "arrest" and when:
        if state.arrest_dates and not _near(state.arrest_dates, when, cfg.same_event_days):
            return -1.0, ["another arrest on a different date"]
        if state.arrest_dates:
            total += 1.0
            reasons.append("arrest on the same date")
    court = record.value("court")
    key = court_key(court) if court else ""
    if key and _courts_agree(key, state.courts):
        total += 3.0 if _specific(key) else 1.0
        reasons.append("same court")
    elif (
        record.kind == "courthouse_arrest"
        and _specific(key)
        and any(_specific(c) for c in state.courts)
    ):
        total -= 3.0
        reasons.append("different court")
    city, county = record.value("city"), record.value("county")
    jurisdiction = 1.5 if record.kind == "sanctuary_dispute" else 1.0
    if city and place_key(city) in state.cities:
        total += jurisdiction
        reasons.append("same city")
    elif city and state.cities and record.kind == "sanctuary_dispute":
        total -= 1.0
        reasons.append("different city")
    if county and place_key(county) in state.counties:
        total += jurisdiction
        reasons.append("same county")
    elif county and state.counties:
        total -= 2.0
        reasons.append("different county")
    if (
        record.kind == "sanctuary_dispute"
        and not city
        and not county
        and not state.cities
        and not state.counties
        and rec_state
        and rec_state in state.states
    ):
        total += 1.5
        reasons.append("same state-level jurisdiction")
    officials = {o.lower() for o in record.officials} & state.officials
    if officials:
        total += min(3.0, 1.5 * len(officials))
        reasons.append("shared officials: " + ", ".join(sorted(officials)))
    shared = (set(record.signature) & state.signature) - common
    if shared:
        overlap = len(shared) / max(1, min(len(record.signature), len(state.signature)))
        total += min(3.0, 0.5 * len(shared)) + 2.0 * overlap
        reasons.append(f"{len(shared)} shared case details")
    if record.kind == "sanctuary_dispute" and any(
        record.development in FOLLOWS.get(action, ()) for action in state.actions
    ):
        total += 1.5
        reasons.append(f"{record.development} follows what came before")
    if record.kind == "sanctuary_dispute" and record.development in state.actions:
        if _near(state.actions[record.development], when, cfg.same_event_days):
            total += 1.5
            reasons.append(f"same {record.development} on the same date")
        elif record.development in ("lawsuit_filed", "287g_joined", "law_signed"):
            total -= 1.5  # a second lawsuit or agreement on another date is usually a new fight
            reasons.append(f"another {record.development}")
    return total, reasons


def decide(
    record: IncidentRecord, incidents: Iterable[IncidentState], cfg: LinkSettings | None = None
) -> LinkDecision:
    """The best incident for the record when its score reaches the threshold, else a new one."""
    cfg = cfg or LinkSettings()
    states = list(incidents)
    seen: dict[str, int] = {}
    for state in states:
        for word in state.signature:
            seen[word] = seen.get(word, 0) + 1
    common = frozenset(w for w, n in seen.items() if n >= COMMON_DETAIL)
    best: tuple[float, int, list[str]] | None = None
    for state in states:
        value, reasons = score(record, state, cfg, common)
        if value >= cfg.threshold and (best is None or value > best[0]):
            best = (value, state.id, reasons)
    if best is None:
        return LinkDecision(None, 0.0, ("no incident close enough",))
    return LinkDecision(best[1], best[0], tuple(best[2]))
