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
import struct
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from followup import contacts, moments
from followup.alert_rows import next_working_moment
from followup.alerts import acknowledge, resolve
from followup.escalations import raise_escalation
from followup.matches import sync_programmes
from followup.survey_defs import default_surveys
from followup.survey_results import complete as complete_survey
from followup.survey_results import save_answers
from followup.tasks import complete, open_tasks
from scheduler.facts import facts_for, school_holidays_for
from scheduler.programme import Kind, Programme
from scheduler.timeline import occurrences
from store.models import (
    Cadence,
    CancelledBy,
    Child,
    ContactPerson,
    EndedBy,
    EndReason,
    Escalation,
    EscalationStatus,
    HouseholdMember,
    Locale,
    Match,
    MatchPause,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    Referral,
    ResolutionOutcome,
    Severity,
    Staff,
    StaffRole,
    SurveyInvitation,
    Visit,
    VisitStatus,
    VolunteerFamily,
    WaitStatus,
)
from store.models import Programme as ProgrammeRow
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
            family.status, family.status_since = WaitStatus.MATCHED, start
            family.programme_id = rows[slug].id
            programme = app.programmes[slug]
            if programme.asks_about_school_holidays:
                match.municipality = "Københavns Kommune"
                _paused_last_holiday(match, programme, today)
            session.add(match)
            session.flush()
            ids.append(match.id)
            _household(session, family, number, today)
            if number == 1:
                _share_a_moment(session, match, contact, programme, now)
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
        _waiting_list(session, rows, lead, today)
        ids.extend(_seed_endings(session, rows, coordinator, today))
    return ids


def _household(session: Session, family: VolunteerFamily, number: int, today: date) -> None:
    """Each demo family's adult with certificates; the first family's run out in 40 days (a
    renewal task), and its teenager turns 15 this year without certificates (a task)."""
    issued = today - timedelta(days=365 * 2 - 40) if number == 1 else today - timedelta(days=200)
    session.add(
        HouseholdMember(
            volunteer_family_id=family.id,
            first_name=f"Voksen {'ABC'[number - 1]}",
            birth_year=1980 + number,
            child_certificate_on=issued,
            criminal_record_on=issued,
        )
    )
    if number == 1:
        session.add(
            HouseholdMember(
                volunteer_family_id=family.id, first_name="Ung A", birth_year=today.year - 15
            )
        )


def _waiting_list(
    session: Session, rows: Mapping[str, ProgrammeRow], lead: Staff, today: date
) -> None:
    """Who waits for a match: an approved family for 13 weeks (past Hjem til Os's 12: a task),
    a referred child for 8 weeks, and a family still being screened."""
    programme = rows.get("hjem-til-os")
    if programme is None:
        return
    session.add_all(
        [
            VolunteerFamily(
                name="Venskabsfamilie 4 (demo)",
                contact_name="Kontaktvoksen 4",
                region="Hovedstaden",
                phone="+4520123414",
                email="familie4@example.org",
                status=WaitStatus.WAITING,
                status_since=today - timedelta(weeks=13),
                programme_id=programme.id,
                created_at=datetime.combine(today - timedelta(weeks=13), time(8), tzinfo=ZONE),
            ),
            VolunteerFamily(
                name="Venskabsfamilie 5 (demo)",
                contact_name="Kontaktvoksen 5",
                region="Hovedstaden",
                phone="+4520123415",
                status=WaitStatus.SCREENING,
                status_since=today - timedelta(weeks=2),
                programme_id=programme.id,
            ),
            Referral(
                programme_id=programme.id,
                child=Child(first_name="Barn D", birth_year=2017),
                contact_person=ContactPerson(
                    name="Forælder 4", phone="+4520123424", email="foraelder4@example.org"
                ),
                staff=lead,
                region="Hovedstaden",
                status=WaitStatus.WAITING,
                status_since=today - timedelta(weeks=8),
            ),
        ]
    )
    session.flush()


def _share_a_moment(
    session: Session, match: Match, contact: ContactPerson, programme: Programme, now: datetime
) -> None:
    """The first demo parent agreed to photos at the start, and the family sent a greeting with
    a photo after last week's visit (it goes out in the replay, by SMS with a link)."""
    moments.record_consent(session, contact, True, match.start_date, "demo")
    day = now.astimezone(ZONE).date() - timedelta(days=6)
    shared_at = datetime.combine(day, time(19, 30), tzinfo=ZONE).astimezone(UTC)
    moment = moments.draft(session, match, shared_at)
    text = "Vi bagte boller i dag, og Barn A pyntede dem selv. Hun var så stolt!"
    moments.set_text(moment, text, "da")
    moments.set_photo(moment, demo_photo())
    moments.send(session, moment, match, programme, now=shared_at, actor="demo")


