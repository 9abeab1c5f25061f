"""CSV import of staff, volunteer families, contact persons and matches.

One file per kind, imported with ``venskab import KIND FILE``. The organisation's own id of each
record (``ref``) links the files together and makes the import idempotent: a row whose ref
exists already updates that record, a new ref creates one. Import the files in this order:
staff, families, contacts, matches.

The file
    UTF-8, as Excel's "CSV UTF-8" writes it (a byte order mark is fine). The delimiter is a
    comma or a semicolon (Danish Excel), recognised from the header line. The first line is
    the header and names the columns, in any order; column names are not case-sensitive.
    Unknown columns are an error (a typo would otherwise be ignored silently), and so are
    missing required columns. Empty lines are skipped. An optional column that is left out
    keeps what a record already holds (a new record gets the default); an empty cell in a
    column that is present clears the value or sets the default.

staff
    ``ref`` (required, unique), ``name`` (required), ``role`` (procesleder, coordinator or
    admin), ``region`` (may be empty), ``email`` (required), ``phone`` (optional column),
    ``locale`` (optional column: da or en, default da).

families (volunteer families)
    ``ref``, ``name`` (how the family is known, e.g. "Familien Eksempel"), ``contact_name`` (the
    adult who is our contact), ``phone`` and ``email`` (at least one of them per row),
    ``region`` (may be empty), ``locale`` (optional column: da or en, default da).

contacts (parents, custody holders, contact persons at an institution)
    ``ref``, ``name``, ``relation`` (parent or institution), ``phone`` and ``email`` (at least
    one), ``locale`` (optional column: da or en, default da), ``preferred_channel`` (optional
    column: sms or email; the person needs that address; empty: sms when there is a phone
    number, else email).

matches
    ``ref``, ``programme`` (a programme id such as hjem-til-os, with a file in programmes/),
    ``child_name`` (first name or pseudonym, at most two words, no digits), ``child_birth_year``,
    ``family_ref``, ``contact_refs`` (one or more contact refs separated by ``|``),
    ``staff_ref``, ``region`` (may be empty: the family's region), ``start_date``
    (YYYY-MM-DD; DD-MM-YYYY and DD.MM.YYYY as Danish Excel writes them are accepted too),
    ``visit_weekday`` (monday..sunday, mandag..søndag, their first three letters, or 0-6 with
    0 = Monday), ``visit_time`` (optional column: HH:MM), ``cadence`` (optional column: weekly,
    biweekly or two_three_monthly; empty means the programme's cadence), ``sibling`` (optional
    column: yes/no, ja/nej).

Every row is validated before anything is written, and the whole file is imported in one
transaction: when any row fails, nothing is written. Each problem names the file, the line as
a spreadsheet shows it (the header is line 1), the column, and what was expected. Phone numbers,
emails and names are never repeated in messages or logs; a value that looks like a CPR number
is refused in any column.

Each created or updated record gets an audit entry (actor ``cli:import``) with the line number
and the names of the changed fields, never their values. A changed match (dates, weekday,
cadence, people) and the open matches of a person whose phone, email or preferred channel
changed get a new plan version, so that the planner re-plans them; nothing else is touched.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from scheduler.matches import sync_programmes
from scheduler.programme import Programme
from store.audit import record
from store.models import (
    Base,
    Cadence,
    Channel,
    Child,
    ContactPerson,
    Locale,
    Match,
    MatchStatus,
    Staff,
    StaffRole,
    VolunteerFamily,
)
from store.validation import (
    InvalidValue,
    check_child_name,
    contains_cpr,
    normalise_email,
    normalise_phone,
)

T = TypeVar("T")

ACTOR = "cli:import"
MAX_PROBLEMS = 20
KINDS = ("staff", "families", "contacts", "matches")

_REQUIRED = object()

# Columns whose values are personal: never repeated in a message.
PERSONAL = frozenset({"name", "contact_name", "phone", "email", "child_name", "child_birth_year"})


@dataclass(frozen=True)
class Format:
    """The columns of one kind of file."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()  # at least one of these columns must be in the header

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


