"""What a provider's receipt says of a row (delivered, failed, a call unanswered), and a
voice call's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.channels.base import ChannelError
from scheduler.channels.errors import permanent_twilio_error
from scheduler.outbox.claims import fail
from store.models import OutboxMessage, OutboxStatus

# -- provider receipts --------------------------------------------------------------------------

_FAILED_RECEIPTS = {"undelivered", "failed", "busy", "no-answer", "canceled"}
_UNANSWERED_CALLS = {"busy", "no-answer", "failed", "canceled"}


class Receipt(NamedTuple):
    """What a receipt did: ``delivered``; ``unanswered`` (an automated call nobody took: a call
    for the staff member); ``failed`` with ``error`` classified as the channel classifies the
    same code when it sends (permanent: the address will never work); ``ignored`` (progress
    such as ``queued`` or ``sent``)."""

    outcome: Literal["delivered", "unanswered", "failed", "ignored"]
    error: ChannelError | None = None


def by_provider_id(session: Session, provider_id: str) -> OutboxMessage | None:
    return session.scalars(
        select(OutboxMessage).where(OutboxMessage.provider_id == provider_id)
    ).first()


def apply_receipt(row: OutboxMessage, status: str, code: str, now: datetime) -> Receipt:
    """Apply a Twilio status callback (``MessageStatus`` or ``CallStatus``, ``ErrorCode``)."""
    voice = row.channel.value == "voice"
    if status == "delivered" or (status == "completed" and voice):
        row.status = OutboxStatus.DELIVERED
        row.delivered_at = now
        return Receipt("delivered")
    if voice and status in _UNANSWERED_CALLS:
        fail(row, f"call {status}")
        return Receipt("unanswered")
    if status not in _FAILED_RECEIPTS:
        return Receipt("ignored")
    fail(row, f"provider reported {status}" + (f" (code {code})" if code else ""))
    error = permanent_twilio_error(code, "call" if voice else "message") if code else None
    if error is None:
        error = ChannelError(row.last_error or status, permanent=False, code=code or None)
    return Receipt("failed", error)


def record_answer(row: OutboxMessage, digits: str, now: datetime) -> None:
    """The digit pressed in an automated call (no change of status: the call was delivered)."""
    row.context = {**(row.context or {}), "answer": digits, "answered_at": now.isoformat()}
