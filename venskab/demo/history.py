"""The demo's past, replayed through the real planner and dispatcher: what families and parents
wrote, what the child told, and what diligent staff did."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from followup import contacts
from followup.alert_rows import next_working_moment
from followup.alerts import acknowledge, resolve
from followup.escalations import raise_escalation
from followup.survey_defs import default_surveys
from followup.survey_results import complete as complete_survey
from followup.survey_results import save_answers
from followup.tasks import complete, open_tasks
from store.models import (
    Escalation,
    EscalationStatus,
    Match,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    ResolutionOutcome,
    Severity,
    SurveyInvitation,
    Visit,
)
from venskab.cli.common import AppContext
from venskab.demo.cast import ZONE

# What families and parents write now and then, besides answering the prompts: (rule, chance in
# a given week, severity, text).
NEWS = [
    ("message_from_family", 0.10, Severity.NORMAL, "Kan vi flytte næste besøg til lørdag?"),
    ("message_from_parent", 0.04, Severity.NORMAL, "Tak for sidst. Hvornår er næste besøg?"),
    ("worry", 0.01, Severity.URGENT, "Barnet virkede ked af det og ville ikke tale om skolen."),
]
Event = tuple[datetime, int, str, Severity, str]


def family_news(app: AppContext, now: datetime, seed_value: int = 11) -> list[Event]:
    """When the demo's families and parents wrote during the year (evenings, at random)."""
    rng = random.Random(seed_value)
    events: list[Event] = []
    with app.transaction() as session:
        matches = list(session.scalars(select(Match).order_by(Match.id)))
        answering = set(session.scalars(select(Visit.match_id).distinct()))
        for match in matches:
            if match.id not in answering:
                continue  # a family that never answers does not write either (Barn G's)
            moment = match.created_at + timedelta(days=7)
            last = now
            if match.end_date is not None:  # nobody writes about a match that has ended
                last = min(now, datetime.combine(match.end_date, time(0), tzinfo=ZONE))
            while moment < last:
                for rule, chance, severity, text in NEWS:
                    if rng.random() < chance:
                        at = moment + timedelta(days=rng.randrange(7), hours=rng.randrange(10, 13))
                        events.append((at, match.id, rule, severity, text))
                moment += timedelta(days=7)
    return sorted(e for e in events if e[0] < now and not _after_end(e, matches))


def _after_end(event: Event, matches: list[Match]) -> bool:
    ended = next((m.end_date for m in matches if m.id == event[1]), None)
    return ended is not None and event[0].astimezone(ZONE).date() >= ended


def _tell(app: AppContext, events: list[Event]) -> None:
    with app.transaction() as session:
        for at, match_id, rule, severity, text in events:
            match = session.get(Match, match_id)
            evidence = {"text": text, "channel": "sms" if "parent" in rule else "telegram"}
            raise_escalation(session, match, rule, now=at, evidence=evidence, severity=severity)


# How soon the diligent demo staff member acts once told: acknowledges a pushed case within a
# working hour, resolves it a working day or two later, and does each task on its day.
ACK_WITHIN = timedelta(hours=1)
RESOLVE_AFTER = timedelta(days=1)


def act_as_staff(app: AppContext, now: datetime) -> None:
    """What a diligent staff member has done by ``now``: cases acknowledged within a working
    hour of their first push and resolved a day or two later, tasks done on their due day."""
    with app.transaction() as session:
        unsent = _alerts_not_sent(session)
        for case in session.scalars(
            select(Escalation)
            .where(Escalation.status != EscalationStatus.RESOLVED)
            .order_by(Escalation.id)
        ):
            if case.id in unsent:
                continue  # the alert is not out yet (it waits for working hours)
            if case.rule == "unreachable":
                continue  # a proposal: staff answer it on the match page (mark as unreachable)
            if case.status == EscalationStatus.OPEN and case.push_count and case.last_notified_at:
                seen = next_working_moment(case.last_notified_at, ZONE)
                if seen + ACK_WITHIN <= now:
                    acknowledge(session, case.id, case.staff_id, seen + ACK_WITHIN, via="demo")
            elif case.status == EscalationStatus.ACKNOWLEDGED and case.acknowledged_at:
                settled = next_working_moment(case.acknowledged_at + RESOLVE_AFTER, ZONE)
                if settled <= now:
                    note = "Talt med familien; fulgt op." if case.match_id else "Set på."
                    how = (
                        ResolutionOutcome.HANDLED if case.match_id else ResolutionOutcome.NO_ACTION
                    )
                    resolve(session, case.id, case.staff_id, settled, note, how)
        for task in open_tasks(session, until=now):
            done_at = next_working_moment(task.due_at, ZONE)
            if done_at <= now:
                complete(session, task.id, "done", "Udført.", done_at, actor="demo")
        _keep_in_touch(app, session, now)


