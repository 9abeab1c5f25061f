"""Reading one cell of an import file: dates, times, weekdays, yes and no, birth years and names."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, time

from followup.import_file import DANISH_DATE, ISO_DATE
from followup.said import Said, said
from scheduler.i18n import N_
from store.validation import InvalidValue, plausible_start

YES = {"yes", "y", "ja", "j", "true", "1", "x"}
NO = {"no", "n", "nej", "false", "0", ""}

_DAY_NAMES = (
    ("monday", "mandag"),
    ("tuesday", "tirsdag"),
    ("wednesday", "onsdag"),
    ("thursday", "torsdag"),
    ("friday", "fredag"),
    ("saturday", "lørdag"),
    ("sunday", "søndag"),
)
WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(_DAY_NAMES):
    WEEKDAYS[str(_number)] = _number
    for _name in _names:
        WEEKDAYS[_name] = _number
        WEEKDAYS[_name[:3]] = _number
    WEEKDAYS[_names[1].replace("ø", "o")] = _number  # lordag, sondag without the letter ø
    WEEKDAYS[_names[1].replace("ø", "oe")] = _number

# What is wrong with a first name (store.validation's InvalidValue.problem), as staff read it.
CHILD_NAME_PROBLEMS = {
    "empty": N_("the child's first name or pseudonym is empty"),
    "control": N_("the child's name contains a control character (such as NUL or ESC)"),
    "digits": N_("the child's name must not contain digits (never a CPR number)"),
    "words": N_("give the child's first name or a pseudonym only (at most two words)"),
}
MEMBER_NAME_PROBLEMS = {
    "empty": N_("the first name is empty"),
    "control": N_("the first name contains a control character (such as NUL or ESC)"),
    "digits": N_("the first name must not contain digits (never a CPR number)"),
    "words": N_("give the first name only (at most two words)"),
}


def name_problem(exc: InvalidValue, problems: Mapping[str, str]) -> Said:
    return said(problems.get(exc.problem, problems["words"]))


A_DATE = Said(N_("a date such as 2026-03-02 (YYYY-MM-DD)"))
A_START = Said(N_("a date such as 2026-03-02 (YYYY-MM-DD), from 2000 to two years from today"))
WEEKDAY_HINT = N_("a weekday: monday..sunday, mandag..søndag or 0-6")

_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")


def parse_date(value: str) -> date:
    if found := ISO_DATE.match(value):
        year, month, day = (int(x) for x in found.groups())
    elif found := DANISH_DATE.match(value):
        day, month, year = (int(x) for x in found.groups())
    else:
        raise ValueError(value)
    if not 2000 <= year <= 2100:
        raise ValueError(value)
    return date(year, month, day)


def start_date_parser(today: date) -> Callable[[str], date]:
    """A match's start date: not before 2000, not more than two years after today."""

    def parse(value: str) -> date:
        found = parse_date(value)
        if not plausible_start(found, today):
            raise ValueError(value)
        return found

    return parse


def parse_time(value: str) -> time | None:
    if not value:
        return None
    found = _TIME.match(value)
    if not found:
        raise ValueError(value)
    return time(int(found.group(1)), int(found.group(2)))


def parse_weekday(value: str) -> int:
    return WEEKDAYS[value.casefold().rstrip(".")]


def parse_flag(value: str) -> bool:
    key = value.casefold()
    if key in YES:
        return True
    if key in NO:
        return False
    raise ValueError(value)


def birth_year_parser(today: date) -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not re.fullmatch(r"\d{4}", value) or not today.year - 30 <= int(value) <= today.year:
            raise ValueError(value)
        return int(value)

    return parse


def member_birth_year_parser(today: date) -> Callable[[str], int]:
    """A household member's birth year: anyone alive, not in the future."""

    def parse(value: str) -> int:
        if not re.fullmatch(r"\d{4}", value) or not today.year - 110 <= int(value) <= today.year:
            raise ValueError(value)
        return int(value)

    return parse


def past_date_parser(today: date) -> Callable[[str], date | None]:
    """A certificate's date: empty (none yet), or a date not after today."""

    def parse(value: str) -> date | None:
        if not value:
            return None
        found = parse_date(value)
        if found > today:
            raise ValueError(value)
        return found

    return parse
