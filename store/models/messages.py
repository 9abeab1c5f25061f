"""What follow-up produces for a match: outbox messages, escalations, staff tasks, survey
invitations and answers, sparring sessions and their RSVPs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.base import Base, LocaleColumn, TimestampMixin, _enum
from store.models.enums import (
    RSVP,
    Audience,
    Channel,
    EscalationStatus,
    Locale,
    OutboxStatus,
    ResolutionOutcome,
    Severity,
    TaskStatus,
)
from store.models.people import Programme


class OutboxMessage(TimestampMixin, Base):
    """One message to one recipient. Created by the planner, claimed and sent by a dispatcher.

    ``idempotency_key`` = match, touchpoint, occurrence and recipient: planning twice, or on two
    replicas at once, inserts nothing twice.
    """

    __tablename__ = "outbox_message"
    # Partial indexes: the dispatcher looks only for planned rows that are due (urgent first,
    # then by due time) and for rows left in sending; callbacks look rows up by provider id.
    # Rows that are sent, expired or cancelled (most of the table in time) are in none of them,
    # and the planner's inserts of expired catch-up rows touch none of them either.
    __table_args__ = (
        Index(
            "ix_outbox_claim",
            "priority",
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
    locale: Mapped[Locale] = mapped_column(LocaleColumn(), default=Locale.DA)
    essential: Mapped[bool] = mapped_column(Boolean, default=False)
    due_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PLANNED)
    # Claimed in this order, then by due time: 0 for what staff must hear at once (alerts,
    # login links), 1 for everything else (scheduler.outbox.URGENT_KINDS).
    priority: Mapped[int] = mapped_column(SmallInteger, default=1, server_default=text("1"))
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
    level: Mapped[int] = mapped_column(Integer, default=0)  # the policy step last pushed
    last_notified_at: Mapped[datetime | None] = mapped_column()
    # Pushes sent so far; the programme's policy bounds it (then only digest and case list).
    push_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    snoozed_until: Mapped[datetime | None] = mapped_column()
    # How many pieces of evidence arrived; ``evidence`` keeps only the last few of them.
    evidence_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    refs: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # What staff recorded when they resolved it; None for cases the system closed itself.
    resolution_outcome: Mapped[ResolutionOutcome | None] = mapped_column(_enum(ResolutionOutcome))


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
    # The child's voice relayed by the volunteer family: the family that was asked (a contact
    # person's invitations leave it empty).
    volunteer_family_id: Mapped[int | None] = mapped_column(
        ForeignKey("volunteer_family.id", ondelete="SET NULL"), index=True
    )
    survey_id: Mapped[str] = mapped_column(String(64))
    wave: Mapped[str] = mapped_column(String(24))  # baseline | end | followup
    # The link token is derived from this nonce and the application secret (see
    # scheduler.links); only its sha256 is stored, for lookup.
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
