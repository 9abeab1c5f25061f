"""A match's year plan to print (``venskab plan ID --pdf``): the year wheel (:mod:`web.wheel`) and
the plan's dates, in the family's language, as one HTML page that WeasyPrint turns into a PDF."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from followup.staff_views import WheelPoint
from followup.yearplan import PlanRow, fmt_date
from web.staff_render import PAGES
from web.wheel import COLOURS, wheel_svg

WORDS: dict[str, dict[str, Any]] = {
    "da": {
        "title": "Årshjul for {child} og {family}",
        "lead": "{programme} · {start} til {end}. Sådan ser året ud: det, der er sket, og det, "
        "der kommer.",
        "header": ("Dato", "Kl.", "Hvad", "Hvem", ""),
        "wheel": "Årshjulet for {child}",
        "today": "I dag",
        "week": "Uge {week} af {weeks}",
        "done": "sket",
        "missed": "blev ikke til noget",
        "upcoming": "kommer",
        "footer": "venskab · udskrevet {today}",
    },
    "en": {
        "title": "The year of {child} and {family}",
        "lead": "{programme} · {start} to {end}. What the year looks like: what has happened, and "
        "what is to come.",
        "header": ("Date", "Time", "What", "Who", ""),
        "wheel": "The year wheel of {child}",
        "today": "Today",
        "week": "Week {week} of {weeks}",
        "done": "happened",
        "missed": "did not happen",
        "upcoming": "to come",
        "footer": "venskab · printed {today}",
    },
}


@dataclass(frozen=True)
class Printed:
    child: str
    family: str
    programme: str
    start: date
    end: date
    today: date


def plan_html(
    about: Printed,
    points: Sequence[WheelPoint],
    rows: Sequence[PlanRow],
    locale: str,
) -> str:
    words = WORDS.get(locale, WORDS["da"])
    labels = {
        "title": words["wheel"].format(child=about.child),
        "today": words["today"],
        "week": words["week"],
        "done": words["done"],
        "missed": words["missed"],
        "upcoming": words["upcoming"],
    }
    wheel = wheel_svg(points, about.start, about.end, about.today, locale, labels)
    return PAGES.get_template("print/plan.html").render(
        locale=locale,
        title=words["title"].format(child=about.child, family=about.family),
        lead=words["lead"].format(
            programme=about.programme,
            start=fmt_date(about.start, locale),
            end=fmt_date(about.end, locale),
        ),
        footer=words["footer"].format(today=fmt_date(about.today, locale)),
        wheel=wheel,
        key=[(COLOURS[state], words[state]) for state in ("done", "missed", "upcoming")],
        header=words["header"],
        rows=[
            {
                "day": fmt_date(r.day, locale, "medium"),
                "time": r.time,
                "what": r.what,
                "who": r.who,
                "past": r.past,
            }
            for r in rows
        ],
    )
