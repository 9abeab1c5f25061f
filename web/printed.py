"""A match's year plan to print (``venskab plan ID --pdf``): the year wheel (:mod:`web.wheel`) and
the plan's dates, in the family's language, as one HTML page that WeasyPrint turns into a PDF."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from followup.staff_views import WheelPoint
from followup.yearplan import PlanRow, fmt_date
from scheduler import i18n
from web.staff_render import PAGES
from web.wheel import COLOURS, wheel_svg


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
    t = i18n.texts(locale)
    states = {
        "done": t.pgettext("year plan", "happened"),
        "missed": t.pgettext("year plan", "did not happen"),
        "upcoming": t.pgettext("year plan", "to come"),
    }
    labels = {
        "title": t.gettext("The year wheel of %(child)s", child=about.child),
        "today": t.gettext("Today"),
        "week": t.gettext("Week %(week)s of %(weeks)s", week="{week}", weeks="{weeks}"),
        **states,
    }
    wheel = wheel_svg(points, about.start, about.end, about.today, locale, labels)
    return PAGES.get_template("print/plan.html").render(
        locale=locale,
        dir=i18n.language(locale).direction,
        title=t.gettext(
            "The year of %(child)s and %(family)s", child=about.child, family=about.family
        ),
        lead=t.gettext(
            "%(programme)s · %(start)s to %(end)s. What the year looks like: what has happened, "
            "and what is to come.",
            programme=about.programme,
            start=fmt_date(about.start, locale),
            end=fmt_date(about.end, locale),
        ),
        footer=t.gettext("venskab · printed %(today)s", today=fmt_date(about.today, locale)),
        wheel=wheel,
        key=[(COLOURS[state], states[state]) for state in ("done", "missed", "upcoming")],
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
