"""Around the match: who waits for one, and the certificates of a volunteer family's household.

A volunteer family's place on the waiting list is its ``status`` (on ``volunteer_family``); a
child waiting for a family is a :class:`Referral` (the child, its parent or contact person, the
programme and the staff member), until a match is made for it. A :class:`HouseholdMember` is an
adult or teenager of a volunteer family: first name and birth year only, and the dates of their
child and criminal record certificates (børneattest, straffeattest), never their content.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from store.models.base import Base, TimestampMixin, _enum
from store.models.enums import WaitStatus
from store.models.people import Child, ContactPerson, Match, Programme, Staff
from store.validation import check_member_name


class Referral(TimestampMixin, Base):
    """A child referred to a programme, waiting for a volunteer family until it is matched."""

    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"))
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"), index=True)
    contact_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_person.id", ondelete="SET NULL"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    region: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[WaitStatus] = mapped_column(_enum(WaitStatus), default=WaitStatus.WAITING)
    status_since: Mapped[date] = mapped_column(Date)
    match_id: Mapped[int | None] = mapped_column(ForeignKey("match.id", ondelete="SET NULL"))

    programme: Mapped[Programme] = relationship()
    child: Mapped[Child] = relationship()
    contact_person: Mapped[ContactPerson | None] = relationship()
    staff: Mapped[Staff | None] = relationship()
    match: Mapped[Match | None] = relationship()


class HouseholdMember(TimestampMixin, Base):
    """An adult or teenager living in a volunteer family: first name and birth year only.

    ``child_certificate_on`` and ``criminal_record_on`` are the dates of the børneattest and the
    straffeattest (when they were issued); their content is never stored.
    """

    __tablename__ = "household_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_family_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer_family.id", ondelete="CASCADE"), index=True
    )
    first_name: Mapped[str] = mapped_column(String(40))
    birth_year: Mapped[int] = mapped_column(Integer)
    child_certificate_on: Mapped[date | None] = mapped_column(Date)
    criminal_record_on: Mapped[date | None] = mapped_column(Date)

    @validates("first_name")
    def _check_name(self, _key: str, value: str) -> str:
        return check_member_name(value)
