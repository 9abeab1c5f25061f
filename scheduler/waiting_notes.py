"""A waiting-list note at send time: who it is for as they are now, and what its template needs.

The notes are planned by the domain (:mod:`followup.waiting`); the engine renders and sends them
like every outbox row, and cancels a note whose party is no longer waiting (:func:`recipient_for`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.i18n import N_
from scheduler.programme import Programme
from scheduler.recipients import Recipient, contact_recipient, family_recipient
from store.models import (
    ContactPerson,
    Match,
    MatchStatus,
    Referral,
    Staff,
    StaffRole,
    VolunteerFamily,
    WaitStatus,
)

TOUCHPOINT = "waiting-note"
KIND = "waiting_note"
TEMPLATE = "waiting_note"
NOT_WAITING = N_("no longer waiting for a match")


def weeks_since(since: date, day: date) -> int:
    return max((day - since).days // 7, 0)


class Owners:
    """Who a waiting party's or a household's task goes to (looked up once per pass)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._running: dict[int, Match | None] = {}
        self._coordinators: list[Staff] | None = None

    def running_match(self, family_id: int) -> Match | None:
        """The family's running match (the oldest), looked up once per family and pass."""
        if family_id not in self._running:
            self._running[family_id] = self.session.scalars(
                select(Match)
                .where(Match.volunteer_family_id == family_id, Match.status != MatchStatus.ENDED)
                .order_by(Match.id)
                .limit(1)
            ).first()
        return self._running.get(family_id)

    def coordinator(self, region: str) -> Staff | None:
        if self._coordinators is None:
            self._coordinators = list(
                self.session.scalars(
                    select(Staff)
                    .where(
                        Staff.active.is_(True),
                        Staff.role.in_((StaffRole.COORDINATOR, StaffRole.ADMIN)),
                    )
                    .order_by(Staff.role, Staff.id)
                )
            )
        ranked = sorted(
            self._coordinators,
            key=lambda s: (s.region != region, s.role != StaffRole.COORDINATOR, s.id),
        )
        return ranked[0] if ranked else None

    def for_family(self, family: VolunteerFamily) -> Staff | None:
        running = self.running_match(family.id)
        if running is not None and running.staff is not None:
            return running.staff
        return self.coordinator(family.region)

    def for_referral(self, referral: Referral) -> Staff | None:
        if referral.staff is not None and referral.staff.active:
            return referral.staff
        return self.coordinator(referral.region)


@dataclass(frozen=True)
class NoteParty:
    """Who a waiting note is for, as they are now, and what its template needs."""

    programme: Programme
    recipient: Recipient
    since: date
    child: str | None
    staff: Staff | None
    channels: tuple[str, ...] = ()
    contact: ContactPerson | None = None  # a referred child's parent (for the unsubscribe link)


def recipient_for(
    session: Session, row: Any, programmes: Mapping[str, Programme]
) -> NoteParty | str:
    """The party of a waiting note, or why it must not go (no longer waiting, gone)."""
    context = row.context or {}
    programme = programmes.get(str(context.get("programme")))
    if programme is None:
        return N_("programme or recipient no longer exists")
    referral_id = context.get("referral_id")
    if referral_id is None:
        family = session.get(VolunteerFamily, row.recipient_id)
        if family is None or family.status_since is None:
            return N_("programme or recipient no longer exists")
        if family.status != WaitStatus.WAITING or row.occurrence_key.split(":")[0] != (
            family.status_since.isoformat()
        ):
            return NOT_WAITING
        staff = Owners(session).coordinator(family.region)
        channels = programme.waiting.family_channels if programme.waiting else ()
        return NoteParty(
            programme,
            family_recipient(family),
            family.status_since,
            None,
            staff,
            tuple(str(c) for c in channels),
        )
    referral = session.get(Referral, int(referral_id))
    if referral is None or referral.contact_person is None:
        return N_("programme or recipient no longer exists")
    if referral.status != WaitStatus.WAITING or referral.contact_person.id != row.recipient_id:
        return NOT_WAITING
    return NoteParty(
        programme,
        contact_recipient(referral.contact_person),
        referral.status_since,
        referral.child.first_name,
        referral.staff,
        tuple(str(c) for c in (programme.waiting.contact_channels if programme.waiting else ())),
        referral.contact_person,
    )


def note_context(
    party: NoteParty, now: datetime, unsubscribe_url: str | None = None
) -> dict[str, Any]:
    zone = ZoneInfo(party.recipient.timezone)
    staff = party.staff
    return {
        "locale": party.recipient.locale,
        "programme": {
            "name": party.programme.name,
            "organisation": party.programme.organisation,
        },
        "recipient": {"name": party.recipient.name, "kind": party.recipient.audience.value},
        "child": {"first_name": party.child} if party.child else None,
        "staff": (
            {"name": staff.name, "phone": staff.phone, "email": staff.email} if staff else None
        ),
        "weeks": weeks_since(party.since, now.astimezone(zone).date()),
        "reminder": False,
        "unsubscribe_url": unsubscribe_url,
    }


__all__ = [
    "KIND",
    "NOT_WAITING",
    "TEMPLATE",
    "TOUCHPOINT",
    "NoteParty",
    "Owners",
    "note_context",
    "recipient_for",
    "weeks_since",
]
