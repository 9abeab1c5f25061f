"""Operations on matches that change their plan: pause, resume, end, correct the start date.

Each bumps ``match.plan_version`` so the planner re-plans: pending messages no longer in the plan
are cancelled, new ones added. Each writes an audit entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.programme import CadenceName, Programme
from scheduler.sparring import materialise
from scheduler.timeline import MatchFacts, Pause, SparringDate, sparring_dates
from store.audit import record
from store.models import (
    EndedBy,
    Match,
    MatchPause,
    MatchStatus,
    SparringSession,
)
from store.models import (
    Programme as ProgrammeRow,
)


class MatchError(ValueError):
    """The operation does not fit the match's state; the message says why."""


def sync_programmes(session: Session, programmes: Iterable[Programme]) -> dict[str, ProgrammeRow]:
    """Mirror the programme files into the ``programme`` table, by slug."""
    rows = {row.slug: row for row in session.scalars(select(ProgrammeRow))}
    for programme in programmes:
        row = rows.get(programme.id)
        if row is None:
            row = ProgrammeRow(slug=programme.id, name=programme.name)
            session.add(row)
            rows[programme.id] = row
        row.name = programme.name
        row.organisation = programme.organisation
        row.config_hash = programme.source_hash
    session.flush()
    return rows


def get_match(session: Session, match_id: int) -> Match:
    match = session.get(Match, match_id)
    if match is None:
        raise MatchError(f"there is no match with id {match_id}")
    return match


def _touch(match: Match) -> None:
    match.plan_version = (match.plan_version or 1) + 1


def pause(
    session: Session, match: Match, start: date, end: date | None, reason: str, actor: str
) -> MatchPause:
    """Pause visit prompts from ``start`` up to ``end`` (the first day back; None = open)."""
    if match.status == MatchStatus.ENDED:
        raise MatchError(f"match {match.id} has ended and cannot be paused")
    if end is not None and end <= start:
        raise MatchError("the pause must end after it starts (give the first day back)")
    for existing in match.pauses:
        if Pause(existing.start_date, existing.end_date).covers(start) or (
            existing.start_date >= start and (end is None or existing.start_date < end)
        ):
            raise MatchError(
                f"match {match.id} already has a pause from {existing.start_date.isoformat()}"
                f"{' to ' + existing.end_date.isoformat() if existing.end_date else ''}"
            )
    row = MatchPause(start_date=start, end_date=end, reason=reason[:200])
    match.pauses.append(row)
    if end is None:
        match.status = MatchStatus.PAUSED
    _touch(match)
    session.flush()
    record(
        session,
        actor,
        "match.pause",
        "match",
        match.id,
        start=start.isoformat(),
        end=end.isoformat() if end else None,
    )
    return row


def resume(session: Session, match: Match, on: date, actor: str) -> MatchPause:
    """End the open pause: ``on`` is the first day back."""
    open_pauses = [p for p in match.pauses if p.end_date is None or p.end_date > on]
    open_pauses = [p for p in open_pauses if p.start_date <= on]
    if not open_pauses:
        raise MatchError(f"match {match.id} is not paused on {on.isoformat()}")
    current = open_pauses[-1]
    current.end_date = max(on, current.start_date + timedelta(days=1))
    if match.status == MatchStatus.PAUSED:
        match.status = MatchStatus.ACTIVE
    _touch(match)
    session.flush()
    record(session, actor, "match.resume", "match", match.id, on=on.isoformat())
    return current


def end(
    session: Session, match: Match, on: date, ended_by: EndedBy, reason: str, actor: str
) -> None:
    """End the match on ``on``. What remains of the plan is cancelled at the next planning pass,
    and the programme's early-end touchpoints are added."""
    if match.status == MatchStatus.ENDED:
        raise MatchError(f"match {match.id} has already ended ({match.end_date})")
    if on < match.start_date:
        raise MatchError("a match cannot end before it starts")
    match.status = MatchStatus.ENDED
    match.end_date = on
    match.ended_by = ended_by
    match.end_reason = reason[:500] or None
    _touch(match)
    session.flush()
    record(
        session, actor, "match.end", "match", match.id, on=on.isoformat(), ended_by=ended_by.value
    )


def correct_start(session: Session, match: Match, start: date, actor: str) -> None:
    if match.end_date is not None and start >= match.end_date:
        raise MatchError("the start date must be before the end date")
    old = match.start_date
    match.start_date = start
    _touch(match)
    session.flush()
    record(
        session,
        actor,
        "match.correct_start",
        "match",
        match.id,
        old=old.isoformat(),
        new=start.isoformat(),
    )


def facts_for(
    session: Session,
    match: Match,
    programme: Programme,
    sparring: tuple[SparringDate, ...] | None = None,
) -> MatchFacts:
    """The plain facts the pure timeline needs, read from the database.

    ``sparring``: the sessions of the match's programme and region, when the caller has them
    already (the planner looks them up once per programme and region, not once per match).
    """
    zone_name = match.volunteer_family.timezone or "Europe/Copenhagen"
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
    )


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
    """Sessions from the programme's rule between two dates, replaced by any session staff
    created on the same date (for the programme, in the region or for all regions).

    The rule's sessions are materialised as rows first (idempotently), so every session has an
    id that invitations and RSVPs can refer to. On one date a regional session wins over one for
    all regions, and a later one over an earlier one.
    """
    materialise(session, programme_id, sparring_dates(programme, first, last, zone))
    dates: dict[str, SparringDate] = {}
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


def local_today(now: datetime, zone_name: str) -> date:
    return now.astimezone(ZoneInfo(zone_name)).date()
