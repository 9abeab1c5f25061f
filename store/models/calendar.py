"""A volunteer family's calendar feed: an unguessable address a calendar app subscribes to.

Only the token's sha256 is stored, as for invite links: a copy of the database cannot be used
to read a family's calendar. A revoked feed answers 404 from then on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, utcnow


class CalendarFeed(Base):
    __tablename__ = "calendar_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    volunteer_family_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer_family.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(64), default="bot")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
