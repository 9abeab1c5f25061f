"""What a sent moment shows: the parent's page behind its link, and what staff see was shared."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.moments.compose import KIND, TOKEN_SHAPE
from scheduler import outbox
from scheduler.links import moment_mac
from store.models import ContactPerson, Match, Moment, OutboxMessage

# -- the parent's page -----------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """What the parent's page shows."""

    moment: Moment
    contact: ContactPerson
    family_name: str
    child: str
    photo: bool
    family_locale: str  # the language the family writes in, for the page to mark their text


def for_token(session: Session, secret: str, token: str, now: datetime) -> Shown | None:
    """The moment a valid, unexpired link shows to its contact person; None for anything else."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    moment_text, contact_text, mac = token.split(".")
    moment_id, contact_id = int(moment_text), int(contact_text)
    if not hmac.compare_digest(moment_mac(secret, moment_id, contact_id), mac):
        return None
    moment = session.get(Moment, moment_id)
    if moment is None or moment.sent_at is None or moment.photo_until is None:
        return None
    if now >= moment.photo_until:
        return None
    row = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.idempotency_key == outbox.key_for_moment(moment_id, contact_id)
        )
    ).first()
    match = session.get(Match, moment.match_id)
    contact = session.get(ContactPerson, contact_id)
    if row is None or match is None or contact is None or contact not in match.contacts:
        return None
    photo = bool((row.context or {}).get("photo")) and moment.photo_type is not None
    photo = photo and contact.photo_consent_on is not None
    if not photo and not moment.text:
        return None
    family = match.volunteer_family
    return Shown(moment, contact, family.name, match.child.first_name, photo, family.locale.value)


def photo_bytes(session: Session, moment: Moment) -> bytes | None:
    found = session.scalar(select(Moment.photo).where(Moment.id == moment.id))
    return bytes(found) if found is not None else None


# -- what staff see --------------------------------------------------------------------------


def shared(session: Session, match_id: int) -> list[dict[str, Any]]:
    """The moments a match's family sent: when, with a photo or not, and to whom by which
    channel with what status (never the text or the photo)."""
    moments = list(
        session.scalars(
            select(Moment)
            .where(Moment.match_id == match_id, Moment.sent_at.is_not(None))
            .order_by(Moment.sent_at.desc(), Moment.id.desc())
        )
    )
    if not moments:
        return []
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.match_id == match_id, OutboxMessage.kind == KIND)
        .order_by(OutboxMessage.id)
    )
    by_moment: dict[str, list[OutboxMessage]] = {}
    for row in rows:
        by_moment.setdefault(row.occurrence_key, []).append(row)
    contacts = {
        c.id: c.name
        for c in session.scalars(
            select(ContactPerson).where(
                ContactPerson.id.in_(
                    {r.recipient_id for rs in by_moment.values() for r in rs} or {0}
                )
            )
        )
    }
    return [
        {
            "id": m.id,
            "sent_at": m.sent_at,
            "photo": m.had_photo,
            "recipients": [
                {
                    "name": contacts.get(r.recipient_id, ""),
                    "channel": r.channel.value,
                    "status": r.status.value,
                    "photo": bool((r.context or {}).get("photo")),
                }
                for r in by_moment.get(str(m.id), [])
            ],
        }
        for m in moments
    ]
