"""Email from the outside: unsubscribe links, and bounces (delivery status notifications)."""

from __future__ import annotations

import hmac
import re
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.escalations import raise_escalation
from scheduler.i18n import N_
from scheduler.links import unsubscribe_mac
from store.audit import record
from store.models import (
    ContactPerson,
    MatchStatus,
    VolunteerFamily,
)
from store.validation import normalise_email


def contact_for_unsubscribe(session: Session, secret: str, token: str) -> ContactPerson | None:
    found = re.fullmatch(r"(\d{1,12})\.([A-Za-z0-9_-]{22})", token or "")
    if not found:
        return None
    contact = session.get(ContactPerson, int(found.group(1)))
    if contact is None or not contact.email:
        return None
    if not hmac.compare_digest(unsubscribe_mac(secret, contact.id, contact.email), found.group(2)):
        return None
    return contact


def mark_bounced(session: Session, address: str, now: datetime) -> int:
    """Stop using an email address that bounced: contacts and families with it get
    ``email_failed``, their matches re-plan onto another channel, and staff are told.
    Returns how many people had the address. Raises ``InvalidValue`` for a malformed address."""
    normalised = normalise_email(address)
    people: list[ContactPerson | VolunteerFamily] = [
        *session.scalars(select(ContactPerson).where(ContactPerson.email.is_not(None))),
        *session.scalars(select(VolunteerFamily).where(VolunteerFamily.email.is_not(None))),
    ]
    hits = [p for p in people if (p.email or "").lower() == normalised.lower()]
    for person in hits:
        if person.email_failed:
            continue
        person.email_failed = True
        kind = "contact_person" if isinstance(person, ContactPerson) else "volunteer_family"
        record(session, "system", "email.bounced", kind, person.id)
        for match in person.matches:
            match.plan_version = (match.plan_version or 1) + 1
        live = [m for m in person.matches if m.status != MatchStatus.ENDED]
        for match in live:
            raise_escalation(
                session,
                match,
                "delivery_failed",
                now=now,
                evidence={
                    "channel": "email",
                    "error": "bounce",
                    "audience": kind,
                    "recipient_id": person.id,
                },
                suggested_action=N_(
                    "The email address bounced: check it with the person and correct it."
                ),
            )
    session.flush()
    return len(hits)


def bounced_addresses(raw: bytes) -> list[str]:
    """The failed recipients named in a delivery status notification (RFC 3464)."""
    mail = message_from_bytes(raw, policy=policy.default)
    found: list[str] = []
    for part in mail.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks:
            if not isinstance(block, Message):
                continue
            action = str(block.get("Action", "")).strip().lower()
            recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            if action == "failed" and ";" in recipient:
                found.append(recipient.split(";", 1)[1].strip())
    return list(dict.fromkeys(found))
