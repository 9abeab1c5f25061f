"""The contact standard: how often staff promise to be in touch with a match's parties, and
whether they kept it.

A programme's ``contact_standard`` gives each party (the volunteer family, the parent or contact
person) a rhythm: a first contact at the latest ``first`` after the start, then at most ``every``
between two. A contact is a staff task finished as done whose counterpart is that party (the call
after the first solo visit, the follow-up conversation...), or one recorded by hand with
:func:`record` (``venskab contact add``) for what happened outside the system. A match behind its
standard is a normal case (``contact_overdue``) for its staff member; recording the missing
contact resolves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.programme import Programme
from store.audit import record as audit
from store.models import Match, StaffContact, Task, TaskStatus

PARTIES = ("volunteer_family", "contact_person")
KINDS = ("call", "visit", "meeting")


class ContactError(ValueError):
    """A contact that cannot be recorded; the message says why, to the person recording it."""


@dataclass(frozen=True)
class Behind:
    """A party the match's staff have not been in touch with as promised."""

    party: str
    due: date  # the last day the next contact was due
    last: date | None  # the last contact, if any


def record(
    session: Session,
    match: Match,
    party: str,
    kind: str,
    on: date,
    today: date,
    staff_id: int | None = None,
    actor: str = "cli",
) -> StaffContact:
    """Record a contact that happened outside the system (never in the future)."""
    if party not in PARTIES:
        raise ContactError(f"a contact is with {' or '.join(PARTIES)}, not {party!r}")
    if kind not in KINDS:
        raise ContactError(f"a contact is a {', a '.join(KINDS)}, not {kind!r}")
    if on > today:
        raise ContactError(f"{on.isoformat()} is in the future: record a contact once it happened")
    if on < match.start_date:
        raise ContactError(
            f"{on.isoformat()} is before the match started ({match.start_date.isoformat()})"
        )
    contact = StaffContact(match_id=match.id, party=party, kind=kind, on_date=on, staff_id=staff_id)
    session.add(contact)
    session.flush()
    audit(session, actor, "contact.add", "match", match.id, party=party, kind=kind)
    return contact


def last_contacts(
    session: Session, matches: Iterable[Match], programmes: Mapping[str, Programme], zone: str
) -> dict[tuple[int, str], date]:
    """The day of each match's last contact with each party, in two queries."""
    by_id = {m.id: m for m in matches}
    found: dict[tuple[int, str], date] = {}

    def seen(match_id: int, party: str, day: date) -> None:
        key = (match_id, party)
        if key not in found or found[key] < day:
            found[key] = day

    if not by_id:
        return found
    for match_id, party, day in session.execute(
        select(StaffContact.match_id, StaffContact.party, func.max(StaffContact.on_date))
        .where(StaffContact.match_id.in_(by_id))
        .group_by(StaffContact.match_id, StaffContact.party)
    ):
        seen(match_id, party, day)
    local = ZoneInfo(zone)
    for task_match, touchpoint_id, done_at in session.execute(
        select(Task.match_id, Task.touchpoint_id, func.max(Task.completed_at))
        .where(
            Task.match_id.in_(by_id),
            Task.status == TaskStatus.DONE,
            Task.touchpoint_id.is_not(None),
            Task.completed_at.is_not(None),
        )
        .group_by(Task.match_id, Task.touchpoint_id)
    ):
        match = by_id.get(task_match) if task_match is not None else None
        programme = programmes.get(match.programme.slug) if match is not None else None
        if match is None or programme is None or done_at is None or touchpoint_id is None:
            continue
        try:
            counterpart = programme.touchpoint(touchpoint_id).counterpart
        except KeyError:
            continue
        if counterpart is not None:
            seen(match.id, counterpart.value, _day(done_at, local))
    return found


def _day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def behind(
    match: Match, programme: Programme, last: Mapping[tuple[int, str], date], today: date
) -> list[Behind]:
    """The parties whose next contact was due before ``today``."""
    standard = programme.contact_standard
    if standard is None:
        return []
    late = []
    for party, rhythm in standard.rhythms().items():
        previous = last.get((match.id, party))
        if previous is None:
            due = (rhythm.first or rhythm.every).add(match.start_date)
        else:
            due = rhythm.every.add(previous)
        if due < today:
            late.append(Behind(party, due, previous))
    return late
