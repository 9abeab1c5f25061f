"""Operations on matches that change their plan: pause, resume, end, correct the start date.

Each bumps ``match.plan_version`` so the planner re-plans: pending messages no longer in the plan
are cancelled, new ones added. Each writes an audit entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.programme import Programme
from scheduler.timeline import Pause
from store.audit import record
from store.models import (
    EndedBy,
    Match,
    MatchNote,
    MatchPause,
    MatchStatus,
)
from store.models import (
    Programme as ProgrammeRow,
)
from store.validation import strip_controls


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


NOTE_MAX = 2000


def add_note(
    session: Session, match: Match, text: str, staff_id: int | None, now: datetime, actor: str
) -> MatchNote:
    """A staff member's note on the match (a call, a conversation). The audit entry names the
    note, never its text."""
    cleaned = strip_controls(text).strip()[:NOTE_MAX]
    if len(cleaned) < 2:
        raise MatchError("write the note first")
    note = MatchNote(match_id=match.id, staff_id=staff_id, text=cleaned, created_at=now)
    session.add(note)
    session.flush()
    record(session, actor, "match.note", "match", match.id, note=note.id)
    return note