FORMATS: dict[str, Format] = {
    "staff": Format(("ref", "name", "role", "region", "email"), ("phone", "locale")),
    "families": Format(
        ("ref", "name", "contact_name", "region"), ("phone", "email", "locale"), ("phone", "email")
    ),
    "contacts": Format(
        ("ref", "name", "relation"),
        ("phone", "email", "locale", "preferred_channel"),
        ("phone", "email"),
    ),
    "matches": Format(
        (
            "ref",
            "programme",
            "child_name",
            "child_birth_year",
            "family_ref",
            "contact_refs",
            "staff_ref",
            "region",
            "start_date",
            "visit_weekday",
        ),
        ("visit_time", "cadence", "sibling"),
    ),
}

ROLES = {r.value: r for r in StaffRole}
LOCALES = {loc.value: loc for loc in Locale}
RELATIONS = {"parent": "parent", "institution": "institution"}
CONTACT_CHANNELS = {"sms": Channel.SMS, "email": Channel.EMAIL}
CADENCES = {c.value: c for c in Cadence}
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

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DANISH_DATE = re.compile(r"^(\d{1,2})[-.](\d{1,2})[-.](\d{4})$")
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")
_PHONE_LIKE = re.compile(r"\d[\d\s\-().]{5,}\d")
HIDDEN = "a value that looks like a phone number or an email address"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file, as a spreadsheet user can find it."""

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


class ImportFailed(ValueError):
    """The file has problems; nothing was written. ``problems`` lists all of them."""

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        self.file = file
        self.problems = list(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self, limit: int = MAX_PROBLEMS) -> list[str]:
        count = len(self.problems)
        head = f"{self.file}: {count} problem{'s' if count != 1 else ''}, nothing was imported"
        lines = [head, *(f"  {p}" for p in self.problems[:limit])]
        if count > limit:
            lines.append(f"  ... and {count - limit} more")
        return lines


@dataclass
class ImportResult:
    file: str
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def describe(self) -> str:
        text = f"{self.file}: {self.created} created, {self.updated} updated"
        if self.unchanged:
            text += f", {self.unchanged} unchanged"
        return text


# -- reading the file ------------------------------------------------------------------------------


@dataclass
class Table:
    file: str
    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (line as a spreadsheet shows it, column -> cell)
    problems: list[Problem] = field(default_factory=list)  # rows that could not be split


NOT_UTF8 = "the file is not UTF-8 text; in Excel, save it as 'CSV UTF-8 (comma delimited)'"
STRAY = "a value in column #{n}, which has no name in the header (a stray delimiter?)"


def read_table(data: bytes, file: str, fmt: Format) -> Table:
    """Decode, sniff the delimiter, check the header. Raises :class:`ImportFailed` when the
    file cannot be read as a table with the right columns."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFailed(file, [Problem(file, line, None, NOT_UTF8)]) from exc
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise ImportFailed(file, [Problem(file, 1, None, "the first line must be the header row")])
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ImportFailed(file, [Problem(file, None, None, f"not a CSV file ({exc})")]) from exc

    problems: list[Problem] = []
    header = [cell.strip().lower() for cell in records[0]]
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        if name in positions:
            problems.append(Problem(file, 1, name, "the column appears twice"))
        elif name and name not in fmt.columns:
            expected = ", ".join(fmt.columns)
            message = f"unknown column (check the spelling; the columns are {expected})"
            problems.append(Problem(file, 1, _show(name), message))
        elif name:
            positions[name] = index
    for name in fmt.required:
        if name not in positions:
            problems.append(Problem(file, 1, name, "this required column is missing"))
    if fmt.any_of and not any(name in positions for name in fmt.any_of):
        message = f"give at least one of the columns {' and '.join(fmt.any_of)}"
        problems.append(Problem(file, 1, None, message))
    if problems:
        raise ImportFailed(file, problems)

    table = Table(file, list(positions), [])
    for line, record_cells in enumerate(records[1:], start=2):
        cells = [cell.strip() for cell in record_cells]
        if not any(cells):
            continue
        stray = [i for i, cell in enumerate(cells) if cell and (i >= len(header) or not header[i])]
        if stray:
            table.problems.append(Problem(file, line, None, STRAY.format(n=stray[0] + 1)))
            continue
        values = {name: cells[i] if i < len(cells) else "" for name, i in positions.items()}
        table.rows.append((line, values))
    return table


