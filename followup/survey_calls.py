"""The last rung of the survey reminder ladder: a staff call task, created only when it is due
and the survey is still unanswered.

VIVE's practice (004:5622-5630): a reminder by SMS after a week, by email after two, and after
about three weeks a personal call. The planner plans the reminder messages ahead (the dispatcher
drops them if the survey was answered meanwhile); a call task cannot be "dropped" from someone's
task list as quietly, so it is only created at its time, and only if nobody has answered.

The ladder never goes beyond what the programme configures: each step is created at most once
per invitation (its idempotency key), and ``SurveyInvitation.reminder_step`` records the highest
step taken, so an invitation past its last step is not looked at again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from followup.survey_results import task_key
from scheduler import i18n
from scheduler.i18n import N_
from scheduler.programme import Programme
from scheduler.timeline import localize
from scheduler.working_days import next_working_day
from store.audit import record
from store.models import (
    Audience,
    ContactPerson,
    Match,
    MatchStatus,
    OutboxMessage,
    SurveyInvitation,
    Task,
    TaskStatus,
)
from store.queries import insert_ignore

log = logging.getLogger(__name__)

# Invitations sent longer ago than this are history, not work (the links last 90 days).
LOOKBACK = timedelta(days=120)
# Which survey a call is about, in the task's title (message ids).
WAVE_NAMES = {
    "baseline": N_("start"),
    "end": N_("end"),
    "followup": N_("follow-up"),
}


@dataclass
class FollowUpStats:
    checked: int = 0
    tasks: int = 0


def _last_staff_step(programmes: Mapping[str, Programme]) -> int:
    """The highest ladder step number that is a staff task, in any programme."""
    return max(
        (
            number
            for p in programmes.values()
            for tp in p.touchpoints
            for number, r in enumerate(tp.reminders, start=1)
            if r.staff_task
        ),
        default=0,
    )


def _smallest_staff_delay(programmes: Mapping[str, Programme]) -> timedelta | None:
    base = datetime(2026, 1, 1)
    delays = [
        r.after.add(base) - base
        for p in programmes.values()
        for tp in p.touchpoints
        for r in tp.reminders
        if r.staff_task
    ]
    return min(delays) if delays else None


def _original(session: Session, invitation: SurveyInvitation) -> OutboxMessage | None:
    """The outbox row that first invited the person (not a reminder, not a fallback)."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.match_id == invitation.match_id,
            OutboxMessage.kind == "survey",
            OutboxMessage.audience == Audience.CONTACT_PERSON,
            OutboxMessage.recipient_id == (invitation.contact_person_id or 0),
        )
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
    )
    for row in rows:
        context = row.context or {}
        if (
            str(context.get("survey")) == invitation.survey_id
            and str(context.get("wave")) == invitation.wave
            and int(context.get("reminder", 0)) == 0
        ):
            return row
    return None


def run(
    factory: sessionmaker[Session], programmes: Mapping[str, Programme], now: datetime
) -> FollowUpStats:
    """Create the staff call tasks that are due now. Safe to run on every tick and replica."""
    stats = FollowUpStats()
    smallest = _smallest_staff_delay(programmes)
    if smallest is None:
        return stats
    with factory() as session, session.begin():
        candidates = list(
            session.scalars(
                select(SurveyInvitation).where(
                    SurveyInvitation.completed_at.is_(None),
                    SurveyInvitation.sent_at.is_not(None),
                    SurveyInvitation.sent_at <= now - smallest + timedelta(days=1),
                    # past its last call task: nothing more to do for it
                    SurveyInvitation.reminder_step < _last_staff_step(programmes),
                    SurveyInvitation.sent_at >= now - LOOKBACK,
                    SurveyInvitation.expires_at > now,
                    SurveyInvitation.contact_person_id.is_not(None),
                )
            )
        )
        if not candidates:
            return stats
        matches = {
            m.id: m
            for m in session.scalars(
                select(Match)
                .where(Match.id.in_({c.match_id for c in candidates}))
                .options(selectinload(Match.programme), selectinload(Match.staff))
            )
        }
        for invitation in candidates:
            stats.checked += 1
            match = matches.get(invitation.match_id)
            programme = programmes.get(match.programme.slug) if match is not None else None
            if match is None or programme is None:
                continue
            stats.tasks += _step(session, invitation, match, programme, now)
    if stats.tasks:
        log.info("created %d survey call tasks", stats.tasks)
    return stats


def _step(
    session: Session,
    invitation: SurveyInvitation,
    match: Match,
    programme: Programme,
    now: datetime,
) -> int:
    contact = session.get(ContactPerson, invitation.contact_person_id)
    if contact is None or contact.opted_out:
        return 0  # a survey is never essential: no call about it after an opt-out
    original = _original(session, invitation)
    if original is None:
        return 0
    try:
        tp = programme.touchpoint(original.touchpoint_id)
    except KeyError:
        return 0
    staff_zone = ZoneInfo(match.staff.timezone if match.staff else match.volunteer_family.timezone)
    base = original.due_at.astimezone(staff_zone).replace(tzinfo=None)
    created = 0
    for number, reminder in enumerate(tp.reminders, start=1):
        if not reminder.staff_task or number <= (invitation.reminder_step or 0):
            continue
        due = localize(reminder.after.add(base), staff_zone)
        if due > now:
            break
        if match.status == MatchStatus.ENDED and invitation.wave != "end":
            break  # the match ended before the call: the staff member has other things to say
        locale = match.staff.locale.value if match.staff else "da"
        days = (due.replace(tzinfo=None) - base).days
        texts = i18n.texts(locale)
        wave = WAVE_NAMES.get(invitation.wave)
        title = texts.ngettext(
            "Call %(name)s about the questionnaire (%(wave)s): not answered after %(num)d day",
            "Call %(name)s about the questionnaire (%(wave)s): not answered after %(num)d days",
            days,
            name=contact.name,
            wave=texts.gettext(wave) if wave else invitation.wave,
        )
        working = next_working_day(due.date())
        due_at = (
            localize(datetime.combine(working, due.time()), staff_zone)
            if working != due.date()
            else due
        )
        key = task_key(invitation.id, number)
        inserted = insert_ignore(
            session,
            Task,
            [
                {
                    "idempotency_key": key,
                    "match_id": match.id,
                    "touchpoint_id": tp.id,
                    "kind": "call",
                    "title": title[:200],
                    "owner_id": match.staff_id,
                    "due_at": due_at,
                    "status": TaskStatus.OPEN,
                }
            ],
            "idempotency_key",
        )
        invitation.reminder_step = number
        if inserted:
            record(
                session,
                "system",
                "survey.call_task",
                "survey_invitation",
                invitation.id,
                step=number,
            )
        created += inserted
    return created
