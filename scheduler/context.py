"""The variables a message template sees, built from current data at send time.

Rendering at send time (not at planning time) means a corrected name, a new staff member or a
moved sparring session is what the recipient reads.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from scheduler.programme import Programme
from scheduler.recipients import Recipient
from store.models import Match, OutboxMessage, SparringSession


def build_context(
    match: Match,
    programme: Programme,
    recipient: Recipient,
    row: OutboxMessage,
    *,
    session_row: SparringSession | None = None,
    survey_url: str | None = None,
    unsubscribe_url: str | None = None,
    bot_hint: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """``now`` is the moment of sending: a visit prompt sent on a later day than its visit
    (quiet hours, downtime) names the visit's day instead of saying "today"."""
    zone = ZoneInfo(recipient.timezone)
    extra = row.context or {}
    staff = match.staff
    session: dict[str, Any] | None = None
    if session_row is not None:
        session = {
            "starts_at": session_row.starts_at.astimezone(zone),
            "meeting_link": session_row.meeting_link,
        }
    elif extra.get("session_starts_at"):
        session = {
            "starts_at": datetime.fromisoformat(extra["session_starts_at"]).astimezone(zone),
            "meeting_link": None,
        }
    call_at = extra.get("call_at")
    end_date = match.end_date
    if end_date is None and programme.duration is not None:
        end_date = match.start_date + programme.duration.delta
    return {
        "locale": recipient.locale,
        "programme": {
            "name": programme.name,
            "organisation": programme.organisation,
            "staff_title": programme.staff_title.value,
        },
        "recipient": {"name": recipient.name, "kind": recipient.audience.value},
        "family": {
            "name": match.volunteer_family.name,
            "contact_name": match.volunteer_family.contact_name,
        },
        "child": {"first_name": match.child.first_name},
        "staff": (
            {"name": staff.name, "phone": staff.phone, "email": staff.email}
            if staff is not None
            else None
        ),
        "match": {
            "id": match.id,
            "start_date": match.start_date,
            "end_date": end_date,
            "visit_weekday": match.visit_weekday,
            "cadence": extra.get("cadence") or match.cadence.value,
        },
        "due": row.due_at.astimezone(zone),
        "visit_day": _visit_day(row, now, zone),
        "reminder": int(extra.get("reminder", 0)),
        "session": session,
        "short_notice": bool(extra.get("short_notice")),
        "survey_url": survey_url,
        "wave": extra.get("wave"),
        "call_at": datetime.fromisoformat(call_at).astimezone(zone) if call_at else None,
        "caller": staff.name if staff is not None else programme.organisation,
        "unsubscribe_url": unsubscribe_url,
        "bot_hint": bot_hint,
        "holiday": _holiday(extra),
    }


def _holiday(extra: dict[str, Any]) -> dict[str, Any] | None:
    """The school holiday a holiday question asks about: its kind, first and last day."""
    try:
        return {
            "kind": str(extra["holiday_kind"]),
            "first": date.fromisoformat(extra["holiday_first"]),
            "last": date.fromisoformat(extra["holiday_last"]),
        }
    except (KeyError, TypeError, ValueError):
        return None


def _visit_day(row: OutboxMessage, now: datetime | None, zone: ZoneInfo) -> date | None:
    """The visit's date when a visit prompt goes out on a later day than the visit, else None
    (the prompt then says "today")."""
    if row.kind != "visit_prompt" or now is None or ":" in (row.occurrence_key or ""):
        return None
    try:
        day = date.fromisoformat(row.occurrence_key)
    except ValueError:
        return None
    return day if now.astimezone(zone).date() > day else None
