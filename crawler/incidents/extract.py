"""Incident records from a matched article: fields with their source spans (pure, no I/O).

An article about a courthouse arrest or a sanctuary dispute reports one development of an
incident: the arrest itself, charges, a trial, a ruling, a lawsuit filed, a law signed. The
record keeps what it says (date resolved against the publication date, court and its kind,
city, county, state, agency, how many were detained, circumstance, tip-off, outcome; for
sanctuary disputes the parties and the action kind), each field with the sentence it came
from. The title and the first paragraph decide the development: they state the news.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from crawler.incidents import rules
from crawler.incidents.dates import find_dates
from crawler.incidents.details import details
from crawler.incidents.model import FieldValue, IncidentRecord
from crawler.incidents.places import AP_STATES, BOROUGHS, SPANISH_STATES, gazetteer
from crawler.incidents.redact import detained_names, redact
from crawler.matching.entities import entity_finder

MAX_QUOTE = 300
_SENTENCE_END = re.compile(r"(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bMrs)(?<!\bSt)[.!?]\s|\n")
_SENTENCE_STOP = re.compile(r"(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bMrs)(?<!\bSt)[.!?]\s")
_DATELINE = re.compile(
    r"^\s*([A-Z][A-Z.' -]{2,30}?)(?:,\s+([A-Z][A-Za-z.]+(?:\s[A-Z][a-z.]+)?))?\s+[—–-]{1,2}\s"
)
_SAID_BEFORE = re.compile(r"\b(?:said|says|told|announced|dijo|afirmó|informó)\s+$", re.I)
_WORD = re.compile(r"\b[A-ZÁÉÍÓÚÑ][\wáéíóúñü'’-]{2,}\b|\b\d{1,3}-year-old\b|\b\d{2,3},\s")
_WASHINGTON_STATE = re.compile(
    r"Washington State|state of Washington|, Washington\b|estado de Washington"
)
_TRIBUNAL_DEL_CONDADO = re.compile(r"\b(?:tribunal|corte|juzgado) del condado de ([A-Z][\w-]+)")
_CONDADO = re.compile(r"\bcondado de ([A-Z][\w-]+(?: [A-Z][\w-]+)?)")
_ROLES = {
    "mayor": "Mayor",
    "governor": "Governor",
    "sheriff": "Sheriff",
    "alcalde": "Mayor",
    "alcaldesa": "Mayor",
    "gobernador": "Governor",
    "gobernadora": "Governor",
    "alguacil": "Sheriff",
    "juez": "Judge",
    "jueza": "Judge",
}
# "Nashville's mayor, Derek Oyelaran," / "el gobernador de Tennessee, Whitney Calder,"
_APPOSITIVE_OFFICIAL = re.compile(
    r"\b((?i:mayor|governor|sheriff|alcalde|alcaldesa|gobernador|gobernadora|alguacil|juez|"
    r"jueza))(?: de(?:l)?(?: condado de)? [A-Z][\w.]+(?: [A-Z][\w.]+)?)?,?\s+"
    r"([A-Z][\w'’-]+ [A-Z][\w'’-]+)\b"
)
_IMMIGRATION_AGENCIES = ("ICE", "ERO", "HSI", "CBP", "Border Patrol", "DHS")


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence around [start, end), cut to MAX_QUOTE characters."""
    stops = [m.end() for m in _SENTENCE_STOP.finditer(text, 0, start)]
    left = max(stops[-1] if stops else 0, text.rfind("\n", 0, start) + 1)
    m = _SENTENCE_END.search(text, end)
    right = m.start() + 1 if m else len(text)
    quote = text[left:right].strip().lstrip("—–- ")
    return quote if len(quote) <= MAX_QUOTE else quote[: MAX_QUOTE - 1] + "…"


class _Fields:
    """Collects field values with spans into the title or the text."""

    def __init__(self, title: str, text: str, names: dict[str, str]) -> None:
        self.title, self.text, self.names = title, text, names
        self.values: dict[str, FieldValue] = {}

    def locate(self, needle: str) -> tuple[str, int, int] | None:
        """Where `needle` first appears: the text, else the title."""
        for source, body in (("text", self.text), ("title", self.title)):
            at = body.find(needle)
            if at >= 0:
                return source, at, at + len(needle)
        return None

    def put(self, name: str, value: str, where: tuple[str, int, int] | None) -> None:
        if not value or name in self.values:
            return
        source, start, end = where or ("text", 0, 0)
        body = self.text if source == "text" else self.title
        quote = _sentence(body, start, end) if where else ""
        self.values[name] = FieldValue(value, source, start, end, redact(quote, self.names))

    def put_found(self, name: str, value: str, needle: str | None = None) -> None:
        self.put(name, value, self.locate(needle or value))


