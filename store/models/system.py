"""The application's own records: the audit trail, generated secrets, Telegram invite tokens,
the bot's persisted state, and SMS survey conversations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, TimestampMixin, utcnow


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


class WebhookReceipt(Base):
    """A provider's delivery we have acted on, by the provider's own id (an SMS's MessageSid,
    a status callback's sid and status, a call's answer, a Telegram update_id): a replay of the
    same delivery finds its receipt and changes nothing. Holds no personal data."""

    __tablename__ = "webhook_receipt"

    provider: Mapped[str] = mapped_column(String(24), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class StaffCredential(Base):
    """A staff member's password for the web app: only its argon2id hash."""

    __tablename__ = "staff_credential"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    password_hash: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffSession(Base):
    """A signed-in browser. The cookie holds a random token; only its sha256 is stored, so a
    copy of the database signs nobody in. Logging out, or a new password, deletes the row."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
