"""Moments shared with the parent: a volunteer family's greeting, with a photo when the parent
has consented, sent through the bot to the child's parent or contact person.

The family writes a text and/or sends a photo in the bot (:mod:`bot.moments`); it is kept as a
draft :class:`~store.models.Moment`, previewed, and sent when the family confirms: one outbox row
per contact person of the match (``kind = "moment"``), on the person's preferred channel, SMS or
email, in their language. By email the photo is attached; by SMS the message links to a page
(``/m/<token>``, :mod:`web.moments`) that shows the greeting and the photo until the link
expires (:data:`LINK_DAYS` after sending; then the photo is deleted).

- **Per programme**: the programme's ``moments: {enabled, photos}`` turns greetings or photos off.
- **Consent**: a photo goes only to a contact person whose consent staff have recorded (with its
  date: :func:`record_consent`, from ``venskab contact consent`` and the staff match page); the
  others get the text alone. When nobody has consented, the bot refuses the photo politely and
  the text may still go.
- **Limits**: text is cleaned like all free text and cut at :data:`TEXT_LIMIT` characters; a
  photo is at most :data:`PHOTO_MAX_BYTES` and must be a JPEG or PNG by its own bytes (the
  declared type is not trusted).
- **Retention and erasure**: drafts go after :data:`DRAFT_TTL`, photos when their link expires,
  texts with the match's other free text; erasing the family or the child clears them at once.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from followup.visits import clean_text
from scheduler import outbox
from scheduler.links import moment_mac
from scheduler.programme import Programme
from scheduler.recipients import contact_recipient
from store.audit import record
from store.models import (
    Audience,
    Channel,
    ContactPerson,
    Match,
    MatchStatus,
    Moment,
    OutboxMessage,
)

KIND = "moment"
TEXT_LIMIT = 1000  # a greeting, not a letter
PHOTO_MAX_BYTES = 5 * 1024 * 1024
LINK_DAYS = 30  # the SMS link works, and the photo is kept, this long after sending
DRAFT_TTL = timedelta(days=1)
EXPIRY = timedelta(days=7)  # an SMS or email that could not go within a week is not sent
CHANNELS = (Channel.SMS.value, Channel.EMAIL.value)
TOKEN_SHAPE = re.compile(r"[1-9][0-9]{0,9}\.[1-9][0-9]{0,9}\.[A-Za-z0-9_-]{32}", re.ASCII)

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"


class MomentError(Exception):
    """Why a moment cannot be drafted or sent: ``off`` (the programme turned it off),
    ``no_parent`` (nobody to send it to), ``empty``, ``sent`` (already sent), ``state``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Delivery:
    """Who gets a moment, how, and whether with the photo."""

    contact: ContactPerson
    channel: str
    photo: bool


def photo_type(data: bytes) -> str | None:
    """The photo's content type by its first bytes: JPEG or PNG, else None (refused)."""
    if data.startswith(_JPEG):
        return "image/jpeg"
    if data.startswith(_PNG):
        return "image/png"
    return None


def enabled(programme: Programme | None) -> bool:
    return programme is not None and programme.moments.enabled


def deliveries(match: Match, programme: Programme | None, *, photo: bool) -> list[Delivery]:
    """Who would get a moment of ``match`` now (a photo only where it may go)."""
    found = []
    photos = photo and programme is not None and programme.moments.photos
    for contact in match.contacts:
        if contact.opted_out:
            continue
        channel = contact_recipient(contact).choose(CHANNELS)
        if channel is None:
            continue
        found.append(Delivery(contact, channel, photos and contact.photo_consent_on is not None))
    return found


def draft(session: Session, match: Match, now: datetime, moment_id: int | None = None) -> Moment:
    """The family's open draft for the match (the one named, if it is still a draft), or a new
    one. Old drafts are dropped by retention."""
    if moment_id is not None:
        found = session.get(Moment, moment_id)
        if found is not None and found.match_id == match.id and found.sent_at is None:
            return found
    moment = Moment(match_id=match.id, created_at=now, had_photo=False)
    session.add(moment)
    session.flush()
    return moment


def set_text(moment: Moment, text: str, locale: str) -> str:
    """Clean and keep the greeting's text; returns what was kept (empty: nothing usable)."""
    cleaned = clean_text(text, limit=TEXT_LIMIT, locale=locale)
    moment.text = cleaned or None
    return cleaned


def set_photo(moment: Moment, data: bytes) -> None:
    """Keep a checked photo on the draft (:class:`MomentError` ``photo`` for anything else)."""
    kind = photo_type(data)
    if kind is None or len(data) > PHOTO_MAX_BYTES:
        raise MomentError("photo")
    moment.photo = bytes(data)
    moment.photo_type = kind
    moment.photo_size = len(data)
    moment.had_photo = True