def _show(value: str, limit: int = 40) -> str:
    """A value to repeat in a message, shortened; never one that looks like a phone number or
    an email address (a value in the wrong column)."""
    dated = _ISO_DATE.match(value) or _DANISH_DATE.match(value)
    if "@" in value or (_PHONE_LIKE.search(value) and not dated):
        return HIDDEN
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


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
                self.fail(column, "looks like a CPR number; CPR numbers must never be imported")

    @property
    def ok(self) -> bool:
        return not self.failed

    def has(self, column: str) -> bool:
        return column in self.cells and column not in self.failed

    def cell(self, column: str) -> str:
        return self.cells.get(column, "")

    def fail(self, column: str | None, message: str) -> None:
        self.problems.append(Problem(self.file, self.line, column, message))
        self.failed.add(column or "")

    # Each reader sets ``values[attribute]`` when the column is present and its value is good.

    def text(self, column: str, *, required: bool = True, limit: int = 120) -> None:
        if not self.has(column):
            return
        value = " ".join(self.cell(column).split())
        if required and not value:
            self.fail(column, "must not be empty")
        elif len(value) > limit:
            self.fail(column, f"too long (at most {limit} characters)")
        else:
            self.values[column] = value

    def ref(
        self, column: str = "ref", what: str = "the organisation's own id of the record"
    ) -> str | None:
        value = self.cell(column)
        if column in self.failed:
            return None
        if not value:
            self.fail(column, f"must not be empty ({what})")
        elif len(value) > 64 or "|" in value:
            self.fail(column, f"{_show(value)} is not a usable ref (at most 64 characters, no |)")
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
            self.fail(column, "not a valid phone number (check the digits and the country code)")

    def email(self, column: str = "email", *, required: bool = False) -> None:
        if not self.has(column):
            return
        if not self.cell(column):
            if required:
                self.fail(column, "must not be empty")
            else:
                self.values[column] = None
            return
        try:
            self.values[column] = normalise_email(self.cell(column))
        except InvalidValue:
            self.fail(column, "not a valid email address (check for typos and a single @)")

    def choice(self, column: str, options: Mapping[str, T], *, empty: Any = _REQUIRED) -> None:
        """One of ``options`` (not case-sensitive); an empty cell gives ``empty``."""
        if not self.has(column):
            return
        key = self.cell(column).casefold()
        if not key and empty is _REQUIRED:
            self.fail(column, f"must not be empty (one of {', '.join(options)})")
        elif not key:
            self.values[column] = empty
        elif key in options:
            self.values[column] = options[key]
        else:
            self.fail(column, f"{_show(self.cell(column))} is not one of {', '.join(options)}")

    def parse(
        self, column: str, parser: Callable[[str], T], expected: str, attribute: str | None = None
    ) -> None:
        """``parser`` raises ValueError or KeyError for a bad value."""
        if not self.has(column):
            return
        try:
            self.values[attribute or column] = parser(self.cell(column))
        except (ValueError, KeyError):
            if not self.cell(column):
                self.fail(column, f"must not be empty ({expected})")
            elif column in PERSONAL:
                self.fail(column, f"not {expected}")
            else:
                self.fail(column, f"{_show(self.cell(column))} is not {expected}")


def parse_date(value: str) -> date:
    if found := _ISO_DATE.match(value):
        year, month, day = (int(x) for x in found.groups())
    elif found := _DANISH_DATE.match(value):
        day, month, year = (int(x) for x in found.groups())
    else:
        raise ValueError(value)
    if not 2000 <= year <= 2100:
        raise ValueError(value)
    return date(year, month, day)


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


def _birth_year_parser(today: date) -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not re.fullmatch(r"\d{4}", value) or not today.year - 30 <= int(value) <= today.year:
            raise ValueError(value)
        return int(value)

    return parse


# -- the import ------------------------------------------------------------------------------------


