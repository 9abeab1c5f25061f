"""Invite links that connect a Telegram chat to a volunteer family or a staff member.

Staff run ``venskab invite family ID``; the family opens ``https://t.me/<bot>?start=<token>``
and Telegram sends ``/start <token>`` from their chat. A token is 43 characters of
``A-Za-z0-9_-`` (Telegram allows at most 64 of those in a start parameter), can be used once,
and expires after :data:`LIFETIME`. Only its sha256 is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.audit import record
from store.models import InviteToken, Staff, VolunteerFamily

LIFETIME = timedelta(days=14)
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")

InviteKind = Literal["family", "staff"]


class InviteError(ValueError):
    """The token cannot be used. ``reason`` is "unknown", "expired" or "used"."""

    def __init__(self, reason: Literal["unknown", "expired", "used"]) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Linked:
    kind: InviteKind
    subject_id: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def deep_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={token}"


def create_invite(
    session: Session, kind: InviteKind, subject_id: int, now: datetime, actor: str = "cli"
) -> tuple[str, InviteToken]:
    """A new token for the family or staff member ``subject_id``; returns (token, row).

    Raises ``LookupError`` when there is no such family or staff member.
    """
    model = VolunteerFamily if kind == "family" else Staff
    if session.get(model, subject_id) is None:
        raise LookupError(
            f"there is no {'volunteer family' if kind == 'family' else 'staff member'} "
            f"with id {subject_id}"
        )
    token = secrets.token_urlsafe(32)  # 256 bits, 43 characters of A-Za-z0-9_-
    row = InviteToken(
        token_hash=token_hash(token),
        kind=kind,
        subject_id=subject_id,
        created_by=actor[:64],
        created_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(row)
    session.flush()
    record(session, actor, "invite.create", kind, subject_id, invite=row.id)
    return token, row


def find_invite(session: Session, token: str, now: datetime) -> InviteToken:
    """The usable invite for ``token``, or :class:`InviteError` saying why not. Reads only."""
    if not TOKEN_SHAPE.fullmatch(token or ""):
        raise InviteError("unknown")
    row = session.scalars(
        select(InviteToken).where(InviteToken.token_hash == token_hash(token))
    ).first()
    if row is None:
        raise InviteError("unknown")
    if row.used_at is not None:
        raise InviteError("used")
    if row.expires_at <= now:
        raise InviteError("expired")
    return row


def redeem_invite(session: Session, token: str, chat_id: int, now: datetime) -> Linked:
    """Link ``chat_id`` to the invite's family or staff member and spend the token.

    A chat belongs to one family (and at most one staff member): linking it again moves it. The
    token is spent with a conditional update, so two simultaneous ``/start`` presses cannot both
    use it.
    """
    row = find_invite(session, token, now)
    spent = session.execute(
        update(InviteToken)
        .where(InviteToken.id == row.id, InviteToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not spent.rowcount:  # type: ignore[attr-defined]
        raise InviteError("used")
    kind: InviteKind = "family" if row.kind == "family" else "staff"
    if kind == "family":
        family = session.get(VolunteerFamily, row.subject_id)
        if family is None:
            raise InviteError("unknown")
        for other in session.scalars(
            select(VolunteerFamily).where(
                VolunteerFamily.telegram_chat_id == chat_id, VolunteerFamily.id != family.id
            )
        ):
            other.telegram_chat_id = None
        session.flush()
        family.telegram_chat_id = chat_id
        family.telegram_blocked = False
    else:
        staff = session.get(Staff, row.subject_id)
        if staff is None:
            raise InviteError("unknown")
        for other_staff in session.scalars(
            select(Staff).where(Staff.telegram_chat_id == chat_id, Staff.id != staff.id)
        ):
            other_staff.telegram_chat_id = None
        session.flush()
        staff.telegram_chat_id = chat_id
    session.flush()
    record(
        session, f"{kind}:{row.subject_id}", "telegram.link", kind, row.subject_id, invite=row.id
    )
    return Linked(kind, row.subject_id)
