"""What staff do to one planned message on the web app's outbox page: edit its text,
reschedule it, send it now, cancel it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from scheduler.i18n import N_
from scheduler.outbox.claims import cancel
from store.models import OutboxMessage, OutboxStatus

# -- what staff do to one message (the web app's outbox page) -----------------------------------

# The context key under which a staff member's own changes to a planned row are kept: the text
# they wrote instead of the template's, the time they set. Re-planning keeps them.
STAFF = "staff"
CANCELLED_BY_STAFF = N_("cancelled by staff")
TEXT_MAX = 1600


class NotPlanned(ValueError):
    """Only a message still planned can be changed; the message says what it is now."""


def _planned(row: OutboxMessage) -> None:
    if row.status != OutboxStatus.PLANNED:
        raise NotPlanned(f"the message is {row.status.value}, no longer planned")


def _staff_change(row: OutboxMessage, staff_id: int, now: datetime, **values: Any) -> None:
    own = dict((row.context or {}).get(STAFF) or {})
    own.update(values, by=staff_id, at=now.isoformat())
    row.context = {**(row.context or {}), STAFF: own}


def staff_text(row: OutboxMessage) -> str | None:
    """The text a staff member wrote for this message instead of the template's, if any."""
    own = (row.context or {}).get(STAFF) or {}
    text = own.get("text")
    return str(text) if text else None


def edit_text(row: OutboxMessage, text: str, staff_id: int, now: datetime) -> None:
    """Send ``text`` instead of the rendered template (empty: back to the template)."""
    _planned(row)
    cleaned = text.replace("\r\n", "\n").strip()[:TEXT_MAX]
    _staff_change(row, staff_id, now, text=cleaned or None)


def reschedule(row: OutboxMessage, when: datetime, staff_id: int, now: datetime) -> None:
    """Send at ``when`` instead (still within quiet hours' rules when it is sent)."""
    _planned(row)
    if when < now - timedelta(minutes=1):
        raise NotPlanned(N_("the new time is in the past"))
    row.due_at = when
    row.next_attempt_at = None
    if row.expires_at is not None and row.expires_at <= when:
        row.expires_at = when + timedelta(days=1)
    _staff_change(row, staff_id, now, due_at=when.isoformat())


def send_now(row: OutboxMessage, staff_id: int, now: datetime) -> None:
    """Due at once: the next dispatch takes it (a channel's quiet hours still hold)."""
    reschedule(row, now, staff_id, now)


def cancel_by_staff(row: OutboxMessage, staff_id: int, now: datetime) -> None:
    _planned(row)
    _staff_change(row, staff_id, now, cancelled=True)
    cancel(row, CANCELLED_BY_STAFF)
