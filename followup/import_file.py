"""Reading an import file: the formats of the four kinds, the table as read, its problems.

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
    column: yes/no, ja/nej), ``municipality`` (optional column: whose school holidays the
    match follows, see calendars/school-holidays.yaml; empty: its region).

Each problem names the file, the line as a spreadsheet shows it (the header is line 1), the
column, and what was expected. Phone numbers, emails and names are never repeated in messages.
A problem's words are a message id with its values (:class:`Said`), translated where they are
shown: on the import page in the page's language, on the command line in the staff member's.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from followup.said import Said, said
from scheduler.i18n import N_, Texts

MAX_PROBLEMS = 20

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
        ("ref", "name", "contact_name", "region"),
        ("phone", "email", "locale", "status", "status_since", "programme"),
        ("phone", "email"),
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
        ("visit_time", "cadence", "sibling", "referral_ref", "municipality"),
    ),
    "referrals": Format(
        ("ref", "programme", "child_name", "child_birth_year", "contact_ref", "status"),
        ("staff_ref", "region", "status_since"),
    ),
    "household": Format(
        ("family_ref", "first_name", "birth_year"),
        ("child_certificate_on", "criminal_record_on"),
    ),
}

ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
DANISH_DATE = re.compile(r"^(\d{1,2})[-.](\d{1,2})[-.](\d{4})$")
_PHONE_LIKE = re.compile(r"\d[\d\s\-().]{5,}\d")
HIDDEN = N_("a value that looks like a phone number or an email address")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file, as a spreadsheet user can find it."""

    file: str
    line: int | None
    column: str | Said | None  # a Said when the header's name looks personal
    message: Said

    def text(self, texts: Texts) -> str:
        """The problem, without where it is, in ``texts``' language."""
        return self.message.text(texts)

    def column_text(self, texts: Texts) -> str:
        return self.column.text(texts) if isinstance(self.column, Said) else self.column or ""

    def describe(self, texts: Texts) -> str:
        """The problem with the file, line and column it is in."""
        where = [self.file]
        if self.line is not None:
            where.append(texts.gettext("line %(line)d", line=self.line))
        if self.column is not None:
            where.append(texts.gettext("column %(column)s", column=self.column_text(texts)))
        return f"{', '.join(where)}: {self.text(texts)}"


class ImportFailed(ValueError):
    """The file has problems; nothing was written. ``problems`` lists all of them."""

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        self.file = file
        self.problems = list(problems)
        super().__init__(f"{file}: {len(self.problems)} problems")

    def lines(self, texts: Texts, limit: int = MAX_PROBLEMS) -> list[str]:
        count = len(self.problems)
        head = texts.ngettext(
            "%(file)s: %(num)d problem, nothing was imported",
            "%(file)s: %(num)d problems, nothing was imported",
            count,
            file=self.file,
        )
        lines = [head, *(f"  {p.describe(texts)}" for p in self.problems[:limit])]
        if count > limit:
            lines.append("  " + texts.gettext("... and %(num)d more", num=count - limit))
        return lines


# -- reading the file ------------------------------------------------------------------------------


@dataclass
class Table:
    file: str
    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (line as a spreadsheet shows it, column -> cell)
    problems: list[Problem] = field(default_factory=list)  # rows that could not be split


NOT_UTF8 = N_("the file is not UTF-8 text; in Excel, save it as 'CSV UTF-8 (comma delimited)'")
STRAY = N_("a value in column #%(n)d, which has no name in the header (a stray delimiter?)")


def read_table(data: bytes, file: str, fmt: Format) -> Table:
    """Decode, sniff the delimiter, check the header. Raises :class:`ImportFailed` when the
    file cannot be read as a table with the right columns."""
    records = _records(data, file)
    header = [cell.strip().lower() for cell in records[0]]
    positions = _positions(header, file, fmt)
    table = Table(file, list(positions), [])
    for line, record_cells in enumerate(records[1:], start=2):
        cells = [cell.strip() for cell in record_cells]
        if not any(cells):
            continue
        stray = [i for i, cell in enumerate(cells) if cell and (i >= len(header) or not header[i])]
        if stray:
            table.problems.append(Problem(file, line, None, said(STRAY, n=stray[0] + 1)))
            continue
        values = {name: cells[i] if i < len(cells) else "" for name, i in positions.items()}
        table.rows.append((line, values))
    return table


def _records(data: bytes, file: str) -> list[list[str]]:
    """The file's lines split into cells, the delimiter recognised from the header."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFailed(file, [Problem(file, line, None, said(NOT_UTF8))]) from exc
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        problem = Problem(file, 1, None, said("the first line must be the header row"))
        raise ImportFailed(file, [problem])
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ImportFailed(
            file, [Problem(file, None, None, said("not a CSV file (%(error)s)", error=exc))]
        ) from exc


def _positions(header: list[str], file: str, fmt: Format) -> dict[str, int]:
    """Each known column's position in the header; raises when the header is wrong."""
    problems: list[Problem] = []
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        if name in positions:
            problems.append(Problem(file, 1, name, said("the column appears twice")))
        elif name and name not in fmt.columns:
            expected = ", ".join(fmt.columns)
            message = said(
                "unknown column (check the spelling; the columns are %(columns)s)",
                columns=expected,
            )
            problems.append(Problem(file, 1, shown(name), message))
        elif name:
            positions[name] = index
    for name in fmt.required:
        if name not in positions:
            problems.append(Problem(file, 1, name, said("this required column is missing")))
    if fmt.any_of and not any(name in positions for name in fmt.any_of):
        columns = ", ".join(fmt.any_of)
        message = said("give at least one of the columns %(columns)s", columns=columns)
        problems.append(Problem(file, 1, None, message))
    if problems:
        raise ImportFailed(file, problems)
    return positions


def shown(value: str, limit: int = 40) -> str | Said:
    """A value to repeat in a message, shortened; never one that looks like a phone number or
    an email address (a value in the wrong column)."""
    dated = ISO_DATE.match(value) or DANISH_DATE.match(value)
    if "@" in value or (_PHONE_LIKE.search(value) and not dated):
        return Said(HIDDEN)
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")
