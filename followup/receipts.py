"""What a provider tells us about a message after it was sent: Twilio's delivery receipts
(SMS and call status) and the digit a contact pressed in an automated call.

The web layer verifies the provider's signature and bounds what it reads; what a receipt means
for the follow-up is decided here: a failed delivery is a case for the staff member (and a
permanent one stops using the address), an unanswered or "call me" check-in is a call task.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from followup.escalations import raise_escalation
from followup.tasks import call_back_task
from scheduler import i18n, outbox
from scheduler.i18n import N_
from scheduler.outcomes import mark_address_failed
from store.audit import record
from store.models import Match, OutboxMessage
from store.receipts import first_delivery

log = logging.getLogger(__name__)

DIGITS_MAX = 4  # what an automated call asks for is one digit; more is never stored


def record_status(session: Session, sid: str, status: str, code: str, now: datetime) -> None:
    """A Twilio status callback for the message or call ``sid`` (recorded once per status)."""
    if not first_delivery(session, "twilio-status", f"{sid}:{status}", now):
        return  # the same callback again: recorded the first time
    row = outbox.by_provider_id(session, sid)
    if row is None:
        log.info("status callback for an unknown message")
        return
    receipt = outbox.apply_receipt(row, status, code, now)
    if receipt.outcome == "unanswered":
        # An automated check-in nobody answered becomes a call for the staff member.
        _call_back(session, row, N_("Call back: the automated call was not answered"), now)
    elif receipt.outcome == "failed":
        match = session.get(Match, row.match_id) if row.match_id else None
        if receipt.error is not None and receipt.error.permanent:
            mark_address_failed(session, row)
        raise_escalation(
            session,
            match,
            "delivery_failed",
            now=now,
            evidence={
                "outbox_id": row.id,
                "touchpoint": row.touchpoint_id,
                "channel": row.channel.value,
                "code": code or None,
                "status": status,
            },
            # An id: translated where it is shown, in the reader's language.
            suggested_action=N_("Check the phone number with the family."),
        )


def record_answer(
    session: Session, outbox_id: int, call_sid: str | None, digits: str, now: datetime
) -> str | None:
    """Store the digit pressed in the automated call ``outbox_id``; the call's language, or
    None when the call is not ours (unknown row, or a call id that does not match)."""
    row = session.get(OutboxMessage, outbox_id)
    if row is None or not call_sid or row.provider_id != call_sid:
        return None
    locale = row.locale.value
    if not first_delivery(session, "twilio-voice", f"{row.provider_id}:{row.id}", now):
        return locale  # the same answer delivered again: thank, record nothing
    digits = digits[:DIGITS_MAX]
    outbox.record_answer(row, digits, now)
    record(session, "contact", "voice.answer", "outbox_message", row.id, digits=digits)
    if digits == "2":  # "please call me"
        title = N_("Call back: the parent or contact person asked to be called (phone call)")
        _call_back(session, row, title, now)
    return locale


def _call_back(session: Session, row: OutboxMessage, title: str, now: datetime) -> None:
    """One call task per automated call, titled in its staff member's language."""
    match = session.get(Match, row.match_id) if row.match_id else None
    staff = match.staff if match is not None else None
    texts = i18n.texts(staff.locale.value if staff is not None else "da")
    call_back_task(
        session,
        row.match_id,
        match.staff_id if match else None,
        texts.gettext(title),
        now,
        key=outbox.key_for_call_back(row.id),
    )
