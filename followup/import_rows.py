"""Checking one row of an import file: typed values, or problems naming the column."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from followup.import_file import PERSONAL, Problem, shown
from followup.import_values import (
    A_START,
    CHILD_NAME_PROBLEMS,
    WEEKDAY_HINT,
    birth_year_parser,
    name_problem,
    parse_flag,
    parse_time,
    parse_weekday,
    start_date_parser,
)
from followup.said import Said, said
from scheduler.i18n import N_
from scheduler.programme import Programme
from store.models import Cadence, Channel, StaffRole, WaitStatus
from store.models import Programme as ProgrammeRow
from store.validation import (
    InvalidValue,
    check_child_name,
    contains_cpr,
    has_control,
    normalise_email,
    normalise_phone,
)

T = TypeVar("T")

_REQUIRED = object()

ROLES = {r.value: r for r in StaffRole}
RELATIONS = {"parent": "parent", "institution": "institution"}
CONTACT_CHANNELS = {"sms": Channel.SMS, "email": Channel.EMAIL}
CADENCES = {c.value: c for c in Cadence}
# A waiting list status, also as Danish staff write it.
STATUSES = {
    **{s.value: s for s in WaitStatus},
    "approved": WaitStatus.WAITING,
    "ansøgt": WaitStatus.APPLIED,
    "godkendt": WaitStatus.WAITING,
    "venter": WaitStatus.WAITING,
    "matchet": WaitStatus.MATCHED,
    "pause": WaitStatus.PAUSED,
    "stoppet": WaitStatus.LEFT,
}


# -- checking one row ------------------------------------------------------------------------------


class Row:
    """One data row: typed values go into ``values``; problems into the shared list."""

    def __init__(
        self, file: str, line: int, cells: dict[str, str], problems: list[Problem]
    ) -> None:
        self.file = file
        self.line = line
        self.cells = cells
        self.problems = problems
        self.values: dict[str, Any] = {}
        self.failed: set[str] = set()
        for column, cell in cells.items():
            if contains_cpr(cell):
                self.fail(
                    column, said("looks like a CPR number; CPR numbers must never be imported")
                )
            elif has_control(cell.replace("\r", "")):
                message = N_("contains a control character (such as NUL or ESC); remove it")
                self.fail(column, said(message))

    @property
    def ok(self) -> bool:
        return not self.failed

    def has(self, column: str) -> bool:
        return column in self.cells and column not in self.failed

    def cell(self, column: str) -> str:
        return self.cells.get(column, "")

    def fail(self, column: str | None, message: Said) -> None:
        self.problems.append(Problem(self.file, self.line, column, message))
        self.failed.add(column or "")

    # Each reader sets ``values[attribute]`` when the column is present and its value is good.

    def text(self, column: str, *, required: bool = True, limit: int = 120) -> None:
        if not self.has(column):
            return
        value = " ".join(self.cell(column).split())
        if required and not value:
            self.fail(column, said("must not be empty"))
        elif len(value) > limit:
            self.fail(column, said("too long (at most %(limit)d characters)", limit=limit))
        else:
            self.values[column] = value

    def ref(self, column: str = "ref", what: Said | None = None) -> str | None:
        value = self.cell(column)
        if column in self.failed:
            return None
        if not value:
            what = what or said("the organisation's own id of the record")
            self.fail(column, said("must not be empty (%(what)s)", what=what))
        elif len(value) > 64 or "|" in value:
            message = N_("%(value)s is not a usable ref (at most 64 characters, no |)")
            self.fail(column, said(message, value=shown(value)))
        else:
            return value
        return None

    def phone(self, column: str = "phone") -> None:
        if not self.has(column):
            return
        if not self.cell(column):
            self.values[column] = None
            return
        try:
            self.values[column] = normalise_phone(self.cell(column))
        except InvalidValue:
            message = N_("not a valid phone number (check the digits and the country code)")
            self.fail(column, said(message))

    def email(self, column: str = "email", *, required: bool = False) -> None:
        if not self.has(column):
            return
        if not self.cell(column):
            if required:
                self.fail(column, said("must not be empty"))
            else:
                self.values[column] = None
            return
        try:
            self.values[column] = normalise_email(self.cell(column))
        except InvalidValue:
            message = N_("not a valid email address (check for typos and a single @)")
            self.fail(column, said(message))

    def choice(self, column: str, options: Mapping[str, T], *, empty: Any = _REQUIRED) -> None:
        """One of ``options`` (not case-sensitive); an empty cell gives ``empty``."""
        if not self.has(column):
            return
        key = self.cell(column).casefold()
        if not key and empty is _REQUIRED:
            self.fail(
                column, said("must not be empty (one of %(options)s)", options=", ".join(options))
            )
        elif not key:
            self.values[column] = empty
        elif key in options:
            self.values[column] = options[key]
        else:
            message = said(
                "%(value)s is not one of %(options)s",
                value=shown(self.cell(column)),
                options=", ".join(options),
            )
            self.fail(column, message)

    def parse(
        self, column: str, parser: Callable[[str], T], expected: Said, attribute: str | None = None
    ) -> None:
        """``parser`` raises ValueError or KeyError for a bad value."""
        if not self.has(column):
            return
        try:
            self.values[attribute or column] = parser(self.cell(column))
        except (ValueError, KeyError):
            if not self.cell(column):
                self.fail(column, said("must not be empty (%(what)s)", what=expected))
            elif column in PERSONAL:
                self.fail(column, said("not %(what)s", what=expected))
            else:
                value = shown(self.cell(column))
                self.fail(column, said("%(value)s is not %(what)s", value=value, what=expected))


def programme_of(
    row: Row,
    programmes: Mapping[str, Programme],
    programme_rows: Mapping[str, ProgrammeRow],
    *,
    required: bool = True,
) -> None:
    """The ``programme`` column's programme row, into ``row.values["programme"]``."""
    if not row.has("programme"):
        return
    slug = row.cell("programme").casefold()
    if not slug and not required:
        row.values["programme"] = None
    elif slug in programmes and slug in programme_rows:
        row.values["programme"] = programme_rows[slug]
    else:
        known = ", ".join(sorted(programmes)) or "–"
        message = said(
            "no programme %(value)s (the programmes are %(known)s)",
            value=shown(row.cell("programme")),
            known=known,
        )
        row.fail("programme", message)


