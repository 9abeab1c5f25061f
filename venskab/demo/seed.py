"""The demo's people and matches as of a day: one match per programme at another stage of its year,
the waiting list, a shared moment and matches that ended."""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from followup import moments
from followup.matches import sync_programmes
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
    HouseholdMember,
    Match,
    MatchPause,
    MatchStatus,
    Referral,
    Staff,
    StaffRole,
    Visit,
    VisitStatus,
    VolunteerFamily,
    WaitStatus,
)
from store.models import Programme as ProgrammeRow
from venskab.cli.common import AppContext
from venskab.demo.cast import CAST, ZONE


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
