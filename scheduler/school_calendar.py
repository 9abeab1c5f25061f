"""Danish school holidays per municipality, as data: ``calendars/school-holidays.yaml``.

The file has a default list of holidays (``holidays``) and, under ``municipalities``, what a
municipality does differently: an entry there replaces the default's holiday of the same kind
whose first day falls in the same year, and the municipality keeps the default's others.

:func:`load_school_calendar` reports every problem with file, municipality, entry and field, like
the programme loader. Everything here is pure: no clock, no database.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scheduler.i18n import N_
from scheduler.yaml_problems import not_utf8, yaml_problem

CALENDAR_FILE = Path(__file__).resolve().parent.parent / "calendars" / "school-holidays.yaml"
KINDS = ("winter", "easter", "summer", "autumn", "christmas")
Kind = Literal["winter", "easter", "summer", "autumn", "christmas"]
# What each kind is called where a person reads it (translated where it is read). Danish says
# it in the definite form: "efterårsferien".
HOLIDAY_NAMES = {
    "winter": N_("winter holiday"),
    "easter": N_("Easter holiday"),
    "summer": N_("summer holiday"),
    "autumn": N_("autumn holiday"),
    "christmas": N_("Christmas holiday"),
}
# The longest holiday the file may hold (the summer holiday is about seven weeks).
MAX_DAYS = 60


class SchoolCalendarError(ValueError):
    """The school holiday file is malformed. ``problems`` lists one line per problem."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(f"{self.path}: {p}" for p in problems))


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    kind: Kind
    first: dt.date
    last: dt.date

    @model_validator(mode="after")
    def _span(self) -> _Entry:
        if self.last < self.first:
            raise ValueError("last is before first")
        if (self.last - self.first).days + 1 > MAX_DAYS:
            raise ValueError(f"a holiday of more than {MAX_DAYS} days")
        return self


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    holidays: tuple[_Entry, ...] = Field(min_length=1)
    municipalities: dict[str, tuple[_Entry, ...]] = Field(default_factory=dict)


@dataclass(frozen=True)
class SchoolHoliday:
    kind: str  # winter | easter | summer | autumn | christmas
    first: dt.date
    last: dt.date  # included

    def covers(self, day: dt.date) -> bool:
        return self.first <= day <= self.last

    @property
    def key(self) -> str:
        """Stable name of this holiday, e.g. ``autumn-2026`` (its kind and its first day's year)."""
        return f"{self.kind}-{self.first.year}"


def municipality_key(name: str) -> str:
    """``"Københavns Kommune"``, ``"københavns"`` and ``" KØBENHAVNS  kommune"`` are the same."""
    words = " ".join(name.split()).casefold()
    return re.sub(r"\s*kommune$", "", words)


