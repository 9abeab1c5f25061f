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
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from followup.refused import Refused
from followup.said import said
from scheduler.programme import Programme
from store.audit import record as audit
from store.models import Match, StaffContact, Task, TaskStatus

PARTIES = ("volunteer_family", "contact_person")
KINDS = ("call", "visit", "meeting")


class ContactError(Refused):
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
        raise ContactError(
            said("a contact is with %(parties)s, not %(party)r", parties=PARTIES, party=party)
        )
    if kind not in KINDS:
        raise ContactError(
            said("a contact is one of %(kinds)s, not %(kind)r", kinds=KINDS, kind=kind)
        )
    if on > today:
        raise ContactError(
            said("%(day)s is in the future: record a contact once it happened", day=on.isoformat())
        )
    if on < match.start_date:
        raise ContactError(
            said(
                "%(day)s is before the match started (%(start)s)",
                day=on.isoformat(),
                start=match.start_date.isoformat(),
            )
        )
    contact = StaffContact(match_id=match.id, party=party, kind=kind, on_date=on, staff_id=staff_id)
    session.add(contact)
    session.flush()
    audit(session, actor, "contact.add", "match", match.id, party=party, kind=kind)
    return contact


def last_contacts(
    session: Session,
    matches: Iterable[Match],
    programmes: Mapping[str, Programme],
    zone: str,
    until: date | None = None,
) -> dict[tuple[int, str], date]:
    """The day of each match's last contact with each party (up to ``until``), in two queries."""
    by_id = {m.id: m for m in matches}
    found: dict[tuple[int, str], date] = {}

    def seen(match_id: int, party: str, day: date) -> None:
        key = (match_id, party)
        if key not in found or found[key] < day:
            found[key] = day

    if not by_id:
        return found
    local = ZoneInfo(zone)
    recorded = select(StaffContact.match_id, StaffContact.party, func.max(StaffContact.on_date))
    done = select(Task.match_id, Task.touchpoint_id, func.max(Task.completed_at)).where(
        Task.completed_at.is_not(None)
    )
    if until is not None:
        recorded = recorded.where(StaffContact.on_date <= until)
        day_after = datetime.combine(until + timedelta(days=1), datetime.min.time(), tzinfo=local)
        done = done.where(Task.completed_at < day_after)
    for match_id, party, day in session.execute(
        recorded.where(StaffContact.match_id.in_(by_id)).group_by(
            StaffContact.match_id, StaffContact.party
        )
    ):
        seen(match_id, party, day)
    for task_match, touchpoint_id, done_at in session.execute(
        done.where(
            Task.match_id.in_(by_id),
            Task.status == TaskStatus.DONE,
            Task.touchpoint_id.is_not(None),
        ).group_by(Task.match_id, Task.touchpoint_id)
    ):
        match = by_id.get(task_match) if task_match is not None else None
        if match is None or done_at is None or touchpoint_id is None:
            continue
        with_whom = counterpart(match, touchpoint_id, programmes)
        if with_whom is not None:
            seen(match.id, with_whom, _day(done_at, local))
    return found


def counterpart(
    match: Match, touchpoint_id: str, programmes: Mapping[str, Programme]
) -> str | None:
    """The party a staff task of ``match`` is a contact with, if any."""
    programme = programmes.get(match.programme.slug)
    if programme is None:
        return None
    try:
        found = programme.touchpoint(touchpoint_id).counterpart
    except KeyError:
        return None
    return found.value if found is not None and found.value in PARTIES else None


def _day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def next_due(
    match: Match, programme: Programme, last: Mapping[tuple[int, str], date]
) -> dict[str, date]:
    """Per party of the programme's standard, the last day its next contact is due."""
    standard = programme.contact_standard
    if standard is None:
        return {}
    due = {}
    for party, rhythm in standard.rhythms().items():
        previous = last.get((match.id, party))
        if previous is None:
            due[party] = (rhythm.first or rhythm.every).add(match.start_date)
        else:
            due[party] = rhythm.every.add(previous)
    return due


def behind(
    match: Match, programme: Programme, last: Mapping[tuple[int, str], date], today: date
) -> list[Behind]:
    """The parties whose next contact was due before ``today``."""
    return [
        Behind(party, due, last.get((match.id, party)))
        for party, due in next_due(match, programme, last).items()
        if due < today
    ]
