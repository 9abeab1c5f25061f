"""Operations on matches that change their plan: pause, resume, end, re-match, correct the start
date.

An ending records who ended the match (:class:`EndedBy`) and why (a short :class:`EndReason`
plus free text). What follows is the programme's: its ``early_end`` touchpoints for that kind of
ending (the extra child visit and the re-match question after the volunteer family stopped, two
calls to a family that cannot be reached), or the farewell at a natural end. A re-match is a new
match for the same child that names the one before it (``previous_match_id``).

Each bumps ``match.plan_version`` so the planner re-plans: pending messages no longer in the plan
are cancelled, new ones added. Each writes an audit entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.refused import Refused
from followup.said import said
from scheduler import outbox
from scheduler.i18n import N_
from scheduler.programme import Programme
from scheduler.timeline import Pause
from store import clock
from store.audit import record
from store.models import (
    EndedBy,
    EndReason,
    Escalation,
    EscalationStatus,
    Match,
    MatchNote,
    MatchPause,
    MatchStatus,
    VolunteerFamily,
    WaitStatus,
)
from store.models import (
    Programme as ProgrammeRow,
)
from store.validation import near_today, plausible_start, strip_controls


class MatchError(Refused):
    """The operation does not fit the match's state; the message says why."""


class FarDate(MatchError):
    """A date too far from today to be meant (a typo in the year): the same polite correction
    whether it came from the bot, the web app or the command line."""


def _today() -> date:
    return clock.now().astimezone(ZoneInfo(clock.default_zone())).date()


def check_near(*days: date | None) -> None:
    """Refuse a pause's day more than two years from today."""
    today = _today()
    for day in days:
        if day is not None and not near_today(day, today):
            raise FarDate(
                said(
                    "%(day)s is more than two years from today (%(today)s); check the year",
                    day=day.isoformat(),
                    today=today.isoformat(),
                )
            )


def check_start(day: date) -> None:
    """Refuse a match's start or end before 2000 or more than two years ahead."""
    today = _today()
    if not plausible_start(day, today):
        raise FarDate(
            said(
                "%(day)s is before 2000 or more than two years ahead (today is %(today)s); "
                "check the year",
                day=day.isoformat(),
                today=today.isoformat(),
            )
        )


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
        raise MatchError(said("there is no match with id %(id)s", id=match_id))
    return match


def _touch(match: Match) -> None:
    match.plan_version = (match.plan_version or 1) + 1


def pause(
    session: Session, match: Match, start: date, end: date | None, reason: str, actor: str
) -> MatchPause:
    """Pause visit prompts from ``start`` up to ``end`` (the first day back; None = open)."""
    if match.status == MatchStatus.ENDED:
        raise MatchError(said("match %(id)s has ended and cannot be paused", id=match.id))
    check_near(start, end)
    if end is not None and end <= start:
        raise MatchError(said("the pause must end after it starts (give the first day back)"))
    for existing in match.pauses:
        if Pause(existing.start_date, existing.end_date).covers(start) or (
            existing.start_date >= start and (end is None or existing.start_date < end)
        ):
            raise MatchError(
                said(
                    "match %(id)s already has a pause from %(start)s to %(end)s",
                    id=match.id,
                    start=existing.start_date.isoformat(),
                    end=existing.end_date.isoformat(),
                )
                if existing.end_date
                else said(
                    "match %(id)s already has a pause from %(start)s",
                    id=match.id,
                    start=existing.start_date.isoformat(),
                )
            )
    row = MatchPause(start_date=start, end_date=end, reason=strip_controls(reason).strip()[:200])
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
        raise MatchError(
            said("match %(id)s is not paused on %(day)s", id=match.id, day=on.isoformat())
        )
    current = open_pauses[-1]
    current.end_date = max(on, current.start_date + timedelta(days=1))
    if match.status == MatchStatus.PAUSED:
        match.status = MatchStatus.ACTIVE
    _touch(match)
    session.flush()
    record(session, actor, "match.resume", "match", match.id, on=on.isoformat())
    return current


# The reason each kind of ending implies when none is given.
DEFAULT_REASON = {EndedBy.TERM: EndReason.COMPLETED, EndedBy.UNREACHABLE: EndReason.NO_CONTACT}


