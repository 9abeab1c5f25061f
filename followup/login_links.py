"""One-time login links by email, for a staff member who has no password yet or forgot it.

Asking for a link queues an email to the staff member's address through the outbox (it goes out
at once, like urgent news); whoever asked sees the same answer whether the address is known or
not. The link is signed with the application secret, names its outbox row, works once, and only
until the row expires (15 minutes). The token never reaches the database: the stored text of the
email shows ``[link]`` (see :func:`followup.alert_content.staff_content`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from followup.news import announce
from followup.staff_auth import find_staff
from scheduler import outbox
from store.audit import record
from store.models import Audience, Channel, OutboxMessage, OutboxStatus, Staff
from store.receipts import first_delivery

VALID_FOR = timedelta(minutes=15)
PER_QUARTER = 3  # links one staff member may ask for in 15 minutes
KIND = "login_link"


def request_link(session: Session, login: str, now: datetime) -> bool:
    """Queue a login link for the staff member with this email or ref; whether one was queued
    (never shown to the person asking: the page says the same either way)."""
    staff = find_staff(session, login)
    if staff is None or not staff.active or not staff.email:
        return False
    recent = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.kind == KIND,
            OutboxMessage.recipient_id == staff.id,
            OutboxMessage.created_at >= now - VALID_FOR,
        )
    )
    if (recent or 0) >= PER_QUARTER:
        return False
    row = {
        "idempotency_key": outbox.key_for_login_link(staff.id, secrets.token_hex(8)),
        "touchpoint_id": KIND,
        "occurrence_key": now.isoformat(),
        "kind": KIND,
        "template": KIND,
        "audience": Audience.STAFF,
        "recipient_id": staff.id,
        "channel": Channel.EMAIL,
        "locale": staff.locale,
        "essential": True,
        "due_at": now,
        "expires_at": now + VALID_FOR,
        "plan_version": 0,
        "context": {},
        "created_at": now,
        "updated_at": now,
    }
    outbox.insert(session, [outbox.new_row(row)])
    record(session, f"staff:{staff.id}", "staff.login_link", "staff", staff.id)
    announce(session)  # out at once, not at the next tick
    return True


def _signature(secret: str, row_id: int, staff_id: int) -> str:
    digest = hmac.new(secret.encode(), f"login:{row_id}:{staff_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:24]).decode().rstrip("=")


def link_token(secret: str, row: OutboxMessage) -> str:
    return f"{row.id}.{_signature(secret, row.id, row.recipient_id or 0)}"


def use_link(session: Session, secret: str, token: str, now: datetime) -> Staff | None:
    """The staff member a valid, unused, unexpired link signs in; the link is used up."""
    number, _, signature = token.partition(".")
    if not number.isascii() or not number.isdigit() or len(number) > 12:
        return None
    row = session.get(OutboxMessage, int(number))
    if row is None or row.kind != KIND or row.recipient_id is None:
        return None
    expected = _signature(secret, row.id, row.recipient_id)
    if not signature.isascii() or not hmac.compare_digest(expected, signature):
        return None
    sent = row.status in (OutboxStatus.SENT, OutboxStatus.DELIVERED)
    if not sent or row.expires_at is None or now >= row.expires_at:
        return None
    if not first_delivery(session, "login_link", str(row.id), now):
        return None  # this link signed someone in already
    staff = session.get(Staff, row.recipient_id)
    return staff if staff is not None and staff.active else None