def import_csv(
    session: Session,
    kind: str,
    data: bytes,
    file: str,
    programmes: Mapping[str, Programme],
    *,
    actor: str = ACTOR,
    today: date | None = None,
) -> ImportResult:
    """Validate every row of ``data``, then create or update the records, or raise
    :class:`ImportFailed` having written nothing (the caller's transaction is rolled back)."""
    if kind not in FORMATS:
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    table = read_table(data, file, FORMATS[kind])
    importer = _Importer(session, kind, table, programmes, actor, today or date.today())
    importer.problems.extend(table.problems)
    return getattr(importer, f"import_{kind}")()


@dataclass
class _Person:
    """What a people file's row resolved to."""

    row: Row
    ref: str
    existing: Any


@dataclass
class _Importer:
    session: Session
    kind: str
    table: Table
    programmes: Mapping[str, Programme]
    actor: str
    today: date
    problems: list[Problem] = field(default_factory=list)

    @property
    def file(self) -> str:
        return self.table.file

    def rows(self) -> list[Row]:
        return [Row(self.file, line, cells, self.problems) for line, cells in self.table.rows]

    def refs(self, rows: Iterable[Row], column: str = "ref") -> dict[int, str]:
        """Each row's ref (by line), with duplicates within the file reported."""
        seen: dict[str, int] = {}
        out: dict[int, str] = {}
        for row in rows:
            ref = row.ref(column)
            if ref is None:
                continue
            if ref in seen:
                row.fail(column, f"the ref {_show(ref)} is used on line {seen[ref]} too")
                continue
            seen[ref] = row.line
            out[row.line] = ref
        return out

    def check(self) -> None:
        if self.problems:
            self.problems.sort(key=lambda p: p.line or 0)
            raise ImportFailed(self.file, self.problems)

    # -- people ------------------------------------------------------------------------------

    def _people(self, model: type[Base], read: Callable[[Row], None]) -> list[_Person]:
        rows = self.rows()
        refs = self.refs(rows)
        existing = by_ref(self.session, model, refs.values())
        people: list[_Person] = []
        for row in rows:
            read(row)
            ref = refs.get(row.line)
            if ref is not None and row.ok:
                people.append(_Person(row, ref, existing.get(ref)))
        return people

    @staticmethod
    def _effective(person: _Person, attribute: str) -> Any:
        if attribute in person.row.values:
            return person.row.values[attribute]
        return getattr(person.existing, attribute, None) if person.existing is not None else None

    def _reachable(self, people: list[_Person], preferred: bool = False) -> None:
        for person in people:
            phone, email = self._effective(person, "phone"), self._effective(person, "email")
            if not phone and not email:
                person.row.fail(
                    "phone" if person.row.has("phone") else "email",
                    "give a phone number or an email address (at least one)",
                )
                continue
            if not preferred:
                continue
            channel = person.row.values.get("preferred_channel")
            if channel is None and (person.row.has("preferred_channel") or person.existing is None):
                # Not given: SMS when there is a phone number, else email.
                person.row.values["preferred_channel"] = Channel.SMS if phone else Channel.EMAIL
            elif channel == Channel.SMS and not phone:
                person.row.fail("preferred_channel", "sms needs a phone number")
            elif channel == Channel.EMAIL and not email:
                person.row.fail("preferred_channel", "email needs an email address")

    def import_staff(self) -> ImportResult:
        def read(row: Row) -> None:
            row.text("name")
            row.choice("role", ROLES)
            row.text("region", required=False, limit=64)
            row.email(required=True)
            row.phone()
            row.choice("locale", LOCALES, empty=Locale.DA)

        people = self._people(Staff, read)
        self.check()
        return self._write_people(Staff, "staff", people)

    def import_families(self) -> ImportResult:
        def read(row: Row) -> None:
            row.text("name")
            row.text("contact_name")
            row.phone()
            row.email()
            row.text("region", required=False, limit=64)
            row.choice("locale", LOCALES, empty=Locale.DA)

        people = self._people(VolunteerFamily, read)
        self._reachable(people)
        self.check()
        return self._write_people(VolunteerFamily, "volunteer_family", people)

    def import_contacts(self) -> ImportResult:
        def read(row: Row) -> None:
            row.text("name")
            row.choice("relation", RELATIONS)
            row.phone()
            row.email()
            row.choice("locale", LOCALES, empty=Locale.DA)
            row.choice("preferred_channel", CONTACT_CHANNELS, empty=None)

        people = self._people(ContactPerson, read)
        self._reachable(people, preferred=True)
        self.check()
        return self._write_people(ContactPerson, "contact_person", people)

    def _write_people(self, model: type[Base], entity: str, people: list[_Person]) -> ImportResult:
        result = ImportResult(self.file, self.kind)
        created: list[tuple[Any, int]] = []
        for person in people:
            values = person.row.values
            if person.existing is None:
                obj = model(external_ref=person.ref, **values)
                self.session.add(obj)
                created.append((obj, person.row.line))
                continue
            obj = person.existing
            changed = assign(obj, values)
            if not changed:
                result.unchanged += 1
                continue
            if "phone" in changed and hasattr(obj, "phone_failed"):
                obj.phone_failed = False
            if "email" in changed and hasattr(obj, "email_failed"):
                obj.email_failed = False
            if changed & {"phone", "email", "preferred_channel"}:
                self._replan_people_matches(obj)
            result.updated += 1
            record(
                self.session,
                self.actor,
                "import.update",
                entity,
                obj.id,
                line=person.row.line,
                fields=sorted(changed),
            )
        self.session.flush()
        for obj, line in created:
            record(self.session, self.actor, "import.create", entity, obj.id, line=line)
        result.created = len(created)
        self.session.flush()
        return result

    def _replan_people_matches(self, obj: Any) -> None:
        """The channel of a planned message is chosen at planning: re-plan the person's open
        matches when their addresses change."""
        if isinstance(obj, VolunteerFamily):
            condition = Match.volunteer_family_id == obj.id
        elif isinstance(obj, ContactPerson):
            condition = Match.contacts.any(ContactPerson.id == obj.id)
        else:
            condition = Match.staff_id == obj.id
        for match in self.session.scalars(
            select(Match).where(condition, Match.status != MatchStatus.ENDED)
        ):
            match.plan_version = (match.plan_version or 1) + 1

    # -- matches -----------------------------------------------------------------------------

    def import_matches(self) -> ImportResult:
        programme_rows = sync_programmes(self.session, self.programmes.values())
        rows = self.rows()
        refs = self.refs(rows)
        existing = by_ref(
            self.session,
            Match,
            refs.values(),
            options=(selectinload(Match.contacts), selectinload(Match.child)),
        )
        families = by_ref(self.session, VolunteerFamily, (r.cell("family_ref") for r in rows))
        staff = by_ref(self.session, Staff, (r.cell("staff_ref") for r in rows))
        contacts = by_ref(
            self.session,
            ContactPerson,
            (ref for r in rows for ref in _split_refs(r.cell("contact_refs"))),
        )
        birth_year = _birth_year_parser(self.today)
        known = ", ".join(sorted(self.programmes)) or "none"
        plans: list[tuple[Row, str]] = []
        for row in rows:
            if row.has("programme"):
                slug = row.cell("programme").casefold()
                if slug in self.programmes and slug in programme_rows:
                    row.values["programme"] = programme_rows[slug]
                else:
                    row.fail(
                        "programme",
                        f"no programme {_show(row.cell('programme'))} (the programmes are {known})",
                    )
            if row.has("child_name"):
                try:
                    row.values["first_name"] = check_child_name(row.cell("child_name"))
                except InvalidValue as exc:
                    row.fail("child_name", str(exc))
            row.parse(
                "child_birth_year",
                birth_year,
                f"a birth year between {self.today.year - 30} and {self.today.year}",
                attribute="birth_year",
            )
            self._lookup(
                row, "family_ref", families, "volunteer family", "families", "volunteer_family"
            )
            self._lookup(row, "staff_ref", staff, "staff member", "staff", "staff")
            if row.has("contact_refs"):
                wanted = _split_refs(row.cell("contact_refs"))
                missing = [ref for ref in wanted if ref not in contacts]
                if not wanted:
                    row.fail(
                        "contact_refs", "give at least one contact ref (several: separate with |)"
                    )
                elif missing:
                    row.fail(
                        "contact_refs",
                        f"no contact person with ref "
                        f"{', '.join(_show(m) for m in missing)} (import contacts first)",
                    )
                else:
                    row.values["contacts"] = [contacts[ref] for ref in wanted]
            row.text("region", required=False, limit=64)
            row.parse("start_date", parse_date, "a date such as 2026-03-02 (YYYY-MM-DD)")
            row.parse(
                "visit_weekday", parse_weekday, "a weekday: monday..sunday, mandag..søndag or 0-6"
            )
            row.parse("visit_time", parse_time, "a time of day such as 16:30 (HH:MM)")
            row.choice("cadence", CADENCES, empty=None)
            row.parse("sibling", parse_flag, "yes or no")
            ref = refs.get(row.line)
            if ref is not None and row.ok:
                plans.append((row, ref))
        self.check()

        result = ImportResult(self.file, "matches")
        created: list[tuple[Match, int]] = []
        for row, ref in plans:
            values = dict(row.values)
            programme_row = values.pop("programme")
            child_values = {k: values.pop(k) for k in ("first_name", "birth_year")}
            if not values.get("region"):
                values["region"] = values["volunteer_family"].region
            if values.get("cadence") is None:
                values["cadence"] = Cadence(self.programmes[programme_row.slug].cadence.value)
            match = existing.get(ref)
            if match is None:
                match = Match(
                    external_ref=ref,
                    programme=programme_row,
                    child=Child(**child_values),
                    status=MatchStatus.ACTIVE,
                    **values,
                )
                self.session.add(match)
                created.append((match, row.line))
                continue
            if "cadence" not in row.cells:
                values.pop("cadence")  # the column is absent: keep what the match has
            changed = assign(match, {"programme": programme_row, **values})
            changed |= {f"child.{name}" for name in assign(match.child, child_values)}
            if not changed:
                result.unchanged += 1
                continue
            if changed - {"sibling", "child.first_name", "child.birth_year"}:
                match.plan_version = (match.plan_version or 1) + 1
            result.updated += 1
            record(
                self.session,
                self.actor,
                "import.update",
                "match",
                match.id,
                line=row.line,
                fields=sorted(changed),
            )
        self.session.flush()
        for match, line in created:
            record(
                self.session,
                self.actor,
                "import.create",
                "match",
                match.id,
                line=line,
                child=match.child_id,
            )
        result.created = len(created)
        self.session.flush()
        return result

    @staticmethod
    def _lookup(
        row: Row, column: str, found: Mapping[str, Any], what: str, file_kind: str, attribute: str
    ) -> None:
        if not row.has(column):
            return
        ref = row.ref(column, f"the ref of the {what}")
        if ref is None:
            return
        if ref not in found:
            row.fail(column, f"no {what} with ref {_show(ref)} (import {file_kind} first)")
        else:
            row.values[attribute] = found[ref]


def _split_refs(value: str) -> list[str]:
    refs: list[str] = []
    for part in value.split("|"):
        ref = part.strip()
        if ref and ref not in refs:
            refs.append(ref)
    return refs


def by_ref(
    session: Session, model: Any, refs: Iterable[str], options: Sequence[Any] = ()
) -> dict[str, Any]:
    """The records with these refs, by ref (looked up in chunks)."""
    wanted = sorted({ref for ref in refs if ref})
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = select(model).where(model.external_ref.in_(chunk)).options(*options)
        for obj in session.scalars(query):
            found[obj.external_ref] = obj
    return found


def assign(obj: Any, values: Mapping[str, Any]) -> set[str]:
    """Set the attributes that differ; return the names of those changed."""
    changed: set[str] = set()
    for name, value in values.items():
        current = getattr(obj, name)
        if isinstance(value, list):
            same = [getattr(x, "id", x) for x in current] == [getattr(x, "id", x) for x in value]
        elif isinstance(value, Base):
            same = current is value or getattr(current, "id", None) == getattr(value, "id", None)
        else:
            same = current == value
        if not same:
            setattr(obj, name, value)
            changed.add(name)
    return changed
