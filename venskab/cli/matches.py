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
from followup.status_words import match_status
from followup.yearplan import (
    PlanRow,
    fmt_date,
    fmt_weekday,
    plan_recipients,
    title_variables,
    year_plan,
)
from scheduler import i18n
from scheduler.facts import facts_for, local_today
from scheduler.programme import Programme
from store.models import (
    Cadence,
    EndedBy,
    EndReason,
    Match,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    Task,
    VolunteerFamily,
)
from store.validation import near_today, strip_controls
from venskab.cli.common import ROW_ID, AppContext, UserError, pass_app

STATUSES = [s.value for s in MatchStatus]


def register(group: click.Group) -> None:
    group.add_command(match)
    group.add_command(plan)


def _date(value: str | None, app: AppContext, name: str) -> date | None:
    if value is None:
        return None
    texts = app.texts
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise UserError(
            texts.gettext(
                "%(option)s: %(value)s is not a date such as 2026-07-01",
                option=name,
                value=repr(value),
            )
        ) from exc
    today = app.now().astimezone(app.settings.zone).date()
    if not near_today(day, today):  # the domain refuses it too; here the option is named
        raise UserError(
            texts.gettext(
                "%(option)s: %(value)s is more than two years from today (%(today)s); check the "
                "year",
                option=name,
                value=value,
                today=_day(today, app.locale),
            )
        )
    return day


def _day(day: date, locale: str) -> str:
    """A date as staff read it: "2. mar. 2026" / "2 Mar 2026"."""
    return fmt_date(day, locale, "medium")


def _cadence(texts: i18n.Texts, cadence: Cadence) -> str:
    if cadence == Cadence.BIWEEKLY:
        return texts.pgettext("cadence", "every other week")
    if cadence == Cadence.TWO_THREE_MONTHLY:
        return texts.pgettext("cadence", "2-3 times a month")
    return texts.pgettext("cadence", "every week")


def _staff(match: Match) -> str:
    """The staff member, with the phone number colleagues reach them on."""
    if match.staff is None:
        return "-"
    phone = i18n.phone(match.staff.phone)
    return f"{match.staff.name} ({phone})" if phone else match.staff.name


def _load(session: Session, match_id: int) -> Match:
    try:
        return ops.get_match(session, match_id)
    except MatchError as exc:
        raise UserError(exc) from exc


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
        texts, locale = app.texts, app.locale
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
                    _day(m.start_date, locale),
                    fmt_weekday(m.visit_weekday, locale),
                    match_status(texts, m.status),
                    _staff(m),
                ]
            )
    if not rows:
        click.echo(texts.gettext("no matches"))
        return
    headers = [
        texts.pgettext("column", "id"),
        texts.pgettext("column", "programme"),
        texts.pgettext("column", "child"),
        texts.pgettext("column", "volunteer family"),
        texts.pgettext("column", "start"),
        texts.pgettext("column", "weekday"),
        texts.pgettext("column", "status"),
        texts.pgettext("column", "staff"),
    ]
    click.echo(_table(rows, headers))


