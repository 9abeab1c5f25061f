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

from followup.moments.compose import (
    DRAFT_TTL,
    LINK_DAYS,
    PHOTO_MAX_BYTES,
    TEXT_LIMIT,
    Delivery,
    MomentError,
    deliveries,
    discard,
    discard_photo,
    draft,
    enabled,
    photo_type,
    record_consent,
    send,
    set_photo,
    set_text,
)
from followup.moments.kept import erase, expire, export_rows
from followup.moments.shown import Shown, for_token, photo_bytes, shared

__all__ = [
    "DRAFT_TTL",
    "LINK_DAYS",
    "PHOTO_MAX_BYTES",
    "TEXT_LIMIT",
    "Delivery",
    "MomentError",
    "Shown",
    "deliveries",
    "discard",
    "discard_photo",
    "draft",
    "enabled",
    "erase",
    "expire",
    "export_rows",
    "for_token",
    "photo_bytes",
    "photo_type",
    "record_consent",
    "send",
    "set_photo",
    "set_text",
    "shared",
]
