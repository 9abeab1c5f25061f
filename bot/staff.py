"""The staff side of the bot: today's tasks and open cases, a match's summary, acknowledging.

A procesleder sees the matches and escalations assigned to them; coordinators and
administrators see everything. Acknowledge buttons are re-checked like every other button.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload
from telegram import InlineKeyboardMarkup, Update

from bot import buttons as kb
from bot import callbacks as cb
from bot.common import Outcome, Reply, inline, user_locale, who_is
from bot.context import BotContext
from bot.family import help_text
from bot.formatting import long_day
from bot.texts import t
from followup.alerts import acknowledge, snooze
from followup.escalations import RULES_DA
from followup.yearplan import fmt_date, fmt_weekday
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

LIST_LIMIT = 25
SNOOZE_BUTTON = timedelta(days=7)


def _sees_everything(staff: Staff) -> bool:
    return staff.role in (StaffRole.COORDINATOR, StaffRole.ADMIN)


def _escalation_line(escalation: Escalation, locale: str) -> str:
    urgent = f"{t('urgent', locale)}: " if escalation.severity == Severity.URGENT else ""
    where = f" (match {escalation.match_id})" if escalation.match_id else ""
    summary = (
        escalation.summary if locale == "en" else RULES_DA.get(escalation.rule, escalation.summary)
    )
    return f"#{escalation.id} {urgent}{summary}{where}"


def today(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        staff = who.staff
        if staff is None:
            return Outcome(who.locale, replies=[Reply(chat_id, help_text(who, session))])
        locale = staff.locale.value
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
        escalations = _open_escalations(session, staff)
        lines = [t("today_title", locale, date=long_day(local_today, locale)), ""]
        lines.append(t("today_tasks", locale) if tasks else t("today_no_tasks", locale))
        for task in tasks:
            due = task.due_at.astimezone(zone)
            late = f" ({t('overdue', locale)})" if due.date() < local_today else ""
            match = f" (match {task.match_id})" if task.match_id else ""
            lines.append(f"• {fmt_date(due, locale, 'medium')}{late}: {task.title}{match}")
        lines.append("")
        lines.append(
            t("today_escalations", locale) if escalations else t("today_no_escalations", locale)
        )
        lines.extend(f"• {_escalation_line(e, locale)}" for e in escalations)
        markup = inline(kb.ack_buttons([e.id for e in escalations], locale))
        return Outcome(locale, replies=[Reply(chat_id, "\n".join(lines), markup)])


def _open_escalations(session: Session, staff: Staff) -> list[Escalation]:
    query = select(Escalation).where(Escalation.status == EscalationStatus.OPEN)
    if _sees_everything(staff):
        query = query.where(
            or_(
                Escalation.staff_id == staff.id, Escalation.staff_id.is_(None), Escalation.level > 1
            )
        )
    else:
        query = query.where(Escalation.staff_id == staff.id)
    found = session.scalars(query.order_by(Escalation.created_at).limit(LIST_LIMIT)).all()
    return sorted(found, key=lambda e: (e.severity != Severity.URGENT, e.created_at, e.id))


def match_summary(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        staff = who.staff
        if staff is None:
            return Outcome(who.locale, replies=[Reply(chat_id, help_text(who, session))])
        locale = staff.locale.value
        args = ctx.args or []
        if len(args) != 1 or not args[0].isdigit() or len(args[0]) > 10:
            return Outcome(locale, replies=[Reply(chat_id, t("match_usage", locale))])
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
            return Outcome(
                locale, replies=[Reply(chat_id, t("match_not_found", locale, id=args[0]))]
            )
        return Outcome(locale, replies=[Reply(chat_id, *_summary(session, match, locale))])


def _summary(
    session: Session, match: Match, locale: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    family = match.volunteer_family
    lines = [
        t(
            "match_summary",
            locale,
            match=match.id,
            child=match.child.first_name,
            family=family.name,
            programme=match.programme.name,
            status=t(f"status_{match.status.value}", locale),
            start=fmt_date(match.start_date, locale, "medium"),
            weekday=fmt_weekday(match.visit_weekday, locale),
            telegram=t("linked" if family.telegram_chat_id else "not_linked", locale),
        )
    ]
    recent = session.scalars(
        select(Visit).where(Visit.match_id == match.id).order_by(Visit.planned_date.desc()).limit(6)
    ).all()
    lines += ["", t("recent_visits", locale)]
    if not recent:
        lines.append(f"• {t('none', locale)}")
    for visit in recent:
        status = t(f"visit_status_{visit.status.value}", locale)
        if visit.times is not None:
            status = f"{status} ×{visit.times}"
        if visit.cancelled_by is not None:
            status = f"{status} ({t('btn_who_' + visit.cancelled_by.value, locale)})"
        if visit.moved_to is not None:
            status = f"{status} → {fmt_date(visit.moved_to, locale, 'medium')}"
        lines.append(f"• {fmt_date(visit.planned_date, locale, 'medium')}: {status}")
    checkins = session.scalars(
        select(CheckIn)
        .where(CheckIn.match_id == match.id)
        .order_by(CheckIn.created_at.desc())
        .limit(5)
    ).all()
    lines += ["", t("recent_checkins", locale)]
    if not checkins:
        lines.append(f"• {t('none', locale)}")
    for checkin in checkins:
        what = t("worried", locale) if checkin.worried else f"{checkin.mood}/5"
        text = f": {checkin.text[:200]}" if checkin.text else ""
        lines.append(f"• {fmt_date(checkin.created_at, locale, 'medium')} {what}{text}")
    escalations = session.scalars(
        select(Escalation)
        .where(Escalation.match_id == match.id, Escalation.status == EscalationStatus.OPEN)
        .order_by(Escalation.created_at)
    ).all()
    lines += [
        "",
        t("today_escalations", locale) if escalations else t("today_no_escalations", locale),
    ]
    lines.extend(f"• {_escalation_line(e, locale)}" for e in escalations)
    return "\n".join(lines), inline(kb.ack_buttons([e.id for e in escalations], locale))


def on_ack(ctx: BotContext, update: Update, data: cb.Callback) -> Outcome:
    """Acknowledge an escalation: only its staff member, or a coordinator, and only once."""
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        staff = who.staff
        locale = staff.locale.value if staff is not None else user_locale(update.effective_user)
        escalation = session.get(Escalation, int(data.fields[0]))
        if (
            staff is None
            or escalation is None
            or escalation.status != EscalationStatus.OPEN
            or not (escalation.staff_id == staff.id or _sees_everything(staff))
        ):
            return Outcome(locale, expired=True)
        acknowledge(session, escalation.id, staff.id, ctx.now(), "telegram")
        toast = t("ack_done", locale, id=escalation.id)
    message = update.effective_message
    markup = _without(message.reply_markup if message is not None else None, data)
    text = (message.text if message is not None else None) or toast
    return Outcome(locale, toast=toast, edit=text, markup=markup)


def on_snooze(ctx: BotContext, update: Update, data: cb.Callback) -> Outcome:
    """Snooze a case for a week: silent until then, then one reminder. Its staff member or a
    coordinator only; the alert's buttons go away."""
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        staff = who.staff
        locale = staff.locale.value if staff is not None else user_locale(update.effective_user)
        escalation = session.get(Escalation, int(data.fields[0]))
        if (
            staff is None
            or escalation is None
            or escalation.status == EscalationStatus.RESOLVED
            or not (escalation.staff_id == staff.id or _sees_everything(staff))
        ):
            return Outcome(locale, expired=True)
        until = ctx.now() + SNOOZE_BUTTON
        snooze(session, escalation.id, staff.id, until, ctx.now(), "telegram")
        day = fmt_date(until.astimezone(ZoneInfo(staff.timezone)), locale, "medium")
        toast = t("snooze_done", locale, id=escalation.id, day=day)
    message = update.effective_message
    text = (message.text if message is not None else None) or toast
    return Outcome(locale, toast=toast, edit=text, markup=None)


def _without(markup: object, data: cb.Callback) -> InlineKeyboardMarkup | None:
    """The message's keyboard minus the pressed acknowledge button."""
    if not isinstance(markup, InlineKeyboardMarkup):
        return None
    pressed = cb.make("ack", data.fields[0])
    rows = [[b for b in row if b.callback_data != pressed] for row in markup.inline_keyboard]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None