def demo_photo(width: int = 240, height: int = 160) -> bytes:
    """A small PNG for the demo's shared moment: a sun over a green hill on a blue sky."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type 0 for every row
        for x in range(width):
            if (x - 60) ** 2 + (y - 45) ** 2 < 22**2:
                pixel = (250, 200, 40)
            elif y > height - 40 + ((x - width // 2) ** 2) // 400:
                pixel = (60, 150, 70)
            else:
                pixel = (120, 180, 235)
            row += bytes(pixel)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def _seed_endings(
    session: Session, rows: dict[str, ProgrammeRow], lead: Staff, today: date
) -> list[int]:
    """Around the match, endings, followed by the demo's coordinator: Barn F's volunteer family
    stopped early seven weeks ago (the parent was told, the extra child visit and the re-match
    question followed) and Barn F was re-matched with another family four weeks ago; Barn G's
    match came in eight days ago and nothing has been heard from its family since its start six
    weeks ago, so a case proposes to mark it unreachable."""
    if "hjem-til-os" not in rows:
        return []
    programme = rows["hjem-til-os"]

    def family(number: int) -> VolunteerFamily:
        return VolunteerFamily(
            name=f"Venskabsfamilie {number} (demo)",
            contact_name=f"Kontaktvoksen {number}",
            region="Hovedstaden",
            phone=f"+452012341{number}",
            email=f"familie{number}@example.org",
        )

    def match(
        child: Child, number: int, start: date, contact: ContactPerson, weekday: int = 1
    ) -> Match:
        start -= timedelta(days=(start.weekday() - weekday) % 7)  # visits on Tuesdays
        return Match(
            programme=programme,
            child=child,
            volunteer_family=family(number),
            staff=lead,
            region="Hovedstaden",
            start_date=start,
            visit_weekday=weekday,
            visit_time=time(16, 0),
            cadence=Cadence.WEEKLY,
            status=MatchStatus.ACTIVE,
            contacts=[contact],
            created_at=datetime.combine(start, time(8, 0), tzinfo=ZONE).astimezone(UTC),
        )

    def visited(m: Match, last: date) -> None:
        day = m.start_date + timedelta(weeks=1)
        while day < last:
            reported = datetime.combine(day, time(20, 0), tzinfo=ZONE).astimezone(UTC)
            session.add(
                Visit(
                    match_id=m.id,
                    planned_date=day,
                    status=VisitStatus.VISITED,
                    reported_at=reported,
                )
            )
            day += timedelta(weeks=1)

    parent_d = ContactPerson(name="Forælder 7", phone="+4520123427", email="foraelder7@example.org")
    child_d = Child(first_name="Barn F", birth_year=2017)
    first = match(child_d, 7, today - timedelta(weeks=20), parent_d)
    first.status = MatchStatus.ENDED
    first.end_date = first.start_date + timedelta(weeks=13)
    first.ended_by = EndedBy.VOLUNTEER_FAMILY
    first.end_reason_code = EndReason.NO_TIME
    first.end_reason = "Vi har ikke længere tid i hverdagen."
    session.add(first)
    session.flush()
    visited(first, first.end_date)
    second = match(child_d, 8, first.end_date + timedelta(weeks=3), parent_d)
    second.previous_match_id = first.id
    session.add(second)
    session.flush()
    visited(second, today - timedelta(days=1))

    parent_e = ContactPerson(name="Forælder 9", phone="+4520123429", email="foraelder9@example.org")
    # Imported eight days ago from the organisation's own records, six weeks after it started:
    # nothing has been heard from the family since, so the proposal is a day old.
    began = today - timedelta(days=43)
    silent = match(Child(first_name="Barn G", birth_year=2019), 9, began, parent_e, began.weekday())
    silent.created_at = datetime.combine(
        today - timedelta(days=8), time(8, 0), tzinfo=ZONE
    ).astimezone(UTC)
    session.add(silent)
    session.flush()
    return [first.id, second.id, silent.id]


def _paused_last_holiday(match: Match, programme: Programme, today: date) -> None:
    """The family answered "no" to the question before the last school holiday: no visits then."""
    past = [
        h
        for h in school_holidays_for(match, programme)
        if match.start_date + timedelta(days=7) <= h.first and h.last < today
    ]
    if past:
        holiday = past[-1]
        match.pauses.append(
            MatchPause(
                start_date=holiday.first,
                end_date=holiday.last + timedelta(days=1),
                reason=f"school holiday {holiday.key}",
            )
        )


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
