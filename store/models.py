"""The data model.

People: staff, volunteer families, children (first name or pseudonym and birth year only; no
CPR number anywhere), contact persons (parents or institution contacts). A match joins a child
with a volunteer family under a programme and a staff member. Everything that happens to a
match is recorded: visits, check-ins, outbox messages, escalations, tasks, surveys, sparring.

All timestamps are aware UTC (:class:`store.types.UTCDateTime`). Calendar facts that belong to a
person's day (a visit date, a visit time) are stored as dates and local times, and interpreted in
that person's time zone.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from store.types import UTCDateTime
from store.validation import check_child_name, normalise_email, normalise_phone

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings so that adding a value needs no database migration.
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=24,
        values_callable=lambda members: [m.value for m in members],
    )


class StaffRole(enum.StrEnum):
    PROCESLEDER = "procesleder"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class Locale(enum.StrEnum):
    DA = "da"
    EN = "en"


class Channel(enum.StrEnum):
    TELEGRAM = "telegram"
    SMS = "sms"
    EMAIL = "email"
    VOICE = "voice"


class MatchStatus(enum.StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


class EndedBy(enum.StrEnum):
    TERM = "term"  # the programme's year ran out as planned
    VOLUNTEER_FAMILY = "volunteer_family"
    CHILD_FAMILY = "child_family"
    ORGANISATION = "organisation"


class Cadence(enum.StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    TWO_THREE_MONTHLY = "two_three_monthly"


class VisitStatus(enum.StrEnum):
    VISITED = "visited"
    CANCELLED = "cancelled"
    MOVED = "moved"
    MISSED = "missed"  # nobody answered the prompt


class CancelledBy(enum.StrEnum):
    CHILD_FAMILY = "child_family"
    VOLUNTEER_FAMILY = "volunteer_family"
    ILLNESS = "illness"
    OTHER = "other"


class OutboxStatus(enum.StrEnum):
    PLANNED = "planned"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


class Audience(enum.StrEnum):
    VOLUNTEER_FAMILY = "volunteer_family"
    CONTACT_PERSON = "contact_person"
    STAFF = "staff"


class Severity(enum.StrEnum):
    URGENT = "urgent"
    NORMAL = "normal"


class EscalationStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    NOT_REACHED = "not_reached"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"


class RSVP(enum.StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PhoneEmailMixin:
    """Phone numbers are stored as E.164, emails normalised; anything else is refused."""

    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))

    @validates("phone")
    def _check_phone(self, _key: str, value: str | None) -> str | None:
        return normalise_phone(value) if value else None

    @validates("email")
    def _check_email(self, _key: str, value: str | None) -> str | None:
        return normalise_email(value) if value else None


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
    locale: Mapped[Locale] = mapped_column(_enum(Locale), default=Locale.DA)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Copenhagen")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class VolunteerFamily(PhoneEmailMixin, TimestampMixin, Base):
    __tablename__ = "volunteer_family"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))  # how the family is known, e.g. "Familien Holm"
    contact_name: Mapped[str] = mapped_column(String(120))  # the adult who is our contact
    region: Mapped[str] = mapped_column(String(64), default="")
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    locale: Mapped[Locale] = mapped_column(_enum(Locale), default=Locale.DA)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Copenhagen")
    # Addresses that failed permanently are kept but not used until corrected.
    phone_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    email_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    telegram_blocked: Mapped[bool] = mapped_column(Boolean, default=False)

    matches: Mapped[list[Match]] = relationship(back_populates="volunteer_family")


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
    locale: Mapped[Locale] = mapped_column(_enum(Locale), default=Locale.DA)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Copenhagen")
    preferred_channel: Mapped[Channel] = mapped_column(_enum(Channel), default=Channel.SMS)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None] = mapped_column()
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
    start_date: Mapped[date] = mapped_column(Date)
    visit_weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday ... 6 = Sunday
    visit_time: Mapped[time | None] = mapped_column(Time)
    cadence: Mapped[Cadence] = mapped_column(_enum(Cadence), default=Cadence.WEEKLY)
    status: Mapped[MatchStatus] = mapped_column(_enum(MatchStatus), default=MatchStatus.ACTIVE)
    end_date: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(500))
    ended_by: Mapped[EndedBy | None] = mapped_column(_enum(EndedBy))
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


class OutboxMessage(TimestampMixin, Base):
    """One message to one recipient. Created by the planner, claimed and sent by a dispatcher.

    ``idempotency_key`` = match, touchpoint, occurrence and recipient: planning twice, or on two
    replicas at once, inserts nothing twice.
    """

    __tablename__ = "outbox_message"
    # Partial indexes: the dispatcher looks only for planned rows that are due and for rows left
    # in sending; callbacks look rows up by provider id. Rows that are sent, expired or cancelled
    # (most of the table in time) are in none of them, and the planner's inserts of expired
    # catch-up rows touch none of them either.
    __table_args__ = (
        Index(
            "ix_outbox_due",
            "due_at",
            sqlite_where=text("status = 'planned'"),
            postgresql_where=text("status = 'planned'"),
        ),
        Index(
            "ix_outbox_sending",
            "claimed_at",
            sqlite_where=text("status = 'sending'"),
            postgresql_where=text("status = 'sending'"),
        ),
        Index(
            "ix_outbox_message_provider_id",
            "provider_id",
            sqlite_where=text("provider_id IS NOT NULL"),
            postgresql_where=text("provider_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    match_id: Mapped[int | None] = mapped_column(
        ForeignKey("match.id", ondelete="CASCADE"), index=True
    )
    touchpoint_id: Mapped[str] = mapped_column(String(64))
    occurrence_key: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(24))
    template: Mapped[str] = mapped_column(String(64))
    audience: Mapped[Audience] = mapped_column(_enum(Audience))
    recipient_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    locale: Mapped[Locale] = mapped_column(_enum(Locale), default=Locale.DA)
    essential: Mapped[bool] = mapped_column(Boolean, default=False)
    due_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PLANNED)
    plan_version: Mapped[int] = mapped_column(Integer, default=1)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)  # extra template variables
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    provider_id: Mapped[str | None] = mapped_column(String(64))
    segments: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str | None] = mapped_column(Text)  # as rendered at send time
    subject: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(String(500))


class Escalation(TimestampMixin, Base):
    """Something a staff member must see. One open escalation per match and rule: new evidence is
    appended instead of raising a new alert."""

    __tablename__ = "escalation"
    __table_args__ = (Index("ix_escalation_open", "match_id", "rule", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int | None] = mapped_column(ForeignKey("match.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(40))
    severity: Mapped[Severity] = mapped_column(_enum(Severity), default=Severity.NORMAL)
    status: Mapped[EscalationStatus] = mapped_column(
        _enum(EscalationStatus), default=EscalationStatus.OPEN
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    summary: Mapped[str] = mapped_column(String(300))
    suggested_action: Mapped[str] = mapped_column(String(300), default="")
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    level: Mapped[int] = mapped_column(Integer, default=0)  # 0 = staff member, 1+ = coordinator
    last_notified_at: Mapped[datetime | None] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolution_note: Mapped[str | None] = mapped_column(Text)


class Task(TimestampMixin, Base):
    """A staff task: a call, a child visit, an agreement, an invoice reminder."""

    __tablename__ = "task"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    match_id: Mapped[int | None] = mapped_column(
        ForeignKey("match.id", ondelete="CASCADE"), index=True
    )
    touchpoint_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[TaskStatus] = mapped_column(_enum(TaskStatus), default=TaskStatus.OPEN)
    outcome_note: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column()


class SurveyInvitation(TimestampMixin, Base):
    __tablename__ = "survey_invitation"
    __table_args__ = (UniqueConstraint("match_id", "survey_id", "wave", "contact_person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("match.id", ondelete="CASCADE"), index=True)
    contact_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_person.id", ondelete="SET NULL")
    )
    survey_id: Mapped[str] = mapped_column(String(64))
    wave: Mapped[str] = mapped_column(String(24))  # baseline | end | followup
    # The link token is derived from this nonce and the application secret (see
    # scheduler.surveys); only its sha256 is stored, for lookup.
    nonce: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    opened_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    reminder_step: Mapped[int] = mapped_column(Integer, default=0)


class SurveyResponse(TimestampMixin, Base):
    __tablename__ = "survey_response"
    __table_args__ = (UniqueConstraint("invitation_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("survey_invitation.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(Text)


class SparringSession(TimestampMixin, Base):
    __tablename__ = "sparring_session"
    __table_args__ = (UniqueConstraint("programme_id", "region", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"))
    region: Mapped[str] = mapped_column(String(64), default="")
    starts_at: Mapped[datetime] = mapped_column()
    meeting_link: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(String(300))

    programme: Mapped[Programme] = relationship()


class SparringRSVP(TimestampMixin, Base):
    __tablename__ = "sparring_rsvp"
    __table_args__ = (UniqueConstraint("session_id", "volunteer_family_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sparring_session.id", ondelete="CASCADE"))
    volunteer_family_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer_family.id", ondelete="CASCADE")
    )
    answer: Mapped[RSVP] = mapped_column(_enum(RSVP))


class AuditEntry(Base):
    """Who did what to which record. Never holds phone numbers, emails or free text."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # "cli", "staff:3", "family:7", "system"
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AppSecret(Base):
    """Secrets the application generates for itself (e.g. the key that signs links), shared by
    every replica through the database. ``VENSKAB_SECRET_KEY`` overrides the stored one."""

    __tablename__ = "app_secret"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InviteToken(Base):
    """A single-use link that connects a Telegram chat to a volunteer family or a staff member.

    The token itself is shown once, inside the deep link; only its sha256 is stored, so a copy
    of the database cannot be used to take over a family's chat.
    """

    __tablename__ = "invite_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "family" | "staff"
    subject_id: Mapped[int] = mapped_column(Integer)  # VolunteerFamily.id or Staff.id
    created_by: Mapped[str] = mapped_column(String(64), default="cli")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class BotState(Base):
    """What the Telegram bot remembers between updates (python-telegram-bot persistence): a
    chat's half-finished question, a conversation's state, the bot's own username.

    Kept in the database, not in memory or a pickle file, so that a restart mid-conversation
    continues where it was and every replica sees the same state.
    """

    __tablename__ = "bot_state"

    namespace: Mapped[str] = mapped_column(String(40), primary_key=True)  # "chat", "bot", ...
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SurveyConversation(TimestampMixin, Base):
    """A survey answered inside SMS, one question per message: where the parent is in it.

    ``question_id`` is the question last asked, so that a digit is stored for the question the
    parent saw even if another answer arrived meanwhile from the web form. ``misfits`` counts
    replies in a row that did not fit the question (the first gets a correction).
    """

    __tablename__ = "survey_conversation"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("survey_invitation.id", ondelete="CASCADE"), unique=True
    )
    contact_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_person.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[str | None] = mapped_column(String(64))
    misfits: Mapped[int] = mapped_column(Integer, default=0)
    last_message_sid: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(24))  # completed | stopped
