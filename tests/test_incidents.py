"""Incident extraction (dates, fields with spans, redaction) and same-incident linking, pure."""

from __future__ import annotations

from datetime import date

import pytest

from crawler.incidents import IncidentState, LinkSettings, decide, extract_record
from crawler.incidents.dates import find_dates
from crawler.incidents.redact import detained_names, redact

TUESDAY = date(2026, 3, 10)  # a Tuesday


def first_past(text: str, published: date) -> date:
    return next(d.when for d in find_dates(text, published) if not d.future)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("agents detained him on Monday", date(2026, 3, 9)),
        ("the arrest on Tuesday", TUESDAY),  # the same weekday as publication: that day
        ("last Tuesday", date(2026, 3, 3)),
        ("yesterday", date(2026, 3, 9)),
        ("last week", date(2026, 3, 3)),
        ("three days ago", date(2026, 3, 7)),
        ("on March 2", date(2026, 3, 2)),
        ("on Dec. 30", date(2025, 12, 30)),  # no year, after publication: last year's
        ("el martes", TUESDAY),
        ("el pasado lunes", date(2026, 3, 9)),
        ("el lunes pasado", date(2026, 3, 9)),
        ("la semana pasada", date(2026, 3, 3)),
        ("hace dos días", date(2026, 3, 8)),
        ("el 4 de marzo", date(2026, 3, 4)),
        ("ayer", date(2026, 3, 9)),
    ],
)
def test_dates_resolve_against_the_publication_date(text: str, expected: date) -> None:
    assert first_past(text, TUESDAY) == expected


def test_future_dates_are_not_the_event() -> None:
    found = find_dates("He will be arraigned on Friday. Agents arrested him on Monday.", TUESDAY)
    assert [(d.when, d.future) for d in found] == [
        (date(2026, 3, 6), True),
        (date(2026, 3, 9), False),
    ]
    assert find_dates("el próximo jueves", TUESDAY)[0].future


ARREST = (
    "PATERSON, N.J. — Immigration agents arrested Julio Ramírez, 34, in a hallway of the "
    "Passaic County Courthouse on Monday after his hearing, his lawyer said. A court officer "
    "had tipped off ICE about the hearing, according to the public defender. Mr. Ramírez was "
    "transferred to a jail in Elizabeth. Judge Ana Whitmore called the arrest unacceptable."
)


def test_courthouse_record_fields_carry_their_source_sentences() -> None:
    record = extract_record("courthouse_arrest", "Man arrested at courthouse", ARREST, TUESDAY)
    assert record.development == "arrest"
    assert record.event_date == date(2026, 3, 9)
    assert record.value("court") == "Passaic County Courthouse"
    assert record.value("court_kind") == "criminal"
    assert record.value("city") == "Paterson" and record.value("state") == "New Jersey"
    assert record.value("agency") == "ICE"
    assert record.value("circumstance") == "after a hearing; in a hallway"
    assert record.value("tipped_by") == "tip-off by court officer"
    assert record.value("outcome") == "transferred"
    date_field = record.fields["event_date"]
    assert ARREST[date_field.start : date_field.end] == "on Monday"
    assert "hallway" in date_field.quote


def test_detained_names_are_redacted_and_officials_keep_theirs() -> None:
    record = extract_record("courthouse_arrest", "Julio Ramírez detained", ARREST, TUESDAY)
    text = " ".join(f.quote for f in record.fields.values()) + record.summary
    assert "Ramírez" not in text and "Julio" not in text
    assert record.summary == "A man detained"
    assert "Judge Ana Whitmore" in record.officials
    names = detained_names("Agents detained María López, 29, outside. She cried.", [])
    assert names == {"María López": "a woman"}
    assert redact("Ms. López was freed.", names) == "the woman was freed."


def test_redaction_can_be_turned_off() -> None:
    record = extract_record("courthouse_arrest", "", ARREST, TUESDAY, redact_names=False)
    assert "Ramírez" in record.fields["event_date"].quote


def test_spanish_record() -> None:
    text = (
        "Agentes de ICE detuvieron el martes a tres personas en la corte de inmigración en "
        "Houston, Texas, tras sus audiencias."
    )
    record = extract_record("courthouse_arrest", "Detienen a tres", text, date(2026, 3, 12))
    assert record.event_date == TUESDAY
    assert record.value("court") == "Houston Immigration Court"
    assert record.value("court_kind") == "immigration"
    assert record.value("state") == "Texas" and record.value("detained") == "3"


def test_sanctuary_action_kinds() -> None:
    def action(title: str) -> str:
        return extract_record("sanctuary_dispute", title, "The city said.", TUESDAY).development

    assert action("Justice Department sues Denver over sanctuary law") == "lawsuit_filed"
    assert action("Judge blocks state law punishing sanctuary cities") == "law_blocked"
    assert action("City appeals ruling on detainers") == "appeal"
    assert action("Sheriff ends 287(g) agreement with ICE") == "287g_ended"
    assert action("Governor signs bill banning sanctuary policies") == "law_signed"


def state_of(*records: object) -> IncidentState:
    state = IncidentState(id=7, kind="courthouse_arrest", first_date=None, last_date=None)
    for record in records:
        state.add(record)  # type: ignore[arg-type]
    return state


def test_same_arrest_from_another_outlet_joins_and_a_later_arrest_does_not() -> None:
    first = extract_record("courthouse_arrest", "Man arrested", ARREST, TUESDAY)
    again = extract_record(
        "courthouse_arrest",
        "ICE arrest at Passaic County Courthouse",
        "Julio Ramírez was arrested by ICE at the Passaic County Courthouse in Paterson on "
        "Monday, after a court officer tipped off agents.",
        date(2026, 3, 11),
    )
    assert decide(again, [state_of(first)]).incident_id == 7
    later = extract_record(
        "courthouse_arrest",
        "Another arrest at Passaic County Courthouse",
        "ICE agents arrested a woman at the Passaic County Courthouse in Paterson on Monday.",
        date(2026, 4, 21),
    )
    decision = decide(later, [state_of(first)])
    assert decision.incident_id is None
    assert decide(later, [state_of(first)], LinkSettings(same_event_days=60)).incident_id == 7


def test_different_states_never_join() -> None:
    first = extract_record("courthouse_arrest", "Man arrested", ARREST, TUESDAY)
    other = extract_record(
        "courthouse_arrest",
        "Man arrested at Passaic County Courthouse",
        "HOUSTON — Julio Ramírez was arrested by ICE at the Passaic County Courthouse on Monday.",
        TUESDAY,
    )
    assert other.value("state") == "Texas"
    assert decide(other, [state_of(first)]).reasons == ("no incident close enough",)


def test_a_passive_tip_off_names_who_tipped() -> None:
    text = (
        "On March 2, ICE was notified by the NYPD about the arrest of Luis Ortega at the "
        "Queens Criminal Court, records show."
    )
    record = extract_record("courthouse_arrest", "", text, date(2026, 3, 20))
    assert record.value("tipped_by") == "tip-off by NYPD"
    assert record.event_date == date(2026, 3, 2)
    assert "Ortega" not in record.fields["tipped_by"].quote


def test_a_name_given_only_with_an_honorific_nearby_is_redacted_everywhere() -> None:
    text = (
        "Agents were waiting in the hallway when Kwabena Mensah, 41, walked out of court. "
        "Mr. Mensah was taken to a jail in New Jersey, his family said."
    )
    names = detained_names(text, [])
    assert redact(text, names) == (
        "Agents were waiting in the hallway when a man, 41, walked out of court. "
        "the man was taken to a jail in New Jersey, his family said."
    )
