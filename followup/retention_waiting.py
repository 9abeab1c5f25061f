"""Retention for people who never matched: a volunteer family that left the waiting list, and a
parent (or institution contact) whose referrals are all closed, without ever being in a match.

Their waiting-list messages (sent with no match) keep their text, and their contact details
stay, until the same limits as after a match: the messages' text goes ``free_text_months``
after they left (the family's status, the last referral's), contact details ``contact_months``
after. Anyone in a match (of any status: :mod:`followup.retention` handles them) or still on
the waiting list is left alone.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from followup.people import bot_state_of
from scheduler import outbox
from store.models import (
    Audience,
    ContactPerson,
    Match,
    OutboxMessage,
    Referral,
    VolunteerFamily,
    WaitStatus,
    match_contact,
)

CLOSED = (WaitStatus.LEFT, WaitStatus.MATCHED)  # a referral that no longer waits


def families_left(session: Session, left_by: date) -> list[int]:
    """Families that left the waiting list on or before ``left_by`` and never matched."""
    return list(
        session.scalars(
            select(VolunteerFamily.id).where(
                VolunteerFamily.status == WaitStatus.LEFT,
                VolunteerFamily.status_since <= left_by,
                ~exists().where(Match.volunteer_family_id == VolunteerFamily.id),
            )
        )
    )


def contacts_closed(session: Session, closed_by: date) -> list[int]:
    """Contacts in no match whose referrals were all closed on or before ``closed_by``."""
    open_referrals = func.sum(case((Referral.status.not_in(CLOSED), 1), else_=0))
    rows = session.execute(
        select(Referral.contact_person_id, func.max(Referral.status_since), open_referrals)
        .where(
            Referral.contact_person_id.is_not(None),
            ~exists().where(match_contact.c.contact_person_id == Referral.contact_person_id),
        )
        .group_by(Referral.contact_person_id)
    )
    return [int(contact) for contact, last, still in rows if not still and last <= closed_by]


def _messages(audience: Audience, ids: list[int]) -> Any:
    return (
        OutboxMessage.match_id.is_(None),
        OutboxMessage.audience == audience,
        OutboxMessage.recipient_id.in_(ids),
        or_(OutboxMessage.body.is_not(None), OutboxMessage.subject.is_not(None)),
    )


def clear_texts(session: Session, left_by: date) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Clear the waiting-list messages' text of those who left by ``left_by``: the counts, and
    the ids of the families and contacts that still had some."""
    found: dict[str, list[int]] = {}
    counts: dict[str, int] = {}
    for key, audience, ids in (
        ("families", Audience.VOLUNTEER_FAMILY, families_left(session, left_by)),
        ("contacts", Audience.CONTACT_PERSON, contacts_closed(session, left_by)),
    ):
        if not ids:
            continue
        where = _messages(audience, ids)
        found[key] = sorted(set(session.scalars(select(OutboxMessage.recipient_id).where(*where))))
        counts[f"waiting_messages_{key}"] = outbox.clear_text(session, and_(*where))
    return counts, found


def holding_details(
    session: Session, families: list[int], contacts: list[int]
) -> tuple[list[int], list[int]]:
    """The families and contacts among those given that still hold contact details."""
    holding_families = session.scalars(
        select(VolunteerFamily.id).where(
            VolunteerFamily.id.in_(families),
            or_(
                VolunteerFamily.phone.is_not(None),
                VolunteerFamily.email.is_not(None),
                VolunteerFamily.telegram_chat_id.is_not(None),
            ),
        )
    )
    holding_contacts = session.scalars(
        select(ContactPerson.id).where(
            ContactPerson.id.in_(contacts),
            or_(ContactPerson.phone.is_not(None), ContactPerson.email.is_not(None)),
        )
    )
    return list(holding_families), list(holding_contacts)


def clear_details(session: Session, left_by: date) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Clear the contact details of those who left by ``left_by`` (and what the bot remembers of
    a family's chat): the counts, and the ids of whom it touched."""
    families, contacts = holding_details(
        session, families_left(session, left_by), contacts_closed(session, left_by)
    )
    state = 0
    for family in session.scalars(select(VolunteerFamily).where(VolunteerFamily.id.in_(families))):
        if family.telegram_chat_id is not None:
            for row in bot_state_of(session, family.telegram_chat_id):
                session.delete(row)
                state += 1
        family.phone = family.email = family.telegram_chat_id = None
    for contact in session.scalars(select(ContactPerson).where(ContactPerson.id.in_(contacts))):
        contact.phone = contact.email = None
    counts = {
        "waiting_family_details": len(families),
        "waiting_contact_details": len(contacts),
        "bot_state": state,
    }
    return counts, {"families": families, "contacts": contacts}
