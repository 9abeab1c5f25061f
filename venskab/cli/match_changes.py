"""Changes to a match: ``match edit|pause|resume|end|rematch``."""

from __future__ import annotations

from datetime import time

import click
from sqlalchemy import select

from followup import matches as ops
from followup.matches import MatchError
from scheduler.facts import local_today
from store.models import EndedBy, EndReason, VolunteerFamily
from venskab.cli.common import ROW_ID, AppContext, UserError, pass_app
from venskab.cli.match_common import date_option, day_text, load_match


@click.command("edit")
@click.argument("match_id", type=ROW_ID)
@click.option("--start", required=True, help="The corrected start date (YYYY-MM-DD).")
@pass_app
def match_edit(app: AppContext, match_id: int, start: str) -> None:
    """Correct a match's start date; its plan follows on the next tick."""
    start_day = date_option(start, app, "--start")
    assert start_day is not None
    with app.transaction() as session:
        m = load_match(session, match_id)
        old = m.start_date
        if old == start_day:
            click.echo(
                app.texts.gettext(
                    "match %(id)s already starts on %(day)s; nothing changed",
                    id=match_id,
                    day=day_text(old, app.locale),
                )
            )
            return
        try:
            ops.correct_start(session, m, start_day, "cli")
        except MatchError as exc:
            raise UserError(f"match {match_id}: {exc}") from exc
    click.echo(
        app.texts.gettext(
            "match %(id)s now starts on %(day)s (was %(old)s); its plan follows",
            id=match_id,
            day=day_text(start_day, app.locale),
            old=day_text(old, app.locale),
        )
    )


@click.command("pause")
@click.argument("match_id", type=ROW_ID)
@click.option("--from", "start", required=True, help="First day of the pause (YYYY-MM-DD).")
@click.option("--to", "end", help="First day back (YYYY-MM-DD); leave out for an open pause.")
@click.option("--reason", default="", help="Short reason, e.g. summer holiday.")
@pass_app
def match_pause(app: AppContext, match_id: int, start: str, end: str | None, reason: str) -> None:
    """Pause visit prompts and missed-visit rules (e.g. summer holiday)."""
    start_day = date_option(start, app, "--from")
    assert start_day is not None
    end_day = date_option(end, app, "--to")
    with app.transaction() as session:
        m = load_match(session, match_id)
        try:
            ops.pause(session, m, start_day, end_day, reason, "cli")
        except MatchError as exc:
            raise UserError(exc) from exc
    texts, locale = app.texts, app.locale
    click.echo(
        texts.gettext(
            "match %(id)s paused from %(first)s until %(back)s",
            id=match_id,
            first=day_text(start_day, locale),
            back=day_text(end_day, locale),
        )
        if end_day
        else texts.gettext(
            "match %(id)s paused from %(first)s", id=match_id, first=day_text(start_day, locale)
        )
    )


@click.command("resume")
@click.argument("match_id", type=ROW_ID)
@click.option("--on", "on", help="First day back (default today).")
@pass_app
def match_resume(app: AppContext, match_id: int, on: str | None) -> None:
    """End the current pause."""
    with app.transaction() as session:
        m = load_match(session, match_id)
        day = date_option(on, app, "--on") or local_today(app.now(), app.settings.timezone)
        try:
            ops.resume(session, m, day, "cli")
        except MatchError as exc:
            raise UserError(exc) from exc
    click.echo(
        app.texts.gettext(
            "match %(id)s resumes on %(day)s", id=match_id, day=day_text(day, app.locale)
        )
    )


@click.command("end")
@click.argument("match_id", type=ROW_ID)
@click.option("--on", "on", help="The last day (default today).")
@click.option(
    "--by",
    "ended_by",
    required=True,
    type=click.Choice([e.value for e in EndedBy]),
    help="Who ended it: the volunteer family, the child's family, the organisation, 'term' at "
    "the natural end (the anniversary), or 'unreachable' (the family could not be reached).",
)
@click.option(
    "--why",
    "reason_code",
    type=click.Choice([r.value for r in EndReason]),
    help="Why, from the short list (term: completed, unreachable: no_contact by default).",
)
@click.option("--reason", default="", help="Short reason in words (no personal details).")
@pass_app
def match_end(
    app: AppContext,
    match_id: int,
    on: str | None,
    ended_by: str,
    reason_code: str | None,
    reason: str,
) -> None:
    """End a match: what remains is cancelled and the programme's steps for that ending follow
    (the extra child visit and the re-match question, two calls to an unreachable family, or
    the farewell at the natural end)."""
    with app.transaction() as session:
        m = load_match(session, match_id)
        day = date_option(on, app, "--on") or local_today(app.now(), app.settings.timezone)
        code = EndReason(reason_code) if reason_code else None
        try:
            ops.end(session, m, day, EndedBy(ended_by), reason, "cli", reason_code=code)
        except MatchError as exc:
            raise UserError(exc) from exc
    click.echo(
        app.texts.gettext(
            "match %(id)s ended on %(day)s (%(by)s)",
            id=match_id,
            day=day_text(day, app.locale),
            by=ended_by,
        )
    )


WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@click.command("rematch")
@click.argument("match_id", type=ROW_ID)
@click.option("--family", "family_ref", required=True, help="The new volunteer family's ref.")
@click.option("--start", required=True, help="The new match's first day (YYYY-MM-DD).")
@click.option("--weekday", type=click.Choice(WEEKDAYS), help="Visit day (default: as before).")
@click.option("--time", "visit_time", help="Visit time HH:MM (default: as before).")
@pass_app
def match_rematch(
    app: AppContext,
    match_id: int,
    family_ref: str,
    start: str,
    weekday: str | None,
    visit_time: str | None,
) -> None:
    """Re-match the child of an ended match with another volunteer family (a new match that
    names the previous one)."""
    texts = app.texts
    start_day = date_option(start, app, "--start")
    assert start_day is not None
    at = None
    if visit_time is not None:
        try:
            at = time.fromisoformat(visit_time)
        except ValueError as exc:
            raise UserError(
                texts.gettext(
                    "--time: %(value)s is not a time such as 16:00", value=repr(visit_time)
                )
            ) from exc
    with app.transaction() as session:
        previous = load_match(session, match_id)
        family = session.scalars(
            select(VolunteerFamily).where(VolunteerFamily.external_ref == family_ref)
        ).first()
        if family is None:
            raise UserError(
                texts.gettext(
                    "--family: there is no volunteer family with ref %(ref)s", ref=repr(family_ref)
                )
            )
        try:
            new = ops.rematch(
                session,
                previous,
                family,
                start_day,
                "cli",
                visit_weekday=WEEKDAYS.index(weekday) if weekday else None,
                visit_time=at,
            )
        except MatchError as exc:
            raise UserError(exc) from exc
        new_id = new.id
    click.echo(
        texts.gettext(
            "match %(id)s: %(family)s from %(day)s, a re-match of match %(previous)s; its plan "
            "follows",
            id=new_id,
            family=family_ref,
            day=day_text(start_day, app.locale),
            previous=match_id,
        )
    )


# Added to the ``match`` group by venskab.cli.matches.
CHANGES = [match_edit, match_pause, match_resume, match_end, match_rematch]