@match.command("show")
@click.argument("match_id", type=ROW_ID)
@pass_app
def match_show(app: AppContext, match_id: int) -> None:
    """Everything about one match, without the family's or the parents' contact details."""
    texts, locale = app.texts, app.locale
    with app.transaction() as session:
        m = _load(session, match_id)
        born = (
            texts.gettext("born %(year)s", year=m.child.birth_year)
            if m.child.birth_year
            else texts.gettext("age unknown")
        )
        click.echo(
            texts.gettext(
                "Match %(id)s: %(child)s (%(born)s) with %(family)s",
                id=m.id,
                child=m.child.first_name,
                born=born,
                family=m.volunteer_family.name,
            )
        )
        weekday = fmt_weekday(m.visit_weekday, locale)
        visits = (
            texts.gettext(
                "%(cadence)s on %(weekday)s at %(time)s",
                cadence=_cadence(texts, m.cadence),
                weekday=weekday,
                time=m.visit_time.strftime("%H:%M"),
            )
            if m.visit_time
            else texts.gettext(
                "%(cadence)s on %(weekday)s", cadence=_cadence(texts, m.cadence), weekday=weekday
            )
        )
        fields = [
            (texts.pgettext("match field", "programme"), m.programme.name),
            (texts.pgettext("match field", "status"), match_status(texts, m.status)),
            (texts.pgettext("match field", "start"), _day(m.start_date, locale)),
            (texts.pgettext("match field", "visits"), visits),
            (texts.pgettext("match field", "staff"), _staff(m)),
            (
                texts.pgettext("match field", "contacts"),
                ", ".join(c.name for c in m.contacts) or "-",
            ),
            (
                texts.pgettext("match field", "Telegram"),
                texts.gettext("connected")
                if m.volunteer_family.telegram_chat_id
                else texts.gettext("not connected"),
            ),
        ]
        for p in m.pauses:
            period = (
                texts.gettext(
                    "%(first)s to %(back)s",
                    first=_day(p.start_date, locale),
                    back=_day(p.end_date, locale),
                )
                if p.end_date
                else texts.gettext("from %(first)s, open", first=_day(p.start_date, locale))
            )
            fields.append((texts.pgettext("match field", "pause"), period))
        if m.end_date:
            ended = texts.gettext(
                "%(day)s by %(who)s",
                day=_day(m.end_date, locale),
                who=m.ended_by.value if m.ended_by else "?",
            )
            why = "; ".join(
                r for r in (m.end_reason_code.value if m.end_reason_code else "", m.end_reason) if r
            )
            if why:
                ended = f"{ended} ({why})"
            fields.append((texts.pgettext("match field", "ended"), ended))
        if m.previous_match_id:
            fields.append(
                (
                    texts.pgettext("match field", "re-match of"),
                    texts.gettext("match %(id)s", id=m.previous_match_id),
                )
            )
        follower = session.scalars(select(Match.id).where(Match.previous_match_id == m.id)).first()
        if follower is not None:
            fields.append(
                (
                    texts.pgettext("match field", "re-matched as"),
                    texts.gettext("match %(id)s", id=follower),
                )
            )
        counts = dict(
            session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.match_id == m.id)
                .group_by(OutboxMessage.status)
            ).all()
        )
        if counts:
            fields.append(
                (
                    texts.pgettext("match field", "messages"),
                    ", ".join(f"{_outbox_status(texts, k)} {v}" for k, v in sorted(counts.items())),
                )
            )
        width = max(len(label) for label, _ in fields) + 2
        for label, value in fields:
            click.echo(f"  {label.ljust(width)}{strip_controls(value)}")
        tasks = session.scalars(
            select(Task).where(Task.match_id == m.id).order_by(Task.due_at)
        ).all()
        open_tasks = [t for t in tasks if t.status.value == "open"]
        if open_tasks:
            click.echo("  " + texts.pgettext("match field", "open tasks"))
            zone = ZoneInfo(app.settings.timezone)
            for t in open_tasks[:10]:
                click.echo(f"    {_day(t.due_at.astimezone(zone).date(), locale)}  {t.title}")


def _outbox_status(texts: i18n.Texts, status: OutboxStatus) -> str:
    """A message's state in the outbox, as staff read it (the word, not the code)."""
    words = {
        OutboxStatus.PLANNED: texts.pgettext("outbox status", "planned"),
        OutboxStatus.SENDING: texts.pgettext("outbox status", "sending"),
        OutboxStatus.SENT: texts.pgettext("outbox status", "sent"),
        OutboxStatus.DELIVERED: texts.pgettext("outbox status", "delivered"),
        OutboxStatus.FAILED: texts.pgettext("outbox status", "failed"),
        OutboxStatus.EXPIRED: texts.pgettext("outbox status", "expired"),
        OutboxStatus.CANCELLED: texts.pgettext("outbox status", "cancelled"),
        OutboxStatus.UNKNOWN: texts.pgettext("outbox status", "unknown"),
    }
    return words.get(status, status.value)


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
            click.echo(
                app.texts.gettext(
                    "match %(id)s already starts on %(day)s; nothing changed",
                    id=match_id,
                    day=_day(old, app.locale),
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
            day=_day(start_day, app.locale),
            old=_day(old, app.locale),
        )
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
    end_day = _date(end, app, "--to")
    with app.transaction() as session:
        m = _load(session, match_id)
        try:
            ops.pause(session, m, start_day, end_day, reason, "cli")
        except MatchError as exc:
            raise UserError(exc) from exc
    texts, locale = app.texts, app.locale
    click.echo(
        texts.gettext(
            "match %(id)s paused from %(first)s until %(back)s",
            id=match_id,
            first=_day(start_day, locale),
            back=_day(end_day, locale),
        )
        if end_day
        else texts.gettext(
            "match %(id)s paused from %(first)s", id=match_id, first=_day(start_day, locale)
        )
    )


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
            raise UserError(exc) from exc
    click.echo(
        app.texts.gettext("match %(id)s resumes on %(day)s", id=match_id, day=_day(day, app.locale))
    )


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
            raise UserError(exc) from exc
    click.echo(
        app.texts.gettext(
            "match %(id)s ended on %(day)s (%(by)s)",
            id=match_id,
            day=_day(day, app.locale),
            by=ended_by,
        )
    )


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
    texts = app.texts
    start_day = _date(start, app, "--start")
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
        previous = _load(session, match_id)
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
            day=_day(start_day, app.locale),
            previous=match_id,
        )
    )


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
        m = _load(session, match_id)
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
    table = [[_day(r.day, locale), r.time, r.what, r.who, "✓" if r.past else ""] for r in rows]
    click.echo(title)
    click.echo(_table(table, header))
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