def end(
    session: Session,
    match: Match,
    on: date,
    ended_by: EndedBy,
    reason: str,
    actor: str,
    reason_code: EndReason | None = None,
) -> None:
    """End the match on ``on``: who ended it, and why (a code from the short list, and free
    text). What remains of the plan is cancelled at the next planning pass, and the programme's
    steps for this kind of ending are added."""
    if match.status == MatchStatus.ENDED:
        raise MatchError(
            said("match %(id)s has already ended (%(day)s)", id=match.id, day=match.end_date)
        )
    check_start(on)
    if on < match.start_date:
        raise MatchError(said("a match cannot end before it starts"))
    match.status = MatchStatus.ENDED
    match.end_date = on
    match.ended_by = ended_by
    match.end_reason = strip_controls(reason).strip()[:500] or None
    match.end_reason_code = reason_code or DEFAULT_REASON.get(ended_by)
    _touch(match)
    session.flush()
    record(
        session,
        actor,
        "match.end",
        "match",
        match.id,
        on=on.isoformat(),
        ended_by=ended_by.value,
        reason=match.end_reason_code.value if match.end_reason_code else None,
    )
    if ended_by == EndedBy.UNREACHABLE:
        _confirm_unreachable(session, match, actor)


def _confirm_unreachable(session: Session, match: Match, actor: str) -> None:
    """The case that proposed "mark as unreachable" is answered: staff confirmed it."""
    for case in session.scalars(
        select(Escalation).where(
            Escalation.match_id == match.id,
            Escalation.rule == "unreachable",
            Escalation.status != EscalationStatus.RESOLVED,
        )
    ):
        case.status = EscalationStatus.RESOLVED
        case.resolved_at = clock.now()
        case.resolution_note = N_("Marked as unreachable")
        outbox.cancel_pending_alerts(session, case.id)
        record(session, actor, "escalation.resolve", "escalation", case.id, rule=case.rule)


def rematch(
    session: Session,
    previous: Match,
    family: VolunteerFamily,
    start: date,
    actor: str,
    *,
    visit_weekday: int | None = None,
    visit_time: time | None = None,
) -> Match:
    """A new match for the same child, with another volunteer family, after ``previous`` ended.

    It keeps the child, the programme, the parents or contact persons, the staff member, the
    region and the cadence; it names ``previous`` so that reports count it as a re-match."""
    if previous.status != MatchStatus.ENDED or previous.end_date is None:
        raise MatchError(
            said("match %(id)s has not ended: end it before re-matching the child", id=previous.id)
        )
    check_start(start)
    if start < previous.end_date:
        raise MatchError(
            said(
                "the new match must start on or after %(day)s, the day the previous one ended",
                day=previous.end_date.isoformat(),
            )
        )
    if family.id == previous.volunteer_family_id:
        raise MatchError(said("a re-match is with another volunteer family"))
    follower = session.scalars(
        select(Match.id).where(Match.previous_match_id == previous.id)
    ).first()
    if follower is not None:
        raise MatchError(
            said(
                "match %(id)s was re-matched already (match %(next)s)",
                id=previous.id,
                next=follower,
            )
        )
    new = Match(
        programme_id=previous.programme_id,
        child_id=previous.child_id,
        volunteer_family=family,
        staff_id=previous.staff_id,
        region=previous.region or family.region,
        start_date=start,
        visit_weekday=previous.visit_weekday if visit_weekday is None else visit_weekday,
        visit_time=visit_time if visit_time is not None else previous.visit_time,
        cadence=previous.cadence,
        sibling=previous.sibling,
        status=MatchStatus.ACTIVE,
        previous_match_id=previous.id,
    )
    session.add(new)
    new.contacts = list(previous.contacts)
    if family.status != WaitStatus.MATCHED:
        # As a match by import does: the new family leaves the waiting list (no more notes).
        family.status = WaitStatus.MATCHED
        family.status_since = clock.now().astimezone(ZoneInfo(clock.default_zone())).date()
    session.flush()
    record(session, actor, "match.rematch", "match", new.id, previous=previous.id)
    return new


def correct_start(session: Session, match: Match, start: date, actor: str) -> None:
    check_start(start)
    if match.end_date is not None and start >= match.end_date:
        raise MatchError(said("the start date must be before the end date"))
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


NOTE_MAX = 2000


def add_note(
    session: Session, match: Match, text: str, staff_id: int | None, now: datetime, actor: str
) -> MatchNote:
    """A staff member's note on the match (a call, a conversation). The audit entry names the
    note, never its text."""
    cleaned = strip_controls(text).strip()[:NOTE_MAX]
    if len(cleaned) < 2:
        raise MatchError(said("write the note first"))
    note = MatchNote(match_id=match.id, staff_id=staff_id, text=cleaned, created_at=now)
    session.add(note)
    session.flush()
    record(session, actor, "match.note", "match", match.id, note=note.id)
    return note
