"""The staff side of the bot: today's tasks and open cases, a match's summary.

A procesleder sees the matches and escalations assigned to them; coordinators and
administrators see everything. The buttons on cases are handled in :mod:`bot.staff_cases`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from telegram import InlineKeyboardMarkup, Update

from bot import buttons as kb
from bot.buttons import CANCELLED_BY
from bot.common import Outcome, Reply, help_text, inline, who_is
from bot.context import BotContext
from bot.formatting import long_day
from followup.alert_rows import cases_told_to
from followup.escalations import rule_title
from followup.status_words import match_status, visit_status
from followup.yearplan import fmt_date, fmt_weekday
from scheduler import i18n
from scheduler.programme import Programme
from store.models import (
    CheckIn,
    Escalation,
    EscalationStatus,
    Match,
    Severity,
    Staff,
    StaffRole,
    Task,
    TaskStatus,
    Visit,
)
from store.validation import ascii_digits

LIST_LIMIT = 25


def _sees_everything(staff: Staff) -> bool:
    return staff.role in (StaffRole.COORDINATOR, StaffRole.ADMIN)


def _in_match(texts: i18n.Texts, match_id: int | None) -> str:
    if not match_id:
        return ""
    return " (" + texts.gettext("match %(id)s", id=match_id) + ")"


def _escalation_line(escalation: Escalation, locale: str) -> str:
    texts = i18n.texts(locale)
    summary = escalation.summary if locale == "en" else rule_title(escalation.rule, locale)
    if escalation.severity == Severity.URGENT:
        summary = texts.gettext("URGENT: %(summary)s", summary=summary)
    return f"#{escalation.id} {summary}{_in_match(texts, escalation.match_id)}"


def today(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        staff = who.staff
        if staff is None:
            return Outcome(who.locale, replies=[Reply(chat_id, help_text(ctx, who, session))])
        locale = staff.locale.value
        texts = i18n.texts(locale)
        zone = ZoneInfo(staff.timezone)
        now = ctx.now()
        local_today = now.astimezone(zone).date()
        end_of_day = datetime.combine(local_today + timedelta(days=1), time(0), zone)
        tasks = session.scalars(
            select(Task)
            .where(
                Task.owner_id == staff.id, Task.status == TaskStatus.OPEN, Task.due_at < end_of_day
            )
            .order_by(Task.due_at)
            .limit(LIST_LIMIT)
        ).all()
        escalations = _open_escalations(session, staff, ctx.services.programmes)
        lines = [texts.gettext("Today, %(date)s", date=long_day(local_today, locale)), ""]
        lines.append(texts.gettext("Tasks:") if tasks else texts.gettext("No tasks today."))
        for task in tasks:
            due = fmt_date(task.due_at.astimezone(zone), locale, "medium")
            if task.due_at.astimezone(zone).date() < local_today:
                due = texts.gettext("%(date)s (overdue)", date=due)
            lines.append(f"• {due}: {task.title}{_in_match(texts, task.match_id)}")
        lines.append("")
        lines.append(_cases_heading(texts, bool(escalations)))
        lines.extend(f"• {_escalation_line(e, locale)}" for e in escalations)
        markup = inline(kb.ack_buttons([e.id for e in escalations], locale))
        return Outcome(locale, replies=[Reply(chat_id, "\n".join(lines), markup)])


def _cases_heading(texts: i18n.Texts, any_open: bool) -> str:
    return texts.gettext("Open cases:") if any_open else texts.gettext("No open cases.")


def _open_escalations(
    session: Session, staff: Staff, programmes: Mapping[str, Programme]
) -> list[Escalation]:
    """The open cases this staff member has heard of: their own, and for coordinators the
    ones pushed to them or without a staff member (``followup.alert_rows.cases_told_to``)."""
    found = cases_told_to(session, staff, programmes)[:LIST_LIMIT]
    return sorted(found, key=lambda e: (e.severity != Severity.URGENT, e.created_at, e.id))


def match_summary(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        staff = who.staff
        if staff is None:
            return Outcome(who.locale, replies=[Reply(chat_id, help_text(ctx, who, session))])
        locale = staff.locale.value
        texts = i18n.texts(locale)
        args = ctx.args or []
        if len(args) != 1 or not ascii_digits(args[0]) or not 0 < int(args[0]) < 2**31:
            usage = texts.gettext("Write /match and a number, e.g. /match 12.")
            return Outcome(locale, replies=[Reply(chat_id, usage)])
        match = session.get(
            Match,
            int(args[0]),
            options=[
                selectinload(Match.child),
                selectinload(Match.volunteer_family),
                selectinload(Match.programme),
            ],
        )
        if match is None or not (_sees_everything(staff) or match.staff_id == staff.id):
            missing = texts.gettext(
                "We cannot find a match number %(id)s that you follow.", id=args[0]
            )
            return Outcome(locale, replies=[Reply(chat_id, missing)])
        return Outcome(locale, replies=[Reply(chat_id, *_summary(session, match, locale))])


def _summary(
    session: Session, match: Match, locale: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    family = match.volunteer_family
    texts = i18n.texts(locale)
    lines = [
        texts.gettext(
            "Match %(match)s: %(child)s and %(family)s",
            match=match.id,
            child=match.child.first_name,
            family=family.name,
        ),
        texts.gettext(
            "%(programme)s, %(status)s. Started %(start)s, visits every %(weekday)s.",
            programme=match.programme.name,
            status=match_status(texts, match.status),
            start=fmt_date(match.start_date, locale, "medium"),
            weekday=fmt_weekday(match.visit_weekday, locale),
        ),
        texts.gettext("Telegram: connected")
        if family.telegram_chat_id
        else texts.gettext("Telegram: not connected"),
    ]
    none = "• " + texts.pgettext("nothing to list", "none")
    recent = session.scalars(
        select(Visit).where(Visit.match_id == match.id).order_by(Visit.planned_date.desc()).limit(6)
    ).all()
    lines += ["", texts.gettext("Recent visits:")]
    if not recent:
        lines.append(none)
    for visit in recent:
        status = visit_status(texts, visit.status)
        if visit.times is not None:
            status = f"{status} ×{visit.times}"
        if visit.cancelled_by is not None:
            status = f"{status} ({texts.gettext(CANCELLED_BY[visit.cancelled_by.value])})"
        if visit.moved_to is not None:
            status = f"{status} → {fmt_date(visit.moved_to, locale, 'medium')}"
        lines.append(f"• {fmt_date(visit.planned_date, locale, 'medium')}: {status}")
    checkins = session.scalars(
        select(CheckIn)
        .where(CheckIn.match_id == match.id)
        .order_by(CheckIn.created_at.desc())
        .limit(5)
    ).all()
    lines += ["", texts.gettext("Recent check-ins:")]
    if not checkins:
        lines.append(none)
    for checkin in checkins:
        what = texts.gettext("worry") if checkin.worried else f"{checkin.mood}/5"
        text = f": {checkin.text[:200]}" if checkin.text else ""
        lines.append(f"• {fmt_date(checkin.created_at, locale, 'medium')} {what}{text}")
    escalations = session.scalars(
        select(Escalation)
        .where(Escalation.match_id == match.id, Escalation.status == EscalationStatus.OPEN)
        .order_by(Escalation.created_at)
    ).all()
    lines += ["", _cases_heading(texts, bool(escalations))]
    lines.extend(f"• {_escalation_line(e, locale)}" for e in escalations)
    return "\n".join(lines), inline(kb.ack_buttons([e.id for e in escalations], locale))
