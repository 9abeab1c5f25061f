"""Moments shared with the parent: a short greeting, and with the parent's consent a photo,
that a volunteer family sends through the bot to the child's parent or contact person.

A moment is written as a draft in the bot (text and/or photo), previewed, and sent when the
family confirms it: then one outbox row per contact person carries it (``kind = "moment"``).
The photo is kept only until ``photo_until`` (its link's expiry); ``had_photo`` stays so that
staff can still see a photo was shared. Text and photo are the family's free text: cleared by
retention and erasure like the match's other free text.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, utcnow


class Moment(Base):
    __tablename__ = "moment"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("match.id", ondelete="CASCADE"), index=True)
    text: Mapped[str | None] = mapped_column(Text)  # cleaned like all free text (no CPR)
    # The photo's bytes, checked to be JPEG or PNG and at most followup.moments.PHOTO_MAX_BYTES.
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    photo_type: Mapped[str | None] = mapped_column(String(24))
    photo_size: Mapped[int | None] = mapped_column(Integer)
    had_photo: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the photo and its link go (set when the moment is sent).
    photo_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()  # None: a draft
