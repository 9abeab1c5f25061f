"""Working days in Denmark: weekends, the public holidays and the days off Danes keep (plus an
organisation's own), which staff tasks move off."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from functools import lru_cache

import holidays

# Days off besides Denmark's public holidays, as Danes keep them: Grundlovsdag, Christmas Eve and
# New Year's Eve (offices close). An organisation adds its own (e.g. 1 May) in the settings
# (VENSKAB_EXTRA_DAYS_OFF), which the composition root hands to :func:`set_days_off`.
DAYS_OFF: tuple[tuple[int, int], ...] = ((6, 5), (12, 24), (12, 31))
_days_off: frozenset[tuple[int, int]] = frozenset(DAYS_OFF)


def set_days_off(extra: tuple[tuple[int, int], ...] = ()) -> None:
    """The days off besides the public holidays: :data:`DAYS_OFF` plus ``extra`` (month, day)."""
    global _days_off
    _days_off = frozenset(DAYS_OFF) | frozenset(extra)
    _danish_holidays.cache_clear()


@lru_cache(maxsize=64)
def _danish_holidays(year: int) -> holidays.HolidayBase:
    # Only the "public" category: "optional" would add 1 May too, which is no day off for most.
    days = holidays.country_holidays("DK", years=year, categories=("public",), language="da")
    for month, day in sorted(_days_off):
        with contextlib.suppress(ValueError):  # 29 February in a year without one
            days.setdefault(date(year, month, day), _DAY_OFF_NAMES.get((month, day), "Fridag"))
    return days


_DAY_OFF_NAMES = {(6, 5): "Grundlovsdag", (12, 24): "Juleaftensdag", (12, 31): "Nytårsaftensdag"}


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _danish_holidays(day.year)


def holiday_name(day: date) -> str | None:
    name = _danish_holidays(day.year).get(day)
    return str(name) if name else None


def next_working_day(day: date) -> date:
    while not is_working_day(day):
        day += timedelta(days=1)
    return day
