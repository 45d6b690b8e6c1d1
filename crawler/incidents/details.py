"""Courthouse-arrest details: how many were detained, the circumstance, a tip-off, the outcome."""

from __future__ import annotations

import re

_I = re.I

_COUNT = re.compile(
    r"\b(?P<n>\d{1,3}|two|three|four|five|six|seven|eight|nine|ten|dozen|dos|tres|cuatro|"
    r"cinco|seis|siete|ocho|nueve|diez)\s+(?:other\s+)?(?:people|men|women|immigrants|"
    r"persons|asylum seekers|migrants|personas|hombres|mujeres|inmigrantes|migrantes)\b"
)
_SINGLE = re.compile(
    r"\b(?:arrest\w*|detain\w*|took|taken)\b[^.]{0,40}\b(?:a|an)\s+(?:\d{2}-year-old\s+)?"
    r"(?:\w+\s+)?(?:man|woman|father|mother|teenager|asylum seeker|immigrant)\b|"
    r"\b(?:un|una) (?:hombre|mujer|padre|madre|inmigrante)\b",
    _I,
)
_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_WORDS |= {"nine": 9, "ten": 10, "dozen": 12, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5}
_WORDS |= {"seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10}
CIRCUMSTANCES: list[tuple[str, re.Pattern[str]]] = [
    (
        "after a hearing",
        re.compile(
            r"\b(?:after|following|leaving|tras|después de) (?:his |her |"
            r"their |a |an |the |su )?(?:\w+ )?(?:hearing|court "
            r"appearance|audiencia|arraignment)\b",
            _I,
        ),
    ),
    ("in a hallway", re.compile(r"\b(?:hallway|corridor|pasillo|waiting area|elevator)\b", _I)),
    ("in the courtroom", re.compile(r"\b(?:in|inside) the courtroom\b|\ben la sala\b", _I)),
    (
        "outside",
        re.compile(
            r"\b(?:outside|on the (?:courthouse )?steps|parking (?:lot|garage)|"
            r"sidewalk|afuera|frente a|en las escaleras)\b",
            _I,
        ),
    ),
]
_TIP = re.compile(
    r"\b(?:tipped off|tip-off|tip off|alerted|notified|informed|called|avisó|avisaron|alertó|"
    r"alertaron|informó a)\b[^.]{0,30}\b(?:ICE|immigration|inmigración|agents|agentes)\b|"
    r"\b(?:ICE|immigration (?:agents|officers|authorities))\b (?:was|were|had been) "
    r"[“\"]?(?:tipped off|alerted|notified|informed|told)",
    _I,
)
_TIPPERS = re.compile(
    r"\b(police|NYPD|court officers?|court clerks?|clerk|probation|prosecutors?|sheriff|jail|"
    r"policía|alguacil|fiscal\w*)\b",
    _I,
)
_OUTCOMES: list[tuple[str, re.Pattern[str]]] = [
    (
        "deported",
        re.compile(
            r"\b(?:was|were|been|fue|fueron) deport(?:ed|ad[oa]s?)\b|\bdeported "
            r"to\b",
            _I,
        ),
    ),
    (
        "released",
        re.compile(
            r"\b(?:released|freed|set free|liberad[oa]s?|puest[oa] en libertad)"
            r"\b",
            _I,
        ),
    ),
    ("transferred", re.compile(r"\b(?:transferred|moved to|trasladad[oa]s?)\b", _I)),
]


def details(kind: str, text: str) -> dict[str, tuple[str, str]]:
    """Field → (value, evidence) for detained count, circumstance, tip-off and outcome."""
    out: dict[str, tuple[str, str]] = {}
    if kind != "courthouse_arrest":
        return out
    m = _COUNT.search(text)
    if m:
        n = m.group("n").lower()
        out["detained"] = (str(_WORDS.get(n, n)), m.group(0))
    else:
        single = _SINGLE.search(text)
        if single:
            out["detained"] = ("1", single.group(0))
    found = [(name, p.search(text)) for name, p in CIRCUMSTANCES]
    hits = [(name, m) for name, m in found if m]
    if hits:
        out["circumstance"] = ("; ".join(name for name, _ in hits), hits[0][1].group(0))
    tip = _TIP.search(text)
    if tip:
        window = text[max(0, tip.start() - 120) : tip.end() + 60]
        who = _TIPPERS.search(window)
        name = who.group(1) if who else ""
        name = name if name.isupper() else name.lower()  # "NYPD" stays an acronym
        value = f"tip-off by {name}" if name else "tip-off"
        out["tipped_by"] = (value, tip.group(0))
    for name, pattern in _OUTCOMES:
        hit = pattern.search(text)
        if hit:
            out["outcome"] = (name, hit.group(0))
            break
    return out
