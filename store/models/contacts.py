"""What staff recorded by hand of their contact with a match's parties: a call, a visit or a
meeting that happened outside the system. Together with the finished staff tasks these are the
contacts the programme's contact standard counts (see :mod:`followup.contacts`). No free text."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, utcnow


class StaffContact(Base):
    __tablename__ = "staff_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("match.id", ondelete="CASCADE"), index=True)
    party: Mapped[str] = mapped_column(String(24))  # volunteer_family | contact_person
    kind: Mapped[str] = mapped_column(String(24))  # call | visit | meeting
    on_date: Mapped[date] = mapped_column(Date)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
