"""Date expressions in English and Spanish news text, resolved against the publication date.

News writes relative dates: "on Tuesday" (the latest Tuesday on or before publication), "last
Tuesday" / "el pasado martes" (strictly before), "yesterday" / "ayer", "last week" / "la semana
pasada" (a week back: the week is not more precise), "two days ago" / "hace dos días", and
absolute dates ("March 3", "Jan. 5, 2026", "3 de marzo"). A date without a year takes the latest
year that does not put it after publication. Future expressions ("next Tuesday", "will … on
Friday", "el próximo lunes") are recognised so they are not taken for the event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

WEEKDAYS = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
    "lunes": 0,
    "martes": 1,
    "miércoles": 2,
    "miercoles": 2,
    "jueves": 3,
    "viernes": 4,
    "sábado": 5,
    "sabado": 5,
    "domingo": 6,
}
MONTHS = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
    "enero": 1,
    "febrero": 2,
    "marzo": 3,
    "abril": 4,
    "mayo": 5,
    "junio": 6,
    "julio": 7,
    "agosto": 8,
    "septiembre": 9,
    "setiembre": 9,
    "octubre": 10,
    "noviembre": 11,
    "diciembre": 12,
}
NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a": 1,
    "un": 1,
    "una": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
}
_WD = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_MON = "|".join(sorted(MONTHS, key=len, reverse=True))
_NUM = r"\d{1,2}|" + "|".join(sorted(NUMBERS, key=len, reverse=True))
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("md", re.compile(rf"\b({_MON})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I)),
    (
        "dm",
        re.compile(rf"\b(\d{{1,2}})\s+de\s+({_MON})(?:\s+(?:de|del)\s+(\d{{4}}))?\b", re.I),
    ),
    ("next_wd", re.compile(rf"\b(?:next|this coming|el próximo|el proximo)\s+({_WD})\b", re.I)),
    ("next_wd", re.compile(rf"\b(?:el\s+)?({_WD})\s+(?:próximo|proximo|que viene)\b", re.I)),
    (
        "last_wd",
        re.compile(rf"\b(?:last|this past|el pasado|el último|el ultimo)\s+({_WD})\b", re.I),
    ),
    ("last_wd", re.compile(rf"\b(?:el\s+)?({_WD})\s+pasado\b", re.I)),
    ("wd", re.compile(rf"\b(?:on\s+|el\s+|este\s+)?({_WD})\b", re.I)),
    ("ago", re.compile(rf"\b({_NUM})\s+(day|days|week|weeks)\s+(?:ago|earlier)\b", re.I)),
    ("ago", re.compile(rf"\bhace\s+({_NUM})\s+(día|días|dia|dias|semana|semanas)\b", re.I)),
    ("last_week", re.compile(r"\b(?:last week|la semana pasada|la pasada semana)\b", re.I)),
    ("yesterday", re.compile(r"\b(?:yesterday|ayer|last night|anoche)\b", re.I)),
    (
        "today",
        re.compile(r"\b(?:today|this morning|this afternoon|tonight|hoy|esta mañana)\b", re.I),
    ),
]
# Words just before a date that make it the future (a scheduled hearing, not the event).
_FUTURE = re.compile(
    r"\b(?:will|would|is scheduled|are scheduled|scheduled|set|expected|due|plans?|next|"
    r"until|by|before|deadline|next hearing|hearing is|to be|comparecerá|será|está prevista|"
    r"hasta|antes del?)\b[^.;]{0,40}$",
    re.I,
)


@dataclass(frozen=True)
class DateMention:
    """A resolved date expression: the date, where it is, and whether it is in the future."""

    when: date
    start: int
    end: int
    text: str
    future: bool
    relative: bool


def _number(text: str) -> int:
    low = text.lower()
    return int(low) if low.isdigit() else NUMBERS.get(low, 1)


def _on_or_before(published: date, weekday: int, *, strictly: bool) -> date:
    back = (published.weekday() - weekday) % 7
    if strictly and back == 0:
        back = 7
    return published - timedelta(days=back)


def _absolute(published: date, month: int, day: int, year: str | None) -> date | None:
    try:
        if year:
            return date(int(year), month, day)
        found = date(published.year, month, day)
    except ValueError:
        return None
    # A date without a year more than a few days after publication is last year's.
    if found > published + timedelta(days=3):
        try:
            found = date(published.year - 1, month, day)
        except ValueError:
            return None
    return found


def _resolve(kind: str, m: re.Match[str], published: date) -> tuple[date | None, bool]:
    """(date, future) for one pattern match."""
    if kind == "md":
        return _absolute(published, MONTHS[m.group(1).lower()], int(m.group(2)), m.group(3)), False
    if kind == "dm":
        return _absolute(published, MONTHS[m.group(2).lower()], int(m.group(1)), m.group(3)), False
    if kind == "next_wd":
        ahead = (WEEKDAYS[m.group(1).lower()] - published.weekday()) % 7 or 7
        return published + timedelta(days=ahead), True
    if kind == "last_wd":
        return _on_or_before(published, WEEKDAYS[m.group(1).lower()], strictly=True), False
    if kind == "wd":
        return _on_or_before(published, WEEKDAYS[m.group(1).lower()], strictly=False), False
    if kind == "ago":
        n = _number(m.group(1))
        unit = m.group(2).lower()
        days = n * 7 if unit.startswith(("week", "semana")) else n
        return published - timedelta(days=days), False
    if kind == "last_week":
        return published - timedelta(days=7), False
    if kind == "yesterday":
        return published - timedelta(days=1), False
    return published, False


def find_dates(text: str, published: date) -> list[DateMention]:
    """Every date expression in `text`, in reading order, resolved against `published`."""
    taken: list[tuple[int, int]] = []
    found: list[DateMention] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            if kind == "md" and m.group(1).lower() == "may" and not m.group(0)[0].isupper():
                continue  # the verb "may 3" is rare, but "may" lower-case is a verb
            if kind == "md" and m.group(1) in ("mar", "jun", "dec", "sep"):
                continue  # "mar" and "dec" in lower case are words, not months
            when, future = _resolve(kind, m, published)
            if when is None:
                continue
            before = text[max(0, m.start() - 60) : m.start()]
            future = future or bool(_FUTURE.search(before)) or when > published
            taken.append((m.start(), m.end()))
            relative = kind not in ("md", "dm")
            found.append(DateMention(when, m.start(), m.end(), m.group(0), future, relative))
    found.sort(key=lambda d: d.start)
    return found
