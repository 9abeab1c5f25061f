"""Matches: ``match list|show|edit|pause|resume|end|rematch`` and ``plan``."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from followup import matches as ops
from followup.matches import MatchError
from followup.yearplan import (
    PlanRow,
    fmt_date,
    fmt_weekday,
    plan_recipients,
    title_variables,
    year_plan,
)
from scheduler.facts import facts_for, local_today
from scheduler.programme import Programme
from store.models import (
    EndedBy,
    EndReason,
    Match,
    MatchStatus,
    OutboxMessage,
    Task,
    VolunteerFamily,
)
from store.validation import strip_controls
from venskab.cli.common import ROW_ID, AppContext, UserError, pass_app

STATUSES = [s.value for s in MatchStatus]


def register(group: click.Group) -> None:
    group.add_command(match)
    group.add_command(plan)


DATE_WINDOW_DAYS = 731  # dates given here lie within two years of today


def _date(value: str | None, app: AppContext, name: str) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise UserError(f"{name}: {value!r} is not a date such as 2026-07-01") from exc
    today = app.now().astimezone(app.settings.zone).date()
    if abs((day - today).days) > DATE_WINDOW_DAYS:
        raise UserError(
            f"{name}: {value} is more than two years from today ({today.isoformat()}); "
            "check the year"
        )
    return day


def _load(session: Session, match_id: int) -> Match:
    try:
        return ops.get_match(session, match_id)
    except MatchError as exc:
        raise UserError(str(exc)) from exc


def _table(rows: list[list[str]], headers: list[str]) -> str:
    # Names stored before imports refused control characters must not reach a terminal raw.
    rows = [
        [strip_controls(cell).replace("\t", " ").replace("\n", " ") for cell in r] for r in rows
    ]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
    return "\n".join(lines)


@click.group()
def match() -> None:
    """List, show, edit, pause, resume and end matches."""


@match.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only matches with this status.")
@click.option("--programme", "programme_slug", help="Only matches of this programme (its id).")
@pass_app
def match_list(app: AppContext, status: str | None, programme_slug: str | None) -> None:
    """One line per match."""
    with app.transaction() as session:
        query = (
            select(Match)
            .order_by(Match.id)
            .options(
                selectinload(Match.programme),
                selectinload(Match.child),
                selectinload(Match.volunteer_family),
                selectinload(Match.staff),
            )
        )
        if status:
            query = query.where(Match.status == MatchStatus(status))
        rows = []
        for m in session.scalars(query):
            if programme_slug and m.programme.slug != programme_slug:
                continue
            rows.append(
                [
                    str(m.id),
                    m.programme.slug,
                    m.child.first_name,
                    m.volunteer_family.name,
                    m.start_date.isoformat(),
                    fmt_weekday(m.visit_weekday, "en"),
                    m.status.value,
                    m.staff.name if m.staff else "-",
                ]
            )
    if not rows:
        click.echo("no matches")
        return
    click.echo(
        _table(
            rows,
            ["id", "programme", "child", "volunteer family", "start", "weekday", "status", "staff"],
        )
    )


@match.command("show")
@click.argument("match_id", type=ROW_ID)
@pass_app
def match_show(app: AppContext, match_id: int) -> None:
    """Everything about one match, without contact details."""
    with app.transaction() as session:
        m = _load(session, match_id)
        click.echo(
            f"Match {m.id}: {m.child.first_name} ({m.child.birth_year or 'age unknown'}) "
            f"with {m.volunteer_family.name}"
        )
        click.echo(f"  programme     {m.programme.name}")
        click.echo(f"  status        {m.status.value}")
        click.echo(f"  start         {m.start_date.isoformat()}")
        click.echo(
            f"  visits        {m.cadence.value} on {fmt_weekday(m.visit_weekday, 'en')}"
            + (f" at {m.visit_time.strftime('%H:%M')}" if m.visit_time else "")
        )
        click.echo(f"  staff         {m.staff.name if m.staff else '-'}")
        click.echo(f"  contacts      {', '.join(c.name for c in m.contacts) or '-'}")
        click.echo(
            f"  telegram      {'linked' if m.volunteer_family.telegram_chat_id else 'not linked'}"
        )
        for p in m.pauses:
            until = p.end_date.isoformat() if p.end_date else "open"
            click.echo(f"  pause         {p.start_date.isoformat()} to {until}")
        if m.end_date:
            by = m.ended_by.value if m.ended_by else "?"
            code = m.end_reason_code.value if m.end_reason_code else ""
            reason = (
                f" ({'; '.join(r for r in (code, m.end_reason or '') if r)})"
                if code or m.end_reason
                else ""
            )
            click.echo(f"  ended         {m.end_date.isoformat()} by {by}{reason}")
        if m.previous_match_id:
            click.echo(f"  re-match of   match {m.previous_match_id}")
        follower = session.scalars(select(Match.id).where(Match.previous_match_id == m.id)).first()
        if follower is not None:
            click.echo(f"  re-matched as match {follower}")
        counts = dict(
            session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.match_id == m.id)
                .group_by(OutboxMessage.status)
            ).all()
        )
        if counts:
            click.echo(
                "  messages      " + ", ".join(f"{k.value} {v}" for k, v in sorted(counts.items()))
            )
        tasks = session.scalars(
            select(Task).where(Task.match_id == m.id).order_by(Task.due_at)
        ).all()
        open_tasks = [t for t in tasks if t.status.value == "open"]
        if open_tasks:
            click.echo("  open tasks")
            for t in open_tasks[:10]:
                click.echo(f"    {t.due_at.date().isoformat()}  {t.title}")


@match.command("edit")
@click.argument("match_id", type=ROW_ID)
@click.option("--start", required=True, help="The corrected start date (YYYY-MM-DD).")
@pass_app
def match_edit(app: AppContext, match_id: int, start: str) -> None:
    """Correct a match's start date; its plan follows on the next tick."""
    start_day = _date(start, app, "--start")
    assert start_day is not None
    with app.transaction() as session:
        m = _load(session, match_id)
        old = m.start_date
        if old == start_day:
            click.echo(f"match {match_id} already starts on {old.isoformat()}; nothing changed")
            return
        try:
            ops.correct_start(session, m, start_day, "cli")
        except MatchError as exc:
            raise UserError(f"match {match_id}: {exc}") from exc
    click.echo(
        f"match {match_id} now starts on {start_day.isoformat()} (was {old.isoformat()}); "
        "its plan follows"
    )


