"""Demo data for the embedded default: one match per programme, each at another stage of its year.

People are named by role only ("Barn A", "Venskabsfamilie 1"); phone numbers and addresses are
example values. After seeding, the past is replayed through the real planner and dispatcher with
sandbox channels, so the outbox shows what the system would have sent until today. The demo's
staff members act on their cases as diligent staff do (:func:`act_as_staff`), so the volumes of
staff messages are those of real use; ``bench/demo_year.py`` counts them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from followup import contacts
from followup.alert_rows import next_working_moment
from followup.alerts import acknowledge, resolve
from followup.escalations import raise_escalation
from followup.matches import sync_programmes
from followup.survey_defs import default_surveys
from followup.survey_results import complete as complete_survey
from followup.survey_results import save_answers
from followup.tasks import complete, open_tasks
from scheduler.facts import facts_for
from scheduler.programme import Kind
from scheduler.timeline import occurrences
from store.models import (
    Cadence,
    CancelledBy,
    Child,
    ContactPerson,
    Escalation,
    EscalationStatus,
    Locale,
    Match,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    Severity,
    Staff,
    StaffRole,
    SurveyInvitation,
    Visit,
    VisitStatus,
    VolunteerFamily,
)
from venskab.cli.common import AppContext

ZONE = ZoneInfo("Europe/Copenhagen")

# (programme, child, weeks since start, weekday, cadence, contact locale)
CAST = [
    ("hjem-til-os", "Barn A", 2018, 17, 0, Cadence.WEEKLY, Locale.DA),
    ("mentorbarn", "Barn B", 2014, 3, 2, Cadence.TWO_THREE_MONTHLY, Locale.EN),
    ("familien-i-fokus", "Barn C", 2019, 46, 3, Cadence.BIWEEKLY, Locale.DA),
]


def seed_if_empty(app: AppContext, now: datetime) -> bool:
    """Seed when the database has no matches; returns whether it did. Replay separately."""
    with app.transaction() as session:
        if session.scalar(select(func.count()).select_from(Match)):
            return False
    seed(app, now)
    return True


def seed(app: AppContext, now: datetime) -> list[int]:
    today = now.astimezone(ZONE).date()
    rng = random.Random(7)
    ids: list[int] = []
    with app.transaction() as session:
        rows = sync_programmes(session, app.programmes.values())
        lead = Staff(
            name="Procesleder (demo)",
            external_ref="demo-procesleder",
            role=StaffRole.PROCESLEDER,
            region="Hovedstaden",
            email="procesleder@example.org",
            phone="+4520123401",
        )
        coordinator = Staff(
            name="Koordinator (demo)",
            external_ref="demo-koordinator",
            role=StaffRole.COORDINATOR,
            region="Hovedstaden",
            email="koordinator@example.org",
            phone="+4520123402",
        )
        session.add_all([lead, coordinator])
        for number, (slug, child_name, birth_year, weeks, weekday, cadence, locale) in enumerate(
            CAST, start=1
        ):
            if slug not in rows:
                continue
            family = VolunteerFamily(
                name=f"Venskabsfamilie {number} (demo)",
                contact_name=f"Kontaktvoksen {number}",
                region="Hovedstaden",
                phone=f"+452012341{number}",
                email=f"familie{number}@example.org",
            )
            contact = ContactPerson(
                name=f"Forælder {number}",
                phone=f"+452012342{number}",
                email=f"foraelder{number}@example.org",
                locale=locale,
            )
            start = today - timedelta(weeks=weeks)
            start -= timedelta(days=(start.weekday() - weekday) % 7)
            match = Match(
                programme=rows[slug],
                child=Child(first_name=child_name, birth_year=birth_year),
                volunteer_family=family,
                staff=lead,
                region="Hovedstaden",
                start_date=start,
                visit_weekday=weekday,
                visit_time=time(15, 30),
                cadence=cadence,
                status=MatchStatus.ACTIVE,
                contacts=[contact],
                created_at=datetime.combine(start, time(8, 0), tzinfo=ZONE).astimezone(UTC),
            )
            session.add(match)
            session.flush()
            ids.append(match.id)
            programme = app.programmes[slug]
            facts = facts_for(session, match, programme)
            # The family answered most visit prompts; one visit fell through to illness.
            for occ in occurrences(programme, facts, now):
                if occ.touchpoint.kind != Kind.VISIT_PROMPT or occ.day >= today - timedelta(days=1):
                    continue
                roll = rng.random()
                if roll < 0.08:
                    visit = Visit(
                        match_id=match.id,
                        planned_date=occ.day,
                        status=VisitStatus.CANCELLED,
                        cancelled_by=CancelledBy.ILLNESS,
                    )
                elif roll < 0.15:
                    continue  # unanswered: the prompt and its reminder went out
                else:
                    visit = Visit(
                        match_id=match.id,
                        planned_date=occ.day,
                        status=VisitStatus.VISITED,
                        times=rng.choice([2, 3]) if cadence == Cadence.TWO_THREE_MONTHLY else None,
                    )
                visit.reported_at = occ.due_utc + timedelta(hours=1)
                session.add(visit)
    return ids


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
        for match in matches:
            moment = match.created_at + timedelta(days=7)
            while moment < now:
                for rule, chance, severity, text in NEWS:
                    if rng.random() < chance:
                        at = moment + timedelta(days=rng.randrange(7), hours=rng.randrange(10, 13))
                        events.append((at, match.id, rule, severity, text))
                moment += timedelta(days=7)
    return sorted(e for e in events if e[0] < now)


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
            if case.status == EscalationStatus.OPEN and case.push_count and case.last_notified_at:
                seen = next_working_moment(case.last_notified_at, ZONE)
                if seen + ACK_WITHIN <= now:
                    acknowledge(session, case.id, case.staff_id, seen + ACK_WITHIN, via="demo")
            elif case.status == EscalationStatus.ACKNOWLEDGED and case.acknowledged_at:
                settled = next_working_moment(case.acknowledged_at + RESOLVE_AFTER, ZONE)
                if settled <= now:
                    note = "Talt med familien; fulgt op." if case.match_id else "Set på."
                    resolve(session, case.id, case.staff_id, settled, note)
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
            contacts.record(session, match, late.party, "call", today, today, actor="demo")


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


# The demo's staff members by email, and the username each signs in with.
DEMO_LOGINS = {
    "procesleder@example.org": "demo-procesleder",
    "koordinator@example.org": "demo-koordinator",
}


def demo_logins(app: AppContext, now: datetime) -> list[tuple[str, str, str]]:
    """New random web app passwords for the demo's staff members, each start (embedded default
    only): (username, password, role) to print. Nothing when the demo's staff are not there."""
    import secrets

    from followup.staff_auth import set_password

    logins = []
    with app.transaction() as session:
        for email, username in DEMO_LOGINS.items():
            member = session.scalars(select(Staff).where(Staff.email == email)).first()
            if member is None:
                continue
            if member.external_ref is None:
                member.external_ref = username
            password = "-".join(secrets.token_urlsafe(4) for _ in range(3))
            set_password(session, member, password, now, actor="demo")
            logins.append((member.external_ref, password, member.role.value))
    return logins
