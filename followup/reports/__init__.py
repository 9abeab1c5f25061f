"""Reports an evaluator loads as they are: one row per thing counted, stable column names, ISO
dates, and a codebook that describes every column.

Each report is a :class:`Report` (its columns and a function that yields its rows for a
:class:`Scope`: a period and, optionally, a programme, a staff member and a region). The rows
hold plain values (``int``, ``float``, ``str``, ``date``, ``bool`` or ``None``); writing them as
CSV or ``.xlsx`` is :mod:`followup.report_files`' job. No report carries a name, a phone number
or free text: matches are named by their id and the organisation's own reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from sqlalchemy.orm import Session

from followup.reports.base import Column, Report, Row, Scope, Value
from followup.reports.matches import MATCHES, STABILITY
from followup.reports.staff_work import FOLLOWUP, INVOICES
from followup.reports.surveys import CHILD_VOICE, SURVEYS
from followup.reports.waiting import WAITING
from scheduler.i18n import N_, SOURCE_LANGUAGE, texts

REPORTS: dict[str, Report] = {
    r.name: r for r in (MATCHES, STABILITY, FOLLOWUP, SURVEYS, INVOICES, WAITING, CHILD_VOICE)
}


def described(columns: Iterable[Column], locale: str) -> tuple[Column, ...]:
    """The columns with their descriptions in language ``locale`` (the names stay: they are
    the data format)."""
    words = texts(locale)
    return tuple(replace(c, description=words.gettext(c.description)) for c in columns)


def codebook_rows(locale: str = SOURCE_LANGUAGE) -> Iterator[Row]:
    """Every column of every report: what an evaluator needs to load the files as they are,
    described in language ``locale``."""
    for report in REPORTS.values():
        for column in described(report.columns, locale):
            yield {
                "report": report.name,
                "column": column.name,
                "type": column.type,
                "description": column.description,
            }


CODEBOOK_COLUMNS = (
    Column("report", "text", N_("The report's name.")),
    Column("column", "text", N_("The column's name, as in the report's header.")),
    Column("type", "text", N_("integer, decimal (a dot), text, date (YYYY-MM-DD) or boolean.")),
    Column("description", "text", N_("What the column counts or holds.")),
)


def run(
    session: Session, name: str, scope: Scope, locale: str = SOURCE_LANGUAGE
) -> tuple[tuple[Column, ...], list[Row]]:
    """The report's columns, described in language ``locale``, and its rows (``codebook`` is
    the codebook)."""
    if name == "codebook":
        return described(CODEBOOK_COLUMNS, locale), list(codebook_rows(locale))
    report = REPORTS[name]
    return described(report.columns, locale), list(report.rows(session, scope))


def summary(columns: tuple[Column, ...], rows: list[Row]) -> dict[str, int]:
    """Totals of the counting columns, for the line printed after a report."""
    totals: dict[str, int] = {}
    for column in columns:
        if (
            column.type != "integer"
            or column.name.endswith("_id")
            or column.name == "reminder_step"
        ):
            continue
        totals[column.name] = sum(v for r in rows if isinstance(v := r.get(column.name), int))
    return totals


__all__ = [
    "CODEBOOK_COLUMNS",
    "REPORTS",
    "Column",
    "Report",
    "Row",
    "Scope",
    "Value",
    "codebook_rows",
    "described",
    "run",
    "summary",
]