# -- a match row ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchLookups:
    """What a match row's refs and programme id are looked up in."""

    programmes: Mapping[str, Programme]
    programme_rows: Mapping[str, ProgrammeRow]
    families: Mapping[str, Any]
    staff: Mapping[str, Any]
    contacts: Mapping[str, Any]
    today: date


def check_match_row(row: Row, found: MatchLookups) -> None:
    """Read a matches file's row into ``row.values`` (the programme row, the child's name and
    birth year, the family, staff member and contacts, the dates and the visit rhythm)."""
    _programme(row, found)
    if row.has("child_name"):
        try:
            row.values["first_name"] = check_child_name(row.cell("child_name"))
        except InvalidValue as exc:
            row.fail("child_name", name_problem(exc, CHILD_NAME_PROBLEMS))
    year = found.today.year
    row.parse(
        "child_birth_year",
        birth_year_parser(found.today),
        said("a birth year between %(first)d and %(last)d", first=year - 30, last=year),
        attribute="birth_year",
    )
    lookup(row, "family_ref", found.families, FAMILY_REFS, "volunteer_family")
    lookup(row, "staff_ref", found.staff, STAFF_REFS, "staff")
    _contacts(row, found.contacts)
    row.text("region", required=False, limit=64)
    row.text("municipality", required=False, limit=64)
    row.parse("start_date", start_date_parser(found.today), A_START)
    row.parse("visit_weekday", parse_weekday, said(WEEKDAY_HINT))
    row.parse("visit_time", parse_time, said("a time of day such as 16:30 (HH:MM)"))
    row.choice("cadence", CADENCES, empty=None)
    row.parse("sibling", parse_flag, said("yes or no"))


def _programme(row: Row, found: MatchLookups) -> None:
    programme_of(row, found.programmes, found.programme_rows)


def _contacts(row: Row, contacts: Mapping[str, Any]) -> None:
    if not row.has("contact_refs"):
        return
    wanted = split_refs(row.cell("contact_refs"))
    missing = [ref for ref in wanted if ref not in contacts]
    if not wanted:
        message = said("give at least one contact ref (several: separate with |)")
        row.fail("contact_refs", message)
    elif missing:
        refs = tuple(shown(m) for m in missing)
        message = said(CONTACT_REFS.unknown, ref=refs)
        row.fail("contact_refs", message)
    else:
        row.values["contacts"] = [contacts[ref] for ref in wanted]


@dataclass(frozen=True)
class RefTexts:
    """What a problem with one kind of ref column says."""

    empty: str  # what the column holds
    unknown: str  # no record with the ref: %(ref)s


FAMILY_REFS = RefTexts(
    N_("the ref of the volunteer family"),
    N_("no volunteer family with ref %(ref)s (import families first)"),
)
STAFF_REFS = RefTexts(
    N_("the ref of the staff member"), N_("no staff member with ref %(ref)s (import staff first)")
)
CONTACT_REFS = RefTexts(
    N_("the ref of the contact person"),
    N_("no contact person with ref %(ref)s (import contacts first)"),
)
REFERRAL_REFS = RefTexts(
    N_("the ref of the referral"), N_("no referral with ref %(ref)s (import referrals first)")
)


def lookup(
    row: Row, column: str, found: Mapping[str, Any], texts: RefTexts, attribute: str
) -> None:
    """The record a ref column names, into ``row.values[attribute]``."""
    if not row.has(column):
        return
    ref = row.ref(column, said(texts.empty))
    if ref is None:
        return
    if ref not in found:
        row.fail(column, said(texts.unknown, ref=shown(ref)))
    else:
        row.values[attribute] = found[ref]


def split_refs(value: str) -> list[str]:
    refs: list[str] = []
    for part in value.split("|"):
        ref = part.strip()
        if ref and ref not in refs:
            refs.append(ref)
    return refs
