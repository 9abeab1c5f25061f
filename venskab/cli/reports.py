"""``venskab report``: the reports of :mod:`followup.reports` as CSV or ``.xlsx``."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from followup.report_files import FORMATS, write_csv, write_xlsx
from followup.reports import REPORTS, Scope, run, summary
from store.models import Staff
from store.validation import within_years
from venskab.cli.common import AppContext, TerminalProgress, UserError, pass_app

NAMES = (*REPORTS, "codebook")


def register(group: click.Group) -> None:
    group.add_command(report)


def _day(app: AppContext, text: str | None, default: date, option: str) -> date:
    if text is None:
        return default
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UserError(
            app.texts.gettext(
                "%(option)s %(value)s: write a date as YYYY-MM-DD, e.g. %(example)s",
                option=option,
                value=repr(text),
                example="2026-01-31",
            )
        ) from None
    if not within_years(day):
        raise UserError(
            app.texts.gettext(
                "%(option)s %(value)s: a report covers days in the years 2000-2100",
                option=option,
                value=repr(text),
            )
        )
    return day


@click.command()
@click.argument("name", type=click.Choice(NAMES))
@click.option(
    "--from", "from_text", help="The first day, YYYY-MM-DD (default: a year before --to)."
)
@click.option("--to", "to_text", help="The last day, YYYY-MM-DD (default: today).")
@click.option("--programme", help="Only this programme (its short name, e.g. hjem-til-os).")
@click.option("--staff", "staff_ref", help="Only the matches this staff member follows (ref).")
@click.option("--region", help="Only matches in this region.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: CSV to the terminal; .xlsx needs a file).",
)
@pass_app
def report(
    app: AppContext,
    name: str,
    from_text: str | None,
    to_text: str | None,
    programme: str | None,
    staff_ref: str | None,
    region: str | None,
    fmt: str,
    output: Path | None,
) -> None:
    """A report an evaluator loads as it is: matches, stability, followup, surveys, invoices,
    or the codebook that describes every column.

    \b
    matches    started, active, ended (by whom), still active at one year, re-matched
    stability  visits confirmed, cancelled (by whom), missed, per match and month
    followup   staff tasks done on time; cases by rule, time to acknowledge and resolve
    surveys    the funnel: per wave and reminder step, sent, opened, completed
    invoices   Mentorbarn: invoices due in the period, half price for a sibling
    codebook   every column of every report: its type and what it holds
    """
    zone = app.settings.timezone
    today = app.now().astimezone(ZoneInfo(zone)).date()
    end = _day(app, to_text, today, "--to")
    start = _day(app, from_text, end - relativedelta(years=1) + timedelta(days=1), "--from")
    texts = app.texts
    if start > end:
        raise UserError(
            texts.gettext(
                "--from %(start)s is after --to %(end)s",
                start=start.isoformat(),
                end=end.isoformat(),
            )
        )
    if fmt == "xlsx" and output is None:
        raise UserError(
            texts.gettext("an .xlsx report needs a file: add --output %(file)s", file="report.xlsx")
        )
    with app.transaction() as session:
        if programme is not None and programme not in app.programmes:
            known = ", ".join(sorted(app.programmes))
            raise UserError(
                texts.gettext(
                    "no programme %(programme)s; the programmes are: %(known)s",
                    programme=repr(programme),
                    known=known,
                )
            )
        if (
            staff_ref is not None
            and session.scalar(select(Staff.id).where(Staff.external_ref == staff_ref)) is None
        ):
            raise UserError(
                texts.gettext("no staff member with the reference %(ref)s", ref=repr(staff_ref))
            )
        scope = Scope(
            start,
            end,
            zone,
            programme=programme,
            staff=staff_ref,
            region=region,
            programmes=app.programmes,
        )
        columns, rows = run(session, name, scope, texts.code)
    if output is None:
        write_csv(columns, rows, sys.stdout)
        return
    progress = TerminalProgress(texts=app.texts)  # a bar on a terminal for a few thousand rows
    try:
        if fmt == "xlsx":
            with output.open("wb") as out:
                write_xlsx(name, columns, progress.track("writing", rows), out)
        else:
            with output.open("w", encoding="utf-8", newline="") as text:
                write_csv(columns, progress.track("writing", rows), text)
    finally:
        progress.close()
    totals = ", ".join(f"{k} {v}" for k, v in summary(columns, rows).items())
    written = texts.ngettext(
        "%(name)s: %(num)d row, %(start)s to %(end)s, written to %(file)s",
        "%(name)s: %(num)d rows, %(start)s to %(end)s, written to %(file)s",
        len(rows),
        name=name,
        start=start.isoformat(),
        end=end.isoformat(),
        file=output,
    )
    click.echo(f"{written} ({totals})" if totals else written, err=True)
