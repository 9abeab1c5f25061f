"""The plain facts the pure timeline needs, read from the database, and the sparring sessions
a programme's rule declares.

Reading never writes: :func:`facts_for` and :func:`sparring_window` give the rule's sessions
merged with the stored ones (a session not yet stored has no id). Only the planner stores the
rule's sessions, with :func:`materialise`, so that invitations and RSVPs can name them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from scheduler.programme import CadenceName, Programme
from scheduler.school_calendar import SchoolHoliday, shipped_calendar
from scheduler.timeline import MatchFacts, Pause, SparringDate, sparring_dates
from store.models import Match, SparringSession

_UNIQUE = ["programme_id", "region", "starts_at"]


def facts_for(
    session: Session,
    match: Match,
    programme: Programme,
    sparring: tuple[SparringDate, ...] | None = None,
) -> MatchFacts:
    """The facts of one match.

    ``sparring``: the sessions of the match's programme and region, when the caller has them
    already (the planner looks them up once per programme and region, not once per match).
    """
    zone_name = match.volunteer_family.timezone
    if sparring is None:
        sparring = sparring_for(session, match, programme, ZoneInfo(zone_name))
    return MatchFacts(
        start_date=match.start_date,
        visit_weekday=match.visit_weekday,
        cadence=CadenceName(match.cadence.value),
        timezone=zone_name,
        pauses=tuple(Pause(p.start_date, p.end_date) for p in match.pauses),
        end_date=match.end_date,
        ended_by=match.ended_by.value if match.ended_by else None,
        sparring=sparring,
        school_holidays=school_holidays_for(match, programme),
    )


def school_holidays_for(match: Match, programme: Programme) -> tuple[SchoolHoliday, ...]:
    """The school holidays of the match's municipality (else its region), for a programme that
    asks families about them; none for the others. The same tuple for every match of one
    municipality, so the planner keys its timelines by it cheaply."""
    if not programme.asks_about_school_holidays:
        return ()
    return shipped_calendar().holidays(match.municipality or match.region)


def sparring_for(
    session: Session, match: Match, programme: Programme, zone: ZoneInfo
) -> tuple[SparringDate, ...]:
    """The sessions a match can be invited to, from its start to its (planned) end."""
    last = match.end_date or (
        match.start_date + programme.duration.delta
        if programme.duration
        else match.start_date + timedelta(days=800)
    )
    return sparring_window(
        session, match.programme_id, match.region, programme, zone, match.start_date, last
    )


def sparring_window(
    session: Session,
    programme_id: int,
    region: str,
    programme: Programme,
    zone: ZoneInfo,
    first: date,
    last: date,
) -> tuple[SparringDate, ...]:
    """Sessions from the programme's rule between two dates, replaced by any stored session on
    the same date (for the programme, in the region or for all regions).

    On one date a regional session wins over one for all regions, and a later one over an
    earlier one. A rule's session that is not stored yet has no ``session_id``.
    """
    dates: dict[str, SparringDate] = {
        d.key: d for d in sparring_dates(programme, first, last, zone) if d.session_id is None
    }
    stored = session.scalars(
        select(SparringSession)
        .where(
            SparringSession.programme_id == programme_id,
            SparringSession.region.in_(["", region]),
        )
        .order_by(SparringSession.region, SparringSession.id)
    )
    for row in stored:
        local = row.starts_at.astimezone(zone)
        dates[local.date().isoformat()] = SparringDate(local.date().isoformat(), local, row.id)
    return tuple(sorted(dates.values(), key=lambda s: s.starts_at))


def materialise(session: Session, programme_id: int, dates: Iterable[SparringDate]) -> int:
    """Give each session of a programme's rule a row (for all regions), once; returns rows added.

    One INSERT ... ON CONFLICT DO NOTHING on the (programme, region, start) unique index, so two
    planners on two replicas cannot create a session twice.
    """
    wanted = {d.starts_at.astimezone(UTC) for d in dates if d.session_id is None}
    if not wanted:
        return 0
    # Read first: after the first pass every session exists, and a read takes no write lock.
    existing = set(
        session.scalars(
            select(SparringSession.starts_at).where(
                SparringSession.programme_id == programme_id,
                SparringSession.region == "",
                SparringSession.starts_at.between(min(wanted), max(wanted)),
            )
        )
    )
    rows = [
        {"programme_id": programme_id, "region": "", "starts_at": moment}
        for moment in sorted(wanted - existing)
    ]
    if not rows:
        return 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(SparringSession)
        .on_conflict_do_nothing(index_elements=_UNIQUE)
        .returning(SparringSession.id)
    )
    return len(session.execute(stmt, rows).all())


def local_today(now: datetime, zone_name: str) -> date:
    return now.astimezone(ZoneInfo(zone_name)).date()
