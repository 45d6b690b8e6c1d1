"""Server-rendered inline SVG charts (no JavaScript; colours come from the CSS classes)."""

from __future__ import annotations

import math

from markupsafe import Markup, escape

from crawler.review.web.dashboards import Timeline

PALETTE_SIZE = 8
WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 36


def nice_ceiling(value: int) -> int:
    """The smallest 1/2/5×10ⁿ at or above `value` (at least 1), for the y-axis top."""
    if value <= 1:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def series_class(index: int) -> str:
    """The CSS class giving the `index`-th topic its colour."""
    return f"series-{index % PALETTE_SIZE}"


def timeline_svg(data: Timeline) -> Markup:
    """A stacked bar chart of matches per day, one colour per topic, with hover titles."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((data.total(d) for d in data.days), default=0))
    slot = plot_w / max(len(data.days), 1)
    bar = max(slot * 0.72, 1.0)
    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">',
        '<title id="chart-title">Matches per day per topic</title>',
    ]
    step = 1 if top <= 5 else top // 5
    for value in range(0, top + 1, step):
        y = TOP + plot_h - plot_h * value / top
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value}</text>'
        )
    every = max(1, math.ceil(len(data.days) / 10))
    for index, day in enumerate(data.days):
        x = LEFT + index * slot + (slot - bar) / 2
        base = float(TOP + plot_h)
        for t_index, (topic, label) in enumerate(data.topics):
            count = data.counts.get((day, topic), 0)
            if not count:
                continue
            height = plot_h * count / top
            base -= height
            tip = escape(f"{day.isoformat()} · {label}: {count}")
            parts.append(
                f'<rect class="{series_class(t_index)}" x="{x:.1f}" y="{base:.1f}" '
                f'width="{bar:.1f}" height="{height:.1f}"><title>{tip}</title></rect>'
            )
        if index % every == 0:
            parts.append(
                f'<text class="axis" x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 18}" '
                f'text-anchor="middle">{escape(day.strftime("%b %d"))}</text>'
            )
    parts.append(
        f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
        f'y1="{TOP + plot_h}" y2="{TOP + plot_h}"/></svg>'
    )
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