def _lede(text: str) -> str:
    """The first paragraph (at least 200 characters): extracted text may break paragraphs
    with one newline or two."""
    cut = text.find("\n", 200)
    return text if cut < 0 else text[:cut]


def _event_date(title: str, text: str, published: date) -> tuple[date, tuple[str, int, int]] | None:
    """The date the article's news happened: the first past date stated in its lede."""
    for source, body in (("text", _lede(text)), ("title", title), ("text", text)):
        mentions = [d for d in find_dates(body, published) if not d.future]
        if not mentions:
            continue
        sentence_end = _SENTENCE_END.search(body, mentions[0].end)
        limit = sentence_end.start() if sentence_end else len(body)
        same = [d for d in mentions if d.start <= limit]
        chosen = next(
            (d for d in same if not _SAID_BEFORE.search(body[max(0, d.start - 12) : d.start])),
            same[0],
        )
        return chosen.when, (source, chosen.start, chosen.end)
    return None


def _places(fields: _Fields, title: str, text: str, places: list[str]) -> None:
    gaz = gazetteer()
    dateline = _DATELINE.match(text)
    if dateline:
        city = dateline.group(1).strip().title()
        state = AP_STATES.get(dateline.group(2) or "")
        where = ("text", dateline.start(1), dateline.end(1))
        if city in BOROUGHS:
            county, city = BOROUGHS[city]
            fields.put("city", city or "New York City", where)
            if county:
                fields.put("county", county, where)
        elif city in gaz.cities:
            fields.put("city", city, where)
        if state:
            fields.put(
                "state", gaz.state_names[state], ("text", dateline.start(2), dateline.end(2))
            )
    lede = title + "\n" + _lede(text)
    states: list[tuple[bool, str, str]] = []  # (named in the lede, state, as written)
    for place in places:
        state_name = SPANISH_STATES.get(place, place)
        if state_name == "Washington" and not _WASHINGTON_STATE.search(text):
            continue  # "Washington" alone is the federal government more often than the state
        if state_name in gaz.state_codes and state_name != "Washington, D.C.":
            states.append((place in lede, state_name, place))
        elif place.endswith((" County", " Parish")):
            fields.put_found("county", place)
        elif place in BOROUGHS:
            county, city = BOROUGHS[place]
            needle = "Bronx" if place == "The Bronx" else place
            fields.put_found("city", city or place, needle)
            if county:
                fields.put_found("county", county, needle)
        elif place in gaz.cities and place != "Washington":
            fields.put_found("city", place)  # "Washington" alone is the government, not a city
    if "city" not in fields.values:
        # The entity finder keeps one city per name; a big city it skipped is still a city.
        hits = [(text.find(n), n) for n in gaz.big_cities if n in text and n != "Washington"]
        hits = [(at, n) for at, n in hits if at >= 0 and _whole_word(text, at, len(n))]
        if hits:
            fields.put_found("city", min(hits)[1])
    for m in _CONDADO.finditer(title + "\n" + text):
        name = f"{m.group(1)} County"
        if name in gaz.counties:
            fields.put_found("county", name, m.group(0))
    # A state named in the lede wins; then the state of the city or county; then any state.
    for in_lede, state_name, written in states:
        if in_lede:
            fields.put_found("state", state_name, written)
    city_f, county_f = fields.values.get("city"), fields.values.get("county")
    inferred = gaz.state_of(
        city=city_f.value if city_f else None, county=county_f.value if county_f else None
    )
    if inferred:
        source = city_f or county_f
        assert source is not None
        fields.put("state", inferred, (source.source, source.start, source.end))
    for _, state_name, written in states:
        fields.put_found("state", state_name, written)


def _whole_word(text: str, at: int, length: int) -> bool:
    before = text[at - 1] if at > 0 else " "
    after = text[at + length] if at + length < len(text) else " "
    return not before.isalnum() and not after.isalnum()


def _signature(text: str, exclude: set[str]) -> list[str]:
    """Hashes of case details: name-like words (capitalised mid-sentence, never written in
    lower case in the article, not in a gazetteer) and ages."""
    lower = {w.lower() for w in re.findall(r"\b[a-záéíóúñü][\wáéíóúñü'’-]+", text)}
    words: set[str] = set()
    for m in _WORD.finditer(text):
        raw = m.group(0).strip(", ")
        if raw[0].isdigit():
            word = "age:" + raw.split("-")[0]
        else:
            word = raw.lower()
            if word in exclude or word in lower or word in rules.COMMON_CAPITALS:
                continue
            if _sentence_start(text, m.start()):
                continue
        words.add(hashlib.sha1(word.encode(), usedforsecurity=False).hexdigest()[:10])
    return sorted(words)


