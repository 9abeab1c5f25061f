"""The year wheel (årshjul) as an inline SVG ring: the months of the match's year clockwise from
its start at the top, visits on the outer edge, the other touchpoints inside the ring (done,
missed, upcoming), and a hand at today's position. Pure: points in, markup out; no scripts
(each point has a ``<title>``, which browsers show on hover and screen readers read)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

from babel.dates import format_date

from followup.staff_views import WheelPoint

SIZE = 400
CENTRE = SIZE / 2
RING = 150  # the month ring's middle radius
RING_WIDTH = 34
VISITS = 182
INNER = 116
COLOURS = {"done": "#2f7d45", "missed": "#c0392b", "upcoming": "#ffffff"}
BABEL = {"da": "da_DK", "en": "en_GB"}


def _angle(day: date, start: date, end: date) -> float:
    span = max((end - start).days, 1)
    fraction = min(max((day - start).days / span, 0.0), 1.0)
    return fraction * 2 * math.pi - math.pi / 2


def _at(angle: float, radius: float) -> tuple[float, float]:
    return CENTRE + radius * math.cos(angle), CENTRE + radius * math.sin(angle)


def _arc(a0: float, a1: float, r_out: float, r_in: float) -> str:
    large = 1 if a1 - a0 > math.pi else 0
    x0, y0 = _at(a0, r_out)
    x1, y1 = _at(a1, r_out)
    x2, y2 = _at(a1, r_in)
    x3, y3 = _at(a0, r_in)
    return (
        f"M{x0:.1f},{y0:.1f} A{r_out},{r_out} 0 {large} 1 {x1:.1f},{y1:.1f} "
        f"L{x2:.1f},{y2:.1f} A{r_in},{r_in} 0 {large} 0 {x3:.1f},{y3:.1f} Z"
    )


def _months(start: date, end: date) -> list[tuple[date, date]]:
    spans = []
    cursor = start
    while cursor < end:
        nxt = (cursor.replace(day=1) + timedelta(days=32)).replace(day=1)
        spans.append((cursor, min(nxt, end)))
        cursor = nxt
    return spans


def wheel_svg(
    points: Sequence[WheelPoint],
    start: date,
    end: date,
    today: date,
    locale: str,
    labels: dict[str, str],
) -> str:
    """The SVG markup; ``labels`` names the states and today in the staff member's language."""
    babel = BABEL.get(locale, locale)
    parts = [
        f'<svg class="wheel" viewBox="0 0 {SIZE} {SIZE}" role="img" '
        f'aria-labelledby="wheel-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="wheel-title">{escape(labels["title"])}</title>',
    ]
    r_out, r_in = RING + RING_WIDTH / 2, RING - RING_WIDTH / 2
    for number, (first, last) in enumerate(_months(start, end)):
        a0, a1 = _angle(first, start, end), _angle(last, start, end)
        if a1 - a0 < 0.01:
            continue
        fill = "#dfe6f1" if number % 2 == 0 else "#c9d4e6"
        name = format_date(first, "MMM", locale=babel).rstrip(".")
        parts.append(
            f'<path d="{_arc(a0, a1, r_out, r_in)}" fill="{fill}" stroke="#fff" stroke-width="1">'
            f"<title>{escape(format_date(first, 'MMMM y', locale=babel))}</title></path>"
        )
        if a1 - a0 > 0.3:
            x, y = _at((a0 + a1) / 2, RING)
            parts.append(
                f'<text x="{x:.1f}" y="{y:.1f}" font-size="12" text-anchor="middle" '
                f'dominant-baseline="central" fill="#1b1b1b">{escape(name)}</text>'
            )
    for point in points:
        angle = _angle(point.day, start, end)
        visit = point.kind == "visit"
        x, y = _at(angle, VISITS if visit else INNER)
        fill = COLOURS.get(point.state, "#ffffff")
        stroke = "#1f4e96" if point.state == "upcoming" else fill
        radius = 3.5 if visit else 7
        when = format_date(point.day, "d. MMM y" if locale == "da" else "d MMM y", locale=babel)
        title = f"{when}: {point.what} ({labels.get(point.state, point.state)})"
        parts.append(
            f'<circle class="tp {escape(point.state)}" cx="{x:.1f}" cy="{y:.1f}" r="{radius}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="2"><title>{escape(title)}</title></circle>'
        )
    if start <= today <= end:
        angle = _angle(today, start, end)
        x0, y0 = _at(angle, 40)
        x1, y1 = _at(angle, r_out + 22)
        parts.append(
            f'<line class="today" x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
            f'stroke="#f0b429" stroke-width="4" stroke-linecap="round">'
            f"<title>{escape(labels['today'])}</title></line>"
        )
    week = max((today - start).days // 7 + 1, 0)
    weeks = max(round((end - start).days / 7), 1)
    centre = labels["week"].format(week=min(week, weeks), weeks=weeks)
    parts.append(
        f'<text x="{CENTRE}" y="{CENTRE}" font-size="16" text-anchor="middle" '
        f'dominant-baseline="central" fill="#1b1b1b">{escape(centre)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
