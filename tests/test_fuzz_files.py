"""Fuzzing what staff load from files, with hypothesis: import files of every kind, as CSV and as
an Excel workbook, built from the example files with cells replaced by any value; and programme
files and the school holiday calendar as raw text through their loaders. A file is imported
whole or refused whole, with problems that read in the staff member's language; a broken YAML
file is an error naming the file, one line per problem, never a traceback."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from followup import importer
from followup.import_file import FORMATS, ImportFailed
from followup.import_xlsx import workbook_as_csv
from scheduler import i18n
from scheduler.programme import PROGRAMMES_DIR, ProgrammeError, load_programme
from scheduler.school_calendar import CALENDAR_FILE, SchoolCalendarError, load_school_calendar
from tests.support.bot_harness import snapshot
from tests.support.cast import PROGRAMMES
from tests.support.fuzz import FUZZ, hostile_text
from tests.support.xlsx import xlsx

EXAMPLES = Path(__file__).parent.parent / "examples"
# Every kind is fuzzed in every run, with a third of the profile's examples each.
EACH_KIND = settings(FUZZ, max_examples=max(3, settings().max_examples // 3))
TODAY = date(2026, 3, 1)
# Each kind's example file; the people files are imported before each example, so that the
# matches, referrals and household rows can name real refs.
EXAMPLE_OF = {kind: EXAMPLES / f"{kind}.csv" for kind in importer.KINDS}
PEOPLE = ("staff", "families", "contacts")


def example_rows(kind: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(EXAMPLE_OF[kind].read_text(encoding="utf-8-sig"))))


def import_people(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        for kind in PEOPLE:
            importer.import_csv(
                session, kind, EXAMPLE_OF[kind].read_bytes(), kind, PROGRAMMES, today=TODAY
            )


def import_whole_or_not_at_all(
    factory: sessionmaker[Session], kind: str, data: bytes, file: str, rows: int | None
) -> None:
    """Import ``data``: it is refused having written nothing, with problems that read whole
    in Danish and English, or every one of its ``rows`` (when known) is accounted for."""
    before = snapshot(factory)
    try:
        with factory.begin() as session:
            result = importer.import_csv(session, kind, data, file, PROGRAMMES, today=TODAY)
    except ImportFailed as failed:
        assert snapshot(factory) == before  # nothing half-written
        for code in ("da", "en"):
            lines = failed.lines(i18n.texts(code))
            assert lines and all(line.strip() for line in lines)
        return
    if rows is not None:
        assert result.created + result.updated + result.unchanged == rows, result


# A cell: any hostile value, or a value from another column of the examples (a date in the
# name column, a ref in the date column, ...).
cell = hostile_text | st.sampled_from(
    sorted({value for kind in EXAMPLE_OF for row in example_rows(kind)[1:] for value in row})
)


@st.composite
def files(draw: st.DrawFn, kind: str) -> list[list[str]]:
    """The example file of ``kind`` with every column of the format, some cells replaced, rows
    dropped or repeated, and sometimes a column renamed or missing."""
    header, *rows = example_rows(kind)
    columns = list(FORMATS[kind].columns)
    for column in columns:
        if column not in header:
            header.append(column)
            rows = [[*row, ""] for row in rows]
    rows = draw(st.lists(st.sampled_from(rows), min_size=1, max_size=4))
    rows = [
        [draw(cell) if draw(st.integers(0, 3)) == 0 else value for value in row] for row in rows
    ]
    if draw(st.integers(0, 5)) == 0:
        header[draw(st.integers(0, len(header) - 1))] = draw(st.text(max_size=10))
    return [header, *rows]


def as_csv(table: list[list[str]], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(table)
    return out.getvalue().encode()


@pytest.mark.parametrize("kind", importer.KINDS)
@EACH_KIND
@given(data=st.data(), delimiter=st.sampled_from([",", ";"]), bom=st.booleans())
def test_any_csv_of_any_kind_is_imported_whole_or_refused_whole(
    session_factory: sessionmaker[Session],
    kind: str,
    data: st.DataObject,
    delimiter: str,
    bom: bool,
) -> None:
    if kind not in PEOPLE and not snapshot(session_factory)["staff"]:
        import_people(session_factory)
    table = data.draw(files(kind))
    content = ("\ufeff".encode() if bom else b"") + as_csv(table, delimiter)
    rows = sum(1 for row in table[1:] if any(value.strip() for value in row))
    # Several rows may name the same record (a repeated ref): counted once, so not checked.
    refs = [row[0] for row in table[1:]]
    import_whole_or_not_at_all(
        session_factory, kind, content, f"{kind}.csv", rows if len(set(refs)) == len(refs) else None
    )


def test_a_ref_with_a_nul_is_refused_by_name_not_sent_to_the_database(
    session_factory: sessionmaker[Session],
) -> None:
    # Found by fuzzing on PostgreSQL, which refuses NUL in a query: the import failed whole.
    import_people(session_factory)
    header, row, *_ = example_rows("matches")
    cells = dict(zip(header, row, strict=True))
    cells.update(contact_refs="K-01|\x00\x07", family_ref="F\x00", referral_ref="\x00")
    data = as_csv([[*cells], [*cells.values()]])
    with pytest.raises(ImportFailed) as failed, session_factory.begin() as session:
        importer.import_csv(session, "matches", data, "matches.csv", PROGRAMMES, today=TODAY)
    lines = failed.value.lines(i18n.texts("en"))
    assert [line for line in lines if "contains a control character" in line], lines


@FUZZ
@given(kind=st.sampled_from(importer.KINDS), raw=st.binary(max_size=300))
def test_any_bytes_as_an_import_file_are_refused_whole(
    session_factory: sessionmaker[Session], kind: str, raw: bytes
) -> None:
    import_whole_or_not_at_all(session_factory, kind, raw, f"{kind}.csv", None)


workbook_cell = (
    hostile_text
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
)


@FUZZ
@given(data=st.data(), kind=st.sampled_from(importer.KINDS))
def test_any_workbook_of_any_kind_is_imported_whole_or_refused_whole(
    session_factory: sessionmaker[Session], data: st.DataObject, kind: str
) -> None:
    if kind not in PEOPLE and not snapshot(session_factory)["staff"]:
        import_people(session_factory)
    header, *rows = data.draw(files(kind))
    cells: list[list[str | int | float]] = [list(header)]
    for row in rows:
        cells.append([data.draw(workbook_cell) if v == "" else v for v in row])
    file = f"{kind}.xlsx"
    before = snapshot(session_factory)
    try:
        content = workbook_as_csv(xlsx(cells), file)  # as the import page reads an upload
    except ImportFailed:
        assert snapshot(session_factory) == before
        return
    import_whole_or_not_at_all(session_factory, kind, content, file, None)


# -- programme files and the school holiday calendar ------------------------------------------------

Loader = Callable[[Path], object]
YAML_FILES: dict[str, tuple[Loader, type[ValueError], list[str]]] = {
    "programme": (
        load_programme,
        ProgrammeError,
        sorted(p.read_text(encoding="utf-8") for p in PROGRAMMES_DIR.glob("*.yaml")),
    ),
    "school calendar": (
        load_school_calendar,
        SchoolCalendarError,
        [CALENDAR_FILE.read_text(encoding="utf-8")],
    ),
}
yaml_bits = st.sampled_from(
    [
        *(": ", "- ", "\n", "  ", "&a ", "*a", "!!python/object:os.system ", "{", "[", "'", '"'),
        *("\t", "id: x", "offset: -9999999999d", "repeat: {every: 0w}", "\x00", "\ufeff"),
        *("%YAML 9.9\n", "2026-02-30", "from: 9999-12-31"),
    ]
)


@st.composite
def yaml_texts(draw: st.DrawFn, originals: list[str]) -> bytes:
    """A real file with pieces cut out or spliced in, or any text, or any bytes."""
    text = draw(st.sampled_from(originals))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 40))
        piece = draw(yaml_bits | st.text(max_size=20))
        text = text[:at] + piece + text[at + cut :]
    return draw(st.just(text.encode()) | st.text(max_size=200).map(str.encode) | st.binary())


@pytest.mark.parametrize("which", sorted(YAML_FILES))
@FUZZ
@given(data=st.data())
def test_any_yaml_file_is_valid_or_one_clear_line_per_problem(
    tmp_path_factory: pytest.TempPathFactory, which: str, data: st.DataObject
) -> None:
    load, error_type, originals = YAML_FILES[which]
    path = tmp_path_factory.mktemp("yaml") / "fuzz.yaml"
    path.write_bytes(data.draw(yaml_texts(originals)))
    try:
        load(path)
    except error_type as error:
        assert all(line.startswith(f"{path}: ") for line in str(error).splitlines()), error


@pytest.mark.parametrize("which", sorted(YAML_FILES))
@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"id: x\n\x80\n", "byte 7: not UTF-8 text (save the file as UTF-8)"),
        (b"id: x\n\x00", "line 2, column 1: not valid YAML (unacceptable character #x0000: "),
    ],
)
def test_a_yaml_file_that_is_not_utf8_or_holds_nul_is_one_line_not_a_traceback(
    tmp_path: Path, which: str, content: bytes, says: str
) -> None:
    # Found by fuzzing: a UnicodeDecodeError's traceback, and a problem over two lines.
    load, error_type, _ = YAML_FILES[which]
    path = tmp_path / "broken.yaml"
    path.write_bytes(content)
    with pytest.raises(error_type) as raised:
        load(path)
    assert str(raised.value).startswith(f"{path}: {says}")
    assert len(str(raised.value).splitlines()) == 1