def send(
    session: Session,
    moment: Moment,
    match: Match,
    programme: Programme | None,
    *,
    now: datetime,
    actor: str,
) -> list[Delivery]:
    """Send a confirmed draft: one outbox row per contact person. A photo nobody may receive is
    dropped before anything goes."""
    if moment.sent_at is not None:
        raise MomentError("sent")
    if match.status == MatchStatus.ENDED or not enabled(programme):
        raise MomentError("off")
    has_photo = moment.photo_type is not None
    found = deliveries(match, programme, photo=has_photo)
    if not found:
        raise MomentError("no_parent")
    if has_photo and not any(d.photo for d in found):
        discard_photo(moment)
        has_photo = False
    if not moment.text and not has_photo:
        raise MomentError("empty")
    found = [d for d in found if moment.text or d.photo]
    moment.sent_at = now
    moment.photo_until = now + timedelta(days=LINK_DAYS)
    rows = [
        outbox.new_row(
            {
                "idempotency_key": outbox.key_for_moment(moment.id, d.contact.id),
                "match_id": match.id,
                "touchpoint_id": KIND,
                "occurrence_key": str(moment.id),
                "kind": KIND,
                "template": KIND,
                "audience": Audience.CONTACT_PERSON,
                "recipient_id": d.contact.id,
                "channel": d.channel,
                "locale": d.contact.locale,
                "essential": False,
                "due_at": now,
                "expires_at": now + EXPIRY,
                "plan_version": 0,
                "context": {"moment_id": moment.id, "photo": d.photo},
                "created_at": now,
                "updated_at": now,
            }
        )
        for d in found
    ]
    outbox.insert(session, rows)
    record(
        session,
        actor,
        "moment.send",
        "match",
        match.id,
        moment=moment.id,
        recipients=len(found),
        photos=sum(d.photo for d in found),
    )
    return found


def discard(session: Session, moment: Moment) -> None:
    """The family cancelled the draft: nothing of it is kept."""
    if moment.sent_at is not None:
        raise MomentError("sent")
    session.delete(moment)


def discard_photo(moment: Moment) -> None:
    moment.photo = None
    moment.photo_type = None
    moment.photo_size = None
    moment.had_photo = False


# -- consent ---------------------------------------------------------------------------------


def record_consent(
    session: Session, contact: ContactPerson, given: bool, on: date | None, actor: str
) -> None:
    """Record (with its date) or withdraw a contact person's consent to photos. Withdrawn, no
    photo goes to them from then on, also none already queued (checked again at sending)."""
    if given and on is None:
        raise ValueError("the day consent was given is required")
    contact.photo_consent_on = on if given else None
    record(
        session,
        actor,
        "contact.photo_consent" if given else "contact.photo_consent_withdrawn",
        "contact_person",
        contact.id,
        **({"on": on.isoformat()} if given and on else {}),
    )


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


# -- people's data ---------------------------------------------------------------------------


def export_rows(session: Session, match_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The moments of these matches, as a family's export shows them: the text, and the photo
    while it is kept (base64, with its type and size)."""
    if not match_ids:
        return []
    return [
        {
            "id": m.id,
            "match_id": m.match_id,
            "text": m.text,
            "had_photo": m.had_photo,
            "photo_type": m.photo_type,
            "photo_size": m.photo_size,
            "photo_base64": base64.b64encode(m.photo).decode() if m.photo is not None else None,
            "photo_until": m.photo_until,
            "created_at": m.created_at,
            "sent_at": m.sent_at,
        }
        for m in session.scalars(
            select(Moment).where(Moment.match_id.in_(list(match_ids))).order_by(Moment.id)
        )
    ]


def erase(session: Session, match_ids: Sequence[int]) -> int:
    """Clear the moments' text and photos (kept: dates and that a photo was shared); drafts go."""
    if not match_ids:
        return 0
    ids = list(match_ids)
    session.execute(
        delete(Moment)
        .where(Moment.match_id.in_(ids), Moment.sent_at.is_(None))
        .execution_options(synchronize_session=False)
    )
    found = list(
        session.scalars(
            select(Moment.id).where(
                Moment.match_id.in_(ids),
                or_(Moment.text.is_not(None), Moment.photo_type.is_not(None)),
            )
        )
    )
    _clear(session, found, text=True)
    return len(found)


def expire(session: Session, now: datetime) -> dict[str, int]:
    """Retention: drafts older than :data:`DRAFT_TTL` go, photos whose link expired go."""
    drafts = list(
        session.scalars(
            select(Moment.id).where(Moment.sent_at.is_(None), Moment.created_at < now - DRAFT_TTL)
        )
    )
    if drafts:
        session.execute(
            delete(Moment).where(Moment.id.in_(drafts)).execution_options(synchronize_session=False)
        )
    photos = list(
        session.scalars(
            select(Moment.id).where(Moment.photo_type.is_not(None), Moment.photo_until <= now)
        )
    )
    _clear(session, photos, text=False)
    return {"moment_drafts": len(drafts), "moment_photos": len(photos)}


def _clear(session: Session, ids: list[int], *, text: bool) -> None:
    """Counted by the caller from the ids: a bulk update's row count is not reliable on every
    driver when the ORM synchronises the session."""
    values: dict[str, Any] = {"photo": None, "photo_type": None, "photo_size": None}
    if text:
        values["text"] = None
    for start in range(0, len(ids), 500):
        session.execute(
            update(Moment)
            .where(Moment.id.in_(ids[start : start + 500]))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if ids:
        session.expire_all()