# The diligent staff member calls a party a few days before the programme's contact standard
# says the next contact is due, so the demo year keeps its promise.
CALL_AHEAD = timedelta(days=3)


def _keep_in_touch(app: AppContext, session: Session, now: datetime) -> None:
    today = now.astimezone(ZONE).date()
    matches = list(session.scalars(select(Match).where(Match.status == MatchStatus.ACTIVE)))
    last = contacts.last_contacts(session, matches, app.programmes, ZONE.key)
    for match in matches:
        programme = app.programmes.get(match.programme.slug)
        if programme is None or match.start_date > today:
            continue
        for late in contacts.behind(match, programme, last, today + CALL_AHEAD):
            if late.party == "volunteer_family" and _silent(session, match, today):
                continue  # the call does not reach a family that has stopped answering
            contacts.record(session, match, late.party, "call", today, today, actor="demo")


def _silent(session: Session, match: Match, today: date) -> bool:
    """No visit answered for two weeks or more: since the start, or in the last six weeks."""
    if (today - match.start_date).days < 14:
        return False
    since = max(match.start_date, today - timedelta(weeks=6))
    return not session.scalar(
        select(func.count())
        .select_from(Visit)
        .where(Visit.match_id == match.id, Visit.planned_date >= since)
    )


def _alerts_not_sent(session: Session) -> set[int]:
    """The cases with an alert still waiting in the outbox."""
    waiting: set[int] = set()
    for context in session.scalars(
        select(OutboxMessage.context).where(
            OutboxMessage.kind == "alert", OutboxMessage.status == OutboxStatus.PLANNED
        )
    ):
        context = context or {}
        waiting.update(int(i) for i in context.get("escalation_ids", []))
        if context.get("escalation_id"):
            waiting.add(int(context["escalation_id"]))
    return waiting


# What Barn A told Venskabsfamilie 1 at the 3-month moment (the child's voice).
CHILD_VOICE_ANSWERS = {
    "feel_at_family": "4",
    "doing_things": "5",
    "look_forward": "4",
    "like_best": "At vi bager sammen, og at hunden hopper op, når jeg kommer.",
}


def answer_child_voice(app: AppContext, now: datetime) -> None:
    """The first demo match's volunteer family relays the child's answers the day after its
    3-month invitation went out, as the survey's web page would store them."""
    survey = default_surveys().get("child-voice")
    if survey is None:
        return
    with app.transaction() as session:
        first = session.scalar(select(func.min(Match.id)))
        invitation = session.scalars(
            select(SurveyInvitation).where(
                SurveyInvitation.match_id == first,
                SurveyInvitation.survey_id == survey.id,
                SurveyInvitation.wave == "3mo",
                SurveyInvitation.completed_at.is_(None),
                SurveyInvitation.sent_at.is_not(None),
            )
        ).first()
        if invitation is None or invitation.sent_at is None:
            return
        if now - invitation.sent_at < timedelta(days=1):
            return
        answered = invitation.sent_at + timedelta(days=1)
        save_answers(session, invitation, survey, CHILD_VOICE_ANSWERS, answered)
        complete_survey(session, invitation, answered)


class Ticking(Protocol):
    async def tick(self, now: datetime) -> object: ...
    async def close(self) -> None: ...


async def replay(
    app: AppContext,
    now: datetime,
    runtime_for: Callable[[AppContext], Ticking],
    step: timedelta = timedelta(hours=12),
    staff_act: bool = True,
) -> None:
    """Run planner and dispatcher through the past, as if the system had been running.

    ``runtime_for`` builds the runtime that ticks (``venskab.runtime.Runtime``); before each
    tick the families' and parents' messages of the time arrive (:func:`family_news`), and the
    demo staff do what they would have done by then (:func:`act_as_staff`), unless
    ``staff_act`` is false (staff who never react, for comparison)."""
    runtime = runtime_for(app)
    with app.transaction() as session:
        first = session.scalar(select(func.min(Match.created_at)))
    if first is None:
        return
    news = await asyncio.to_thread(family_news, app, now)
    moment = first
    while moment < now:
        due = [e for e in news if e[0] <= moment]
        news = news[len(due) :]
        if due:
            await asyncio.to_thread(_tell, app, due)
        await asyncio.to_thread(answer_child_voice, app, moment)
        if staff_act:
            await asyncio.to_thread(act_as_staff, app, moment)
        await runtime.tick(moment)
        moment += step
    await asyncio.to_thread(_tell, app, news)
    await asyncio.to_thread(answer_child_voice, app, now)
    if staff_act:
        await asyncio.to_thread(act_as_staff, app, now)
    await runtime.tick(now)
    await runtime.close()