def _sentence_start(text: str, at: int) -> bool:
    j = at - 1
    while j >= 0 and text[j] in " \t\"“‘'(":
        j -= 1
    return j < 0 or text[j] in ".!?\n—:"


@dataclass(frozen=True)
class _Common:
    """What a record states whatever its kind: one article matched for two kinds is read once."""

    found: dict[str, Any]
    officials: list[str]
    names: dict[str, str]
    event_date: date
    courts: dict[str, FieldValue]  # event_date and court: the fields before court_kind
    places: dict[str, FieldValue]  # city, county, state and agency: the fields after it
    agencies: list[str]
    signature: list[str]
    summary: str
    court: str | None


def _entities_key(entities: dict[str, list[str]] | None) -> tuple[Any, ...] | None:
    return None if entities is None else tuple((k, tuple(v)) for k, v in entities.items())


@lru_cache(maxsize=4)
def _common(
    title: str,
    text: str,
    published: date,
    entities: tuple[Any, ...] | None,
    redact_names: bool,
) -> _Common:
    found: dict[str, Any] = (
        {k: list(v) for k, v in entities} if entities is not None
        else entity_finder().find(title, text)
    )  # fmt: skip
    # A name the entity finder ran into the next sentence ("Judge Ana Ruiz. Court") is cut.
    officials = [re.split(r"\.\s", o)[0] for o in found.get("official", []) if o[:1].isupper()]
    for m in _APPOSITIVE_OFFICIAL.finditer(title + "\n" + text):
        named = f"{_ROLES[m.group(1).lower()]} {m.group(2)}"
        if named not in officials:
            officials.append(named)
    known = [v for kind in ("place", "court", "agency") for v in found.get(kind, [])]
    names = detained_names(text, officials, known) if redact_names else {}
    if redact_names:
        for name, stand_in in detained_names(title, officials, known).items():
            names.setdefault(name, stand_in)
    fields = _Fields(title, text, names)
    resolved = _event_date(title, text, published)
    event_date = resolved[0] if resolved else published
    fields.put("event_date", event_date.isoformat(), resolved[1] if resolved else None)
    courts = list(found.get("court", []))
    for m in _TRIBUNAL_DEL_CONDADO.finditer(title + "\n" + text):
        courts.append(f"{m.group(1)} County Courthouse")
    court = rules.pick_court(courts, text)
    if court:
        fields.put_found("court", court)
    before = dict(fields.values)
    fields.values = {}
    _places(fields, title, text, list(found.get("place", [])))
    agencies = list(found.get("agency", []))
    agency = next((a for a in agencies if a in _IMMIGRATION_AGENCIES), None)
    if agency is None and agencies:
        agency = agencies[0]
    if agency:
        fields.put_found("agency", agency)
    # Places, courts and agencies say where, not which case; officials' names do say which.
    exclude = {
        w.lower()
        for kind in ("place", "court", "agency")
        for v in found.get(kind, [])
        for w in v.split()
    }
    summary = redact(title, names)
    return _Common(
        found=found,
        officials=officials,
        names=names,
        event_date=event_date,
        courts=before,
        places=fields.values,
        agencies=agencies,
        signature=_signature(title + "\n" + text, exclude),
        summary=summary[:1].upper() + summary[1:],
        court=court,
    )


def extract_record(
    kind: str,
    title: str,
    text: str,
    published: date,
    *,
    entities: dict[str, list[str]] | None = None,
    redact_names: bool = True,
) -> IncidentRecord:
    """The incident record of one article for one kind (`courthouse_arrest`…)."""
    common = _common(title, text, published, _entities_key(entities), redact_names)
    fields = _Fields(title, text, common.names)
    fields.values = dict(common.courts)
    lede = title + "\n" + _lede(text)
    development = rules.classify(kind, title, _lede(text))
    court_kind = rules.court_kind(common.court, lede if kind == "courthouse_arrest" else text)
    if court_kind:
        fields.put_found("court_kind", court_kind[0], court_kind[1])
    for name, place in common.places.items():
        fields.values.setdefault(name, place)
    for name, (value, needle) in details(kind, text).items():
        fields.put_found(name, value, needle)
    if kind == "sanctuary_dispute":
        parties = rules.parties(common.agencies, common.found.get("official", []), text)
        if parties:
            fields.put("parties", ", ".join(parties), None)
        fields.put("status", rules.STATUS.get(development, "ongoing"), None)
    return IncidentRecord(
        kind=kind,
        development=development,
        event_date=common.event_date,
        fields=fields.values,
        officials=list(common.officials),
        signature=list(common.signature),
        summary=common.summary,
    )
