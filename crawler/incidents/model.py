"""Incident records as plain values: fields with the spans they came from, and what links them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

INCIDENT_KINDS = ("courthouse_arrest", "sanctuary_dispute")
COURT_KINDS = ("immigration", "federal", "family", "criminal", "civil")
# What one article about a courthouse arrest reports (its development).
DEVELOPMENTS = (
    "arrest",
    "charge",
    "trial",
    "ruling",
    "resignation",
    "policy",
    "protest",
    "aftermath",
)
# What one article about a sanctuary dispute reports (its action kind).
ACTION_KINDS = (
    "lawsuit_filed",
    "ruling",
    "appeal",
    "funding_threat",
    "funding_cut",
    "detainer_policy",
    "287g_joined",
    "287g_renewed",
    "287g_ended",
    "law_passed",
    "law_signed",
    "law_blocked",
    "data_sharing_restricted",
    "data_sharing_ordered",
    "official_clash",
)
# Developments that may be posted at top level instead of in the incident's thread.
MATERIAL = frozenset({"ruling", "law_blocked", "law_signed", "funding_cut", "resignation"})
# The fields an incident record can carry (each optional).
FIELD_NAMES = (
    "event_date",
    "court",
    "court_kind",
    "city",
    "county",
    "state",
    "agency",
    "detained",
    "circumstance",
    "tipped_by",
    "outcome",
    "parties",
    "status",
)


@dataclass(frozen=True)
class FieldValue:
    """One extracted field: its value and the sentence (redacted) and offsets it came from."""

    value: str
    source: str  # "title" | "text"
    start: int
    end: int
    quote: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldValue:
        """Inverse of `to_dict`."""
        return cls(
            value=str(data["value"]),
            source=str(data.get("source", "text")),
            start=int(data.get("start", 0)),
            end=int(data.get("end", 0)),
            quote=str(data.get("quote", "")),
        )


@dataclass
class IncidentRecord:
    """What one article says about one incident: kind, development, date and fields."""

    kind: str
    development: str
    event_date: date | None
    fields: dict[str, FieldValue] = field(default_factory=dict)
    officials: list[str] = field(default_factory=list)
    # Hashes of distinctive words (names, ages, case details): linking compares them without
    # keeping a detained person's name in the database.
    signature: list[str] = field(default_factory=list)
    summary: str = ""

    def value(self, name: str) -> str | None:
        """A field's value, or None."""
        found = self.fields.get(name)
        return found.value if found is not None else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (the stored form)."""
        return {
            "kind": self.kind,
            "development": self.development,
            "event_date": self.event_date.isoformat() if self.event_date else None,
            "fields": {k: v.to_dict() for k, v in self.fields.items()},
            "officials": list(self.officials),
            "signature": list(self.signature),
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IncidentRecord:
        """Inverse of `to_dict`."""
        when = data.get("event_date")
        return cls(
            kind=str(data["kind"]),
            development=str(data.get("development") or "arrest"),
            event_date=date.fromisoformat(when) if when else None,
            fields={k: FieldValue.from_dict(v) for k, v in (data.get("fields") or {}).items()},
            officials=[str(o) for o in data.get("officials") or []],
            signature=[str(s) for s in data.get("signature") or []],
            summary=str(data.get("summary") or ""),
        )


@dataclass
class IncidentState:
    """What linking needs to know about an existing incident (built from its records)."""

    id: int
    kind: str
    first_date: date | None
    last_date: date | None
    courts: set[str] = field(default_factory=set)
    cities: set[str] = field(default_factory=set)
    counties: set[str] = field(default_factory=set)
    states: set[str] = field(default_factory=set)
    officials: set[str] = field(default_factory=set)
    signature: set[str] = field(default_factory=set)
    arrest_dates: set[date] = field(default_factory=set)
    actions: dict[str, set[date]] = field(default_factory=dict)
    # Incidents a person split this one from: never merged back automatically.
    apart_from: set[int] = field(default_factory=set)

    def add(self, record: IncidentRecord) -> None:
        """Fold one more record into the state."""
        from crawler.incidents.link import court_key, place_key

        when = record.event_date
        if when is not None:
            self.first_date = min(self.first_date or when, when)
            self.last_date = max(self.last_date or when, when)
            if record.development == "arrest":
                self.arrest_dates.add(when)
        court = record.value("court")
        if court:
            self.courts.add(court_key(court))
        for name, target in (("city", self.cities), ("county", self.counties)):
            value = record.value(name)
            if value:
                target.add(place_key(value))
        state = record.value("state")
        if state:
            self.states.add(state)
        self.officials.update(o.lower() for o in record.officials)
        self.signature.update(record.signature)
        dates = self.actions.setdefault(record.development, set())
        if when is not None:
            dates.add(when)

    @classmethod
    def from_records(cls, ident: int, kind: str, records: list[IncidentRecord]) -> IncidentState:
        """The state of an incident made of these records."""
        state = cls(id=ident, kind=kind, first_date=None, last_date=None)
        for record in records:
            state.add(record)
        return state
