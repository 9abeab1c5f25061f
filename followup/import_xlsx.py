"""An Excel workbook (``.xlsx``, ``.xls``, ``.ods``) as the CSV the importer reads: the first
sheet, read with python-calamine, one CSV line per sheet row, so line numbers in the report are
the rows Excel shows. Dates become ``YYYY-MM-DD``, times ``HH:MM``, whole numbers lose ``.0``.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

from python_calamine import CalamineWorkbook

from followup.import_file import ImportFailed, Problem
from followup.said import said

EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")


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


def workbook_as_csv(data: bytes, file: str) -> bytes:
    """The first sheet of the workbook as UTF-8 CSV; :class:`ImportFailed` when it cannot be
    read."""
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises its own errors and others for a bad file
        message = said("not a spreadsheet that can be read (%(error)s)", error=type(exc).__name__)
        raise ImportFailed(file, [Problem(file, None, None, message)]) from exc
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue().encode("utf-8")
