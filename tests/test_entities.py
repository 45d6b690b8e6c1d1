"""Entities from gazetteers and patterns: agencies, courts, places, officials."""

from __future__ import annotations

import pytest

from crawler.matching import Document, load_matcher
from crawler.matching.entities import EntityFinder, entity_finder


@pytest.fixture(scope="module")
def finder() -> EntityFinder:
    return entity_finder()


def test_agencies_are_canonical_and_case_aware(finder: EntityFinder) -> None:
    found = finder.find(
        "U.S. Immigration and Customs Enforcement and ICE’s officers, with Homeland Security "
        "Investigations and the Department of Homeland Security, met the NYPD. The price of "
        "ice and the police notice are not agencies."
    )
    assert found["agency"] == ["ICE", "HSI", "DHS", "NYPD"]


@pytest.mark.parametrize(
    ("text", "court"),
    [
        ("He was arrested outside Queens Criminal Court on Monday.", "Queens Criminal Court"),
        (
            "Agents waited at the Lindsey-Flanigan Courthouse downtown.",
            "Lindsey-Flanigan Courthouse",
        ),
        ("Arrests continue at 26 Federal Plaza in Manhattan.", "26 Federal Plaza"),
        (
            "She had a hearing at the immigration court in San Antonio.",
            "San Antonio Immigration Court",
        ),
        ("Families waited at the Phoenix immigration court.", "Phoenix Immigration Court"),
        ("The Essex County Courthouse reopened.", "Essex County Courthouse"),
        ("Lo detuvieron en la corte de inmigración de Houston.", "Houston Immigration Court"),
    ],
)
def test_courts(finder: EntityFinder, text: str, court: str) -> None:
    assert court in finder.find(text)["court"]


def test_places_from_geonames(finder: EntityFinder) -> None:
    found = finder.find(
        "Officials in Harris County, Texas, and in Chicago clashed with a sheriff in "
        "Paterson, New Jersey. Surprise was the word of the day."
    )
    places = found["place"]
    assert {"Harris County", "Texas", "Chicago", "Paterson", "New Jersey"} <= set(places)
    assert "Surprise" not in places  # a city, but the first word of a sentence
    assert "Nueva York" not in finder.find("El alcalde de Nueva York habló.")["place"]
    assert "New York" in finder.find("El alcalde de Nueva York habló.")["place"]


def test_officials_with_names_and_bare_roles(finder: EntityFinder) -> None:
    found = finder.find(
        "Mayor Bill de Blasio and Gov. Kathy Hochul spoke. Sheriff Garry McFadden’s deputies "
        "left. A judge and the district attorney declined to comment."
    )
    officials = found["official"]
    assert "Mayor Bill de Blasio" in officials
    assert "Governor Kathy Hochul" in officials
    assert "Sheriff Garry McFadden" in officials
    assert "judge" in officials and "district attorney" in officials
    assert "mayor" not in officials  # named already
    assert finder.find("said Sheriff John Smith Tuesday.")["official"] == ["Sheriff John Smith"]


def test_spanish_officials(finder: EntityFinder) -> None:
    found = finder.find("La jueza María López y el alcalde hablaron con la prensa.")
    assert "Judge María López" in found["official"] and "mayor" in found["official"]


def test_results_are_unique_and_capped(finder: EntityFinder) -> None:
    text = " ".join(f"ICE met Mayor Name{i} in Chicago." for i in range(40))
    found = finder.find(text)
    assert found["agency"] == ["ICE"] and found["place"] == ["Chicago"]
    assert len(found["official"]) == 15


def test_every_match_carries_entities() -> None:
    doc = Document(
        "ICE arrests man at Queens courthouse",
        "ICE agents arrested a man outside Queens Criminal Court after his hearing, "
        "Mayor Eric Adams said.",
    )
    (match,) = load_matcher().match(doc)
    assert match.entities == {
        "agency": ["ICE"],
        "court": ["Queens Criminal Court"],
        "place": ["Queens"],
        "official": ["Mayor Eric Adams"],
    }


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("The Denver Police Department said ICE agents came.", []),
        ("The Washington Post and the Texas Tribune reported it.", []),
        ("A University of Texas study counted the arrests.", []),
        ("Agents arrested a man in Denver on Monday.", ["Denver"]),
        ("Agents came to Phoenix, officials said.", ["Phoenix"]),
        ("The Miami Herald said police in Miami held him.", ["Miami"]),
    ],
)
def test_organisations_are_not_places(finder: EntityFinder, text: str, places: list[str]) -> None:
    assert finder.find(text)["place"] == places
