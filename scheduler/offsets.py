"""Durations, times of day and recurrence rules as programme files write them: ``4mo``, ``-7d``,
``1w 1d``, ``19:00``, ``FREQ=MONTHLY;BYDAY=1TU;UNTIL=20271231T230000Z``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

_T = TypeVar("_T", date, datetime)
_DURATION_PART = re.compile(r"^([+-]?\d+)\s*(min|h|d|w|mo|y)$")
_UNITS = {"min": "minutes", "h": "hours", "d": "days", "w": "weeks", "mo": "months", "y": "years"}


@dataclass(frozen=True, eq=True)
class Offset:
    """A calendar offset such as ``4mo``, ``-7d``, ``1w 1d`` or ``2h``.

    Months and years are calendar months (31 January + 1 month = 28 or 29 February), days and
    weeks are calendar days in the recipient's zone, so a weekly 19:00 stays 19:00 across DST.
    """

    text: str
    delta: relativedelta

    @classmethod
    def parse(cls, value: Any) -> Offset:
        if isinstance(value, Offset):
            return value
        if isinstance(value, int) and value == 0:
            return cls("0d", relativedelta())
        if not isinstance(value, str) or not value.strip():
            raise ValueError("expected a duration such as 0d, 2w, 4mo, 1y or -7d")
        total = relativedelta()
        for part in value.split():
            found = _DURATION_PART.match(part)
            if not found:
                raise ValueError(
                    f"{value!r} is not a duration: use a number and a unit "
                    "(min, h, d, w, mo, y), e.g. 2w or 4mo or -7d"
                )
            amount: dict[str, int] = {_UNITS[found.group(2)]: int(found.group(1))}
            total += relativedelta(**amount)  # type: ignore[arg-type]
        return cls(value.strip(), total)

    @cached_property
    def fixed(self) -> timedelta | None:
        """The same offset as a timedelta when it has no months or years (a fast path: the
        planner adds offsets hundreds of thousands of times per pass)."""
        d = self.delta
        if d.years or d.months or d.year is not None or d.month is not None or d.day is not None:
            return None
        return timedelta(days=d.days, hours=d.hours, minutes=d.minutes, seconds=d.seconds)

    def add(self, moment: _T) -> _T:
        """``moment`` (a date or a naive wall-clock datetime) plus this offset."""
        fixed = self.fixed
        if fixed is not None and (
            isinstance(moment, datetime) or not (fixed.seconds or fixed.microseconds)
        ):
            return moment + fixed
        return moment + self.delta

    def __str__(self) -> str:
        return self.text


def parse_offset(value: Any) -> Offset:
    return Offset.parse(value)


def parse_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int):  # YAML reads 19:00 as sexagesimal 1140
        return time(value // 60, value % 60)
    if isinstance(value, str) and re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()):
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    raise ValueError(f"expected a time of day as HH:MM, got {value!r}")


_UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.IGNORECASE)


def local_rule(rule: str, zone: ZoneInfo) -> str:
    """An RFC 5545 rule for a wall-clock start: an ``UNTIL`` given in UTC (``...Z``, as
    calendar programs write it) becomes the same moment on the zone's wall clock."""

    def to_local(found: re.Match[str]) -> str:
        moment = datetime.strptime(found.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        return "UNTIL=" + moment.astimezone(zone).strftime("%Y%m%dT%H%M%S")

    return _UNTIL_UTC.sub(to_local, rule)
