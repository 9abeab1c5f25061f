"""Writing a moment and sending it: the draft's text and photo, who gets it on which channel, and
the parent's consent to photos."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from followup.visits import clean_text
from scheduler import outbox
from scheduler.programme import Programme
from scheduler.recipients import contact_recipient
from store.audit import record
from store.models import Audience, Channel, ContactPerson, Match, MatchStatus, Moment

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