@match.command("pause")
@click.argument("match_id", type=ROW_ID)
@click.option("--from", "start", required=True, help="First day of the pause (YYYY-MM-DD).")
@click.option("--to", "end", help="First day back (YYYY-MM-DD); leave out for an open pause.")
@click.option("--reason", default="", help="Short reason, e.g. summer holiday.")
@pass_app
def match_pause(app: AppContext, match_id: int, start: str, end: str | None, reason: str) -> None:
    """Pause visit prompts and missed-visit rules (e.g. summer holiday)."""
    start_day = _date(start, app, "--from")
    assert start_day is not None
    with app.transaction() as session:
        m = _load(session, match_id)
        try:
            ops.pause(session, m, start_day, _date(end, app, "--to"), reason, "cli")
        except MatchError as exc:
            raise UserError(str(exc)) from exc
    click.echo(f"match {match_id} paused from {start}" + (f" until {end}" if end else ""))


@match.command("resume")
@click.argument("match_id", type=ROW_ID)
@click.option("--on", "on", help="First day back (default today).")
@pass_app
def match_resume(app: AppContext, match_id: int, on: str | None) -> None:
    """End the current pause."""
    with app.transaction() as session:
        m = _load(session, match_id)
        day = _date(on, app, "--on") or local_today(app.now(), app.settings.timezone)
        try:
            ops.resume(session, m, day, "cli")
        except MatchError as exc:
            raise UserError(str(exc)) from exc
    click.echo(f"match {match_id} resumes on {day.isoformat()}")


@match.command("end")
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
        m = _load(session, match_id)
        day = _date(on, app, "--on") or local_today(app.now(), app.settings.timezone)
        code = EndReason(reason_code) if reason_code else None
        try:
            ops.end(session, m, day, EndedBy(ended_by), reason, "cli", reason_code=code)
        except MatchError as exc:
            raise UserError(str(exc)) from exc
    click.echo(f"match {match_id} ended on {day.isoformat()} ({ended_by})")


WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@match.command("rematch")
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
    start_day = _date(start, app, "--start")
    assert start_day is not None
    at = None
    if visit_time is not None:
        try:
            at = time.fromisoformat(visit_time)
        except ValueError as exc:
            raise UserError(f"--time: {visit_time!r} is not a time such as 16:00") from exc
    with app.transaction() as session:
        previous = _load(session, match_id)
        family = session.scalars(
            select(VolunteerFamily).where(VolunteerFamily.external_ref == family_ref)
        ).first()
        if family is None:
            raise UserError(f"--family: there is no volunteer family with ref {family_ref!r}")
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
            raise UserError(str(exc)) from exc
        new_id = new.id
    click.echo(
        f"match {new_id}: {family_ref} from {start_day.isoformat()}, a re-match of match "
        f"{match_id}; its plan follows"
    )


@click.command()
@click.argument("match_id", type=ROW_ID)
@click.option("--lang", "locale", type=click.Choice(["da", "en"]), default="da", show_default=True)
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
    app: AppContext, match_id: int, locale: str, all_visits: bool, pdf_path: Path | None
) -> None:
    """The match's year plan (årshjul): what happens when, past and upcoming."""
    now = app.now()
    with app.transaction() as session:
        m = _load(session, match_id)
        programme = app.programmes.get(m.programme.slug)
        if programme is None:
            raise UserError(
                f"match {match_id}: programme {m.programme.slug!r} has no file in programmes/"
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
    header = {"da": ["dato", "kl.", "hvad", "hvem", ""], "en": ["date", "time", "what", "who", ""]}[
        locale
    ]
    done = {"da": "✓", "en": "✓"}[locale]
    table = [
        [fmt_date(r.day, locale, "medium"), r.time, r.what, r.who, done if r.past else ""]
        for r in rows
    ]
    click.echo(title)
    click.echo(_table(table, header))
    if pdf_path is not None:
        click.echo(f"the year wheel and the plan are in {pdf_path}", err=True)


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
        raise UserError(f"a PDF needs the Pango library on this machine ({exc})") from None
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
        raise UserError(f"could not write {path}: {exc.strerror or exc}") from None
