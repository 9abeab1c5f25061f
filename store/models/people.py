"""People and matches: programmes, staff, volunteer families, children, contact persons, and
what belongs to a match's own record (pauses, visits, check-ins)."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from store import clock
from store.models.base import (
    Base,
    LocaleColumn,
    PhoneEmailMixin,
    TimestampMixin,
    _enum,
    utcnow,
)
from store.models.enums import (
    Cadence,
    CancelledBy,
    Channel,
    EndedBy,
    EndReason,
    Locale,
    MatchStatus,
    StaffRole,
    VisitStatus,
    WaitStatus,
)
from store.validation import check_child_name


class Programme(TimestampMixin, Base):
    """A programme row mirrors a ``programmes/*.yaml`` file; the file is the source of truth."""

    __tablename__ = "programme"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    organisation: Mapped[str] = mapped_column(String(120), default="")
    config_hash: Mapped[str] = mapped_column(String(64), default="")


class Staff(PhoneEmailMixin, TimestampMixin, Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole), default=StaffRole.PROCESLEDER)
    region: Mapped[str] = mapped_column(String(64), default="")
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    locale: Mapped[Locale] = mapped_column(LocaleColumn(), default=Locale.DA)
    timezone: Mapped[str] = mapped_column(String(64), default=clock.default_zone)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class VolunteerFamily(PhoneEmailMixin, TimestampMixin, Base):
    __tablename__ = "volunteer_family"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))  # how the family is known, e.g. "Familien Holm"
    contact_name: Mapped[str] = mapped_column(String(120))  # the adult who is our contact
    region: Mapped[str] = mapped_column(String(64), default="")
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    locale: Mapped[Locale] = mapped_column(LocaleColumn(), default=Locale.DA)
    timezone: Mapped[str] = mapped_column(String(64), default=clock.default_zone)
    # Addresses that failed permanently are kept but not used until corrected.
    phone_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    email_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    telegram_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    # The waiting list: where the family is on the way to a match (None: not on the list, e.g.
    # a family imported with its match), since when, and the programme it is approved for.
    status: Mapped[WaitStatus | None] = mapped_column(_enum(WaitStatus))
    status_since: Mapped[date | None] = mapped_column(Date)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programme.id"))

    matches: Mapped[list[Match]] = relationship(back_populates="volunteer_family")
    programme: Mapped[Programme | None] = relationship()


class Child(TimestampMixin, Base):
    """Only a first name or pseudonym and the birth year: never a CPR number."""

    __tablename__ = "child"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(40))
    birth_year: Mapped[int | None] = mapped_column(Integer)

    @validates("first_name")
    def _check_name(self, _key: str, value: str) -> str:
        return check_child_name(value)


match_contact = Table(
    "match_contact",
    Base.metadata,
    Column("match_id", ForeignKey("match.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "contact_person_id", ForeignKey("contact_person.id", ondelete="CASCADE"), primary_key=True
    ),
)


class ContactPerson(PhoneEmailMixin, TimestampMixin, Base):
    """A parent or custody holder, or for a placed child a contact person at the institution."""

    __tablename__ = "contact_person"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    relation: Mapped[str] = mapped_column(String(24), default="parent")  # parent | institution
    locale: Mapped[Locale] = mapped_column(LocaleColumn(), default=Locale.DA)
    timezone: Mapped[str] = mapped_column(String(64), default=clock.default_zone)
    preferred_channel: Mapped[Channel] = mapped_column(_enum(Channel), default=Channel.SMS)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None] = mapped_column()
    # The day staff recorded the person's consent to receive photos from the volunteer family
    # (followup.moments); None: no consent, photos are refused.
    photo_consent_on: Mapped[date | None] = mapped_column(Date)
    phone_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    email_failed: Mapped[bool] = mapped_column(Boolean, default=False)

    matches: Mapped[list[Match]] = relationship(secondary=match_contact, back_populates="contacts")


class Match(TimestampMixin, Base):
    __tablename__ = "match"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"))
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"))
    volunteer_family_id: Mapped[int] = mapped_column(ForeignKey("volunteer_family.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    region: Mapped[str] = mapped_column(String(64), default="")
    # Whose school holidays the match follows (calendars/school-holidays.yaml); empty: the region.
    municipality: Mapped[str] = mapped_column(String(64), default="", server_default="")
    start_date: Mapped[date] = mapped_column(Date)
    visit_weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday ... 6 = Sunday
    visit_time: Mapped[time | None] = mapped_column(Time)
    cadence: Mapped[Cadence] = mapped_column(_enum(Cadence), default=Cadence.WEEKLY)
    status: Mapped[MatchStatus] = mapped_column(_enum(MatchStatus), default=MatchStatus.ACTIVE)
    end_date: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(500))
    ended_by: Mapped[EndedBy | None] = mapped_column(_enum(EndedBy))
    end_reason_code: Mapped[EndReason | None] = mapped_column(_enum(EndReason))
    # A re-match: the child's earlier match this one follows (reports count re-matches by it).
    previous_match_id: Mapped[int | None] = mapped_column(
        ForeignKey("match.id", ondelete="SET NULL"), index=True
    )
    sibling: Mapped[bool] = mapped_column(Boolean, default=False)  # half price (Mentorbarn)
    # Bumped on every change that alters the plan; outbox rows remember the version they came from.
    plan_version: Mapped[int] = mapped_column(Integer, default=1)
    # The planner's bookmark: which plan version it last applied, and up to when it planned.
    planned_version: Mapped[int] = mapped_column(Integer, default=0)
    planned_until: Mapped[datetime | None] = mapped_column()
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)

    programme: Mapped[Programme] = relationship()
    child: Mapped[Child] = relationship()
    volunteer_family: Mapped[VolunteerFamily] = relationship(back_populates="matches")
    staff: Mapped[Staff | None] = relationship()
    previous_match: Mapped[Match | None] = relationship(remote_side="Match.id")
    contacts: Mapped[list[ContactPerson]] = relationship(
        secondary=match_contact, back_populates="matches", order_by="ContactPerson.id"
    )
    pauses: Mapped[list[MatchPause]] = relationship(
        back_populates="match", order_by="MatchPause.start_date", cascade="all, delete-orphan"
    )

    @validates("visit_weekday")
    def _check_weekday(self, _key: str, value: int) -> int:
        if not 0 <= int(value) <= 6:
            raise ValueError("visit_weekday must be 0 (Monday) to 6 (Sunday)")
        return int(value)


class MatchPause(TimestampMixin, Base):
    """A pause (summer holiday, illness): no visit prompts and no missed-visit rules inside it.

    ``end_date`` is the first day back; an open pause has none.
    """

    __tablename__ = "match_pause"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("match.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")

    match: Mapped[Match] = relationship(back_populates="pauses")


class Visit(TimestampMixin, Base):
    __tablename__ = "visit"
    __table_args__ = (UniqueConstraint("match_id", "planned_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("match.id", ondelete="CASCADE"), index=True)
    planned_date: Mapped[date] = mapped_column(Date)
    status: Mapped[VisitStatus] = mapped_column(_enum(VisitStatus))
    times: Mapped[int | None] = mapped_column(Integer)  # "2-3 times a month": how many meetings
    cancelled_by: Mapped[CancelledBy | None] = mapped_column(_enum(CancelledBy))
    moved_to: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckIn(TimestampMixin, Base):
    __tablename__ = "checkin"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("match.id", ondelete="CASCADE"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id", ondelete="SET NULL"))
    mood: Mapped[int | None] = mapped_column(Integer)  # 1 (bad) to 5 (very good)
    text: Mapped[str | None] = mapped_column(Text)  # CPR-like numbers redacted before storing
    worried: Mapped[bool] = mapped_column(Boolean, default=False)


class MatchNote(Base):
    """A staff member's note on a match (a call, a conversation): free text, cleared with the
    match's other free text (retention, erasure)."""

    __tablename__ = "match_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("match.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
