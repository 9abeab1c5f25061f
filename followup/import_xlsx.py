"""An Excel workbook (``.xlsx``, ``.xls``, ``.ods``) as the CSV the importer reads: the first
sheet, read with python-calamine, one CSV line per sheet row, so line numbers in the report are
the rows Excel shows. Dates become ``YYYY-MM-DD``, times ``HH:MM``, whole numbers lose ``.0``.

A workbook is small on disk and can be huge once read: a sheet with one cell in A1 and one in
ZZ30000 is 21 million cells. Before calamine fills a sheet in, an ``.xlsx`` sheet's declared
dimension and the cells it names are measured (reading at most :data:`MAX_SHEET_XML` of its
XML); a sheet of more than :data:`MAX_CELLS` cells, or a CSV over :data:`MAX_FILE`, is refused
with a problem, as a CSV that size is.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime, time, timedelta

from python_calamine import CalamineWorkbook

from followup.import_file import ImportFailed, Problem
from followup.said import said

EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")
MAX_FILE = 1024 * 1024  # 1 MB of CSV: some 10,000 rows
MAX_CELLS = MAX_FILE  # every cell is at least a comma in the CSV
MAX_SHEET_XML = 64 * MAX_FILE  # a sheet's XML, uncompressed, read at most this far
# A cell's (or a dimension's) reference, e.g. r="AB12" or ref="A1:XFD1048576".
_REF = re.compile(
    rb"<(?:\w+:)?(?:c|dimension)\b[^>]*?\br(?:ef)?="
    rb'"([A-Z]{1,3})([0-9]{1,7})(?::([A-Z]{1,3})([0-9]{1,7}))?"'
)


def is_workbook(filename: str, data: bytes) -> bool:
    """By name, or by content: a zip (xlsx, ods) or an OLE file (xls) is not CSV text."""
    lowered = filename.lower()
    if lowered.endswith(EXTENSIONS):
        return True
    return data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0"))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, timedelta):  # a time of day stored as a duration
        minutes = int(value.total_seconds() // 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    return str(value)


def _column(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _xlsx_cells(data: bytes) -> int:
    """The most cells any worksheet of an ``.xlsx`` says it spans (its dimension, or its last
    cell's row times its widest column); 0 when it is not a zip calamine would read as xlsx."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        return 0
    largest = 0
    with archive:
        for info in archive.infolist():
            if not re.fullmatch(r"xl/worksheets/[^/]+\.xml", info.filename):
                continue
            rows = columns = 0
            read = 0
            tail = b""
            try:
                with archive.open(info) as sheet:
                    while read <= MAX_SHEET_XML and (piece := sheet.read(1 << 16)):
                        read += len(piece)
                        text = tail + piece
                        for found in _REF.finditer(text):
                            col, row, end_col, end_row = found.groups()
                            rows = max(rows, int(end_row or row))
                            columns = max(columns, _column(end_col or col))
                        tail = text[-200:]
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError):
                return 0  # calamine says what is wrong with it
            if read > MAX_SHEET_XML:
                return MAX_CELLS + 1
            largest = max(largest, rows * columns)
    return largest


def _too_big(file: str) -> ImportFailed:
    message = said(
        "the sheet is too large to import (at most %(cells)d cells and 1 MB as CSV); "
        "delete the empty rows and columns after the table, or split it into several files",
        cells=MAX_CELLS,
    )
    return ImportFailed(file, [Problem(file, None, None, message)])


def workbook_as_csv(data: bytes, file: str) -> bytes:
    """The first sheet of the workbook as UTF-8 CSV; :class:`ImportFailed` when it cannot be
    read, or when it is larger than a CSV may be."""
    if _xlsx_cells(data) > MAX_CELLS:
        raise _too_big(file)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = workbook.get_sheet_by_index(0)
        if sheet.height * sheet.width > MAX_CELLS:
            raise _too_big(file)
        rows = sheet.to_python(skip_empty_area=False)
    except ImportFailed:
        raise
    except Exception as exc:  # calamine raises its own errors and others for a bad file
        message = said("not a spreadsheet that can be read (%(error)s)", error=type(exc).__name__)
        raise ImportFailed(file, [Problem(file, None, None, message)]) from exc
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        if out.tell() > MAX_FILE:
            raise _too_big(file)
        writer.writerow([_cell(value) for value in row])
    converted = out.getvalue().encode("utf-8")
    if len(converted) > MAX_FILE:
        raise _too_big(file)
    return converted
