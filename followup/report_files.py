"""A report as a file: CSV (UTF-8, comma, header row) or ``.xlsx`` (openpyxl).

The CSV is what a statistics package reads as it is: ISO dates, a dot for decimals, ``true`` and
``false``, empty for missing, and no cell that a spreadsheet would run as a formula. The ``.xlsx``
holds the same values typed (numbers, dates, booleans), text cells stored as text (a value
starting with ``=`` stays a value), and a second sheet with the report's codebook.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import IO

from followup.reports import CODEBOOK_COLUMNS, Column, Row, Value
from store.validation import csv_cell, strip_controls

FORMATS = ("csv", "xlsx")


def _csv_value(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return csv_cell(value)


def write_csv(columns: Sequence[Column], rows: Iterable[Row], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    for row in rows:
        writer.writerow([_csv_value(row.get(c.name)) for c in columns])


def csv_text(columns: Sequence[Column], rows: Sequence[Row]) -> str:
    out = io.StringIO()
    write_csv(columns, rows, out)
    return out.getvalue()


def write_xlsx(name: str, columns: Sequence[Column], rows: Iterable[Row], out: IO[bytes]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    bold = Font(bold=True)

    def sheet(title: str, columns: Sequence[Column], rows: Iterable[Row]) -> None:
        worksheet = book.create_sheet(title[:31])
        header = []
        for column in columns:
            cell = WriteOnlyCell(worksheet, value=column.name)
            cell.font = bold
            header.append(cell)
        worksheet.append(header)
        for row in rows:
            cells = []
            for column in columns:
                value = row.get(column.name)
                cell = WriteOnlyCell(worksheet, value=None)
                if isinstance(value, str):
                    cell.value = strip_controls(value)
                    cell.data_type = "s"  # text, never a formula
                elif isinstance(value, date):
                    cell.value = value
                    cell.number_format = "yyyy-mm-dd"
                else:
                    cell.value = value
                cells.append(cell)
            worksheet.append(cells)

    sheet(name, columns, rows)
    if name != "codebook":
        sheet(
            "codebook",
            CODEBOOK_COLUMNS,
            [
                {"report": name, "column": c.name, "type": c.type, "description": c.description}
                for c in columns
            ],
        )
    book.save(out)
