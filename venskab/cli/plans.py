"""The year plan (årshjul) on the command line: ``plan ID``, and as a PDF to print."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session

from followup.yearplan import PlanRow, plan_recipients, title_variables, year_plan
from scheduler import i18n
from scheduler.facts import facts_for
from scheduler.programme import Programme
from store.models import Match
from venskab.cli.common import ROW_ID, AppContext, UserError, pass_app
from venskab.cli.match_common import day_text, load_match, text_table


def register(group: click.Group) -> None:
    group.add_command(plan)


@click.command()
@click.argument("match_id", type=ROW_ID)
@click.option(
    "--lang",
    "locale",
    type=click.Choice(["da", "en"]),
    help="The plan's language, e.g. the family's (default: the command line's).",
)
@click.option(
    "--all-visits", is_flag=True, help="List every visit prompt instead of one summary line."
)
@click.option(
    "--pdf",
    "pdf_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the year wheel and the plan as a PDF to print (A4).",
)
@pass_app
def plan(
    app: AppContext, match_id: int, locale: str | None, all_visits: bool, pdf_path: Path | None
) -> None:
    """The match's year plan (årshjul): what happens when, past and upcoming."""
    locale = locale or app.locale
    texts = i18n.texts(locale)
    now = app.now()
    with app.transaction() as session:
        m = load_match(session, match_id)
        programme = app.programmes.get(m.programme.slug)
        if programme is None:
            raise UserError(
                texts.gettext(
                    "match %(id)s: programme %(programme)s has no file in programmes/",
                    id=match_id,
                    programme=repr(m.programme.slug),
                )
            )
        facts = facts_for(session, m, programme)
        rows = year_plan(
            programme,
            facts,
            now,
            locale,
            fold_visits=not all_visits,
            titles=title_variables(m.sibling, m.child.first_name),
            recipients=plan_recipients(m),
        )
        title = f"{programme.name}: {m.child.first_name} & {m.volunteer_family.name}"
        if pdf_path is not None:
            _write_pdf(app, session, m, programme, rows, locale, pdf_path)
    header = [
        texts.pgettext("column", "date"),
        texts.pgettext("column", "time"),
        texts.pgettext("column", "what"),
        texts.pgettext("column", "who"),
        "",
    ]
    table = [[day_text(r.day, locale), r.time, r.what, r.who, "✓" if r.past else ""] for r in rows]
    click.echo(title)
    click.echo(text_table(table, header))
    if pdf_path is not None:
        click.echo(
            texts.gettext("the year wheel and the plan are in %(path)s", path=pdf_path), err=True
        )


def _write_pdf(
    app: AppContext,
    session: Session,
    match: Match,
    programme: Programme,
    rows: list[PlanRow],
    locale: str,
    path: Path,
) -> None:
    """The printable year plan (web.printed), made into a PDF by WeasyPrint."""
    from followup.staff_views import year_wheel
    from web.printed import Printed, plan_html

    try:
        import weasyprint
    except OSError as exc:  # Pango, which WeasyPrint draws text with, is not installed
        raise UserError(
            app.texts.gettext(
                "a PDF needs the Pango library on this machine (%(error)s)", error=exc
            )
        ) from None
    now = app.now()
    points, end = year_wheel(session, match, programme, now, locale)
    today = now.astimezone(ZoneInfo(match.volunteer_family.timezone)).date()
    about = Printed(
        child=match.child.first_name,
        family=match.volunteer_family.name,
        programme=programme.name,
        start=match.start_date,
        end=end,
        today=today,
    )
    html = plan_html(about, points, rows, locale)
    try:
        weasyprint.HTML(string=html).write_pdf(path)
    except OSError as exc:
        raise UserError(
            app.texts.gettext(
                "could not write %(path)s: %(error)s", path=path, error=exc.strerror or exc
            )
        ) from None