@dataclass(frozen=True)
class SchoolCalendar:
    default: tuple[SchoolHoliday, ...]
    municipalities: dict[str, tuple[SchoolHoliday, ...]]  # by municipality_key
    _merged: dict[str, tuple[SchoolHoliday, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def holidays(self, municipality: str = "") -> tuple[SchoolHoliday, ...]:
        """The holidays of ``municipality`` (the default where it has no entry of its own),
        sorted; the same tuple on every call for one municipality."""
        key = municipality_key(municipality)
        if key not in self.municipalities:
            key = ""
        found = self._merged.get(key)
        if found is None:
            own = self.municipalities.get(key, ())
            replaced = {h.key for h in own}
            merged = [h for h in self.default if h.key not in replaced] + list(own)
            found = self._merged[key] = tuple(sorted(merged, key=lambda h: h.first))
        return found

    def knows(self, municipality: str) -> bool:
        return municipality_key(municipality) in self.municipalities

    def holiday_on(self, municipality: str, day: dt.date) -> SchoolHoliday | None:
        return next((h for h in self.holidays(municipality) if h.covers(day)), None)

    def next_holiday(self, municipality: str, today: dt.date) -> SchoolHoliday | None:
        """The holiday going on today, else the next one to start."""
        return next((h for h in self.holidays(municipality) if h.last >= today), None)

    def starting(self, municipality: str, first: dt.date) -> SchoolHoliday | None:
        return next((h for h in self.holidays(municipality) if h.first == first), None)


def _check_overlaps(where: str, entries: Iterable[SchoolHoliday]) -> list[str]:
    problems: list[str] = []
    ordered = sorted(entries, key=lambda h: h.first)
    keys: set[str] = set()
    for before, after in itertools.pairwise(ordered):
        if after.first <= before.last:
            problems.append(
                f"{where}: {after.kind} from {after.first.isoformat()} overlaps "
                f"{before.kind} to {before.last.isoformat()}"
            )
    for holiday in ordered:
        if holiday.key in keys:
            problems.append(
                f"{where}: two {holiday.kind} holidays starting in {holiday.first.year}"
            )
        keys.add(holiday.key)
    return problems


def _holidays(entries: Iterable[_Entry]) -> tuple[SchoolHoliday, ...]:
    return tuple(SchoolHoliday(e.kind, e.first, e.last) for e in entries)


def _describe(loc: tuple[int | str, ...]) -> str:
    items = list(loc)
    if items and items[0] == "holidays":
        where = "holidays"
        rest = items[1:]
    elif len(items) >= 2 and items[0] == "municipalities":
        where = f"municipality {items[1]!r}"
        rest = items[2:]
    else:
        return ", ".join(str(i) for i in items) or "the file"
    if rest and isinstance(rest[0], int):
        where += f", entry {rest[0] + 1}"
        rest = rest[1:]
    if rest:
        where += f", field {rest[0]!r}"
    return where


def parse_school_calendar(raw: Any, path: Path | str = "<school holidays>") -> SchoolCalendar:
    if not isinstance(raw, dict):
        raise SchoolCalendarError(path, ["expected a mapping with holidays: and municipalities:"])
    if raw.get("municipalities") is None and "municipalities" in raw:
        raw = {**raw, "municipalities": {}}
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{_describe(tuple(error['loc']))}: {message}")
        raise SchoolCalendarError(path, problems) from exc
    default = _holidays(parsed.holidays)
    problems = _check_overlaps("holidays", default)
    municipalities: dict[str, tuple[SchoolHoliday, ...]] = {}
    for name, entries in parsed.municipalities.items():
        key = municipality_key(str(name))
        if not key:
            problems.append("municipalities: a municipality needs a name")
            continue
        if key in municipalities:
            problems.append(f"municipality {name!r}: listed twice")
            continue
        own = _holidays(entries)
        problems += _check_overlaps(f"municipality {name!r}", own)
        calendar = SchoolCalendar(default, {key: own})
        problems += _check_overlaps(f"municipality {name!r}", calendar.holidays(key))
        municipalities[key] = own
    if problems:
        raise SchoolCalendarError(path, list(dict.fromkeys(problems)))
    return SchoolCalendar(default, municipalities)


def load_school_calendar(path: Path | None = None) -> SchoolCalendar:
    path = path or CALENDAR_FILE
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise SchoolCalendarError(path, [f"cannot read the file ({exc.strerror})"]) from exc
    except UnicodeDecodeError as exc:
        raise SchoolCalendarError(path, [not_utf8(exc)]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SchoolCalendarError(path, [yaml_problem(text, exc)]) from None
    return parse_school_calendar(raw, path)


@lru_cache(maxsize=1)
def shipped_calendar() -> SchoolCalendar:
    """The calendar shipped in the repository (read once per process)."""
    return load_school_calendar(CALENDAR_FILE)


def is_school_calendar(raw: Any) -> bool:
    """Whether a parsed YAML document is a school holiday file rather than a programme."""
    return isinstance(raw, dict) and "holidays" in raw and "touchpoints" not in raw
