"""Several new cases for one staff member within a few minutes: one message.

A normal case's first push waits ``GROUP_WINDOW`` after the case opened (and for working hours,
where it would have gone anyway). When one staff member's first case is due, every new case
waiting for them goes out with it: two or more as one alert ("3 nye sager"), one line and one
acknowledge button each. Urgent cases, and the news staff must hear of at once
(:data:`followup.news.URGENT_RULES`), are never held back. Reminders are not grouped: each case
keeps its own policy from the moment of its first push.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from followup.alert_rows import alert_rows, next_working_moment, staff_channels, targets
from followup.news import URGENT_RULES
from scheduler import outbox
from scheduler.programme import PolicyStep
from store.models import Audience, Escalation, Severity, Staff

GROUP_WINDOW = timedelta(minutes=5)
GROUP_MAX = 10  # cases in one message; more go in the next one


def groupable(escalation: Escalation, step: PolicyStep) -> bool:
    """A normal case's first push to its staff member waits a little for company."""
    return (
        escalation.level == 0
        and escalation.severity != Severity.URGENT
        and escalation.rule not in URGENT_RULES
        and step.to == "staff"
    )


def ready_at(escalation: Escalation, zone: ZoneInfo) -> datetime:
    return next_working_moment(escalation.created_at + GROUP_WINDOW, zone)


def push_first(
    session: Session, waiting: list[Escalation], now: datetime, default_zone: str
) -> int:
    """First pushes of the ``waiting`` cases whose staff member has one ready: one message per
    staff member and channel. Returns how many outbox rows were queued."""
    zone = ZoneInfo(default_zone)
    by_staff: dict[int, tuple[Staff, list[Escalation]]] = {}
    for escalation in waiting:
        for staff in targets(session, escalation, "staff"):
            by_staff.setdefault(staff.id, (staff, []))[1].append(escalation)
    chosen = {
        e.id: e
        for _, cases in by_staff.values()
        if any(ready_at(e, zone) <= now for e in cases)
        for e in cases
    }
    rows: list[dict[str, Any]] = []
    for staff, cases in by_staff.values():
        mine = [e for e in cases if e.id in chosen]
        for start in range(0, len(mine), GROUP_MAX):
            chunk = mine[start : start + GROUP_MAX]
            if len(chunk) == 1:
                rows.extend(alert_rows(chunk[0], staff, 0, now, default_zone, urgent=False))
            else:
                rows.extend(_group_rows(chunk, staff, now, default_zone))
    for escalation in chosen.values():
        escalation.push_count += 1
        escalation.last_notified_at = now
        escalation.level += 1
    return outbox.insert(session, [outbox.new_row(row) for row in rows])


def _group_rows(
    cases: list[Escalation], staff: Staff, now: datetime, default_zone: str
) -> list[dict[str, Any]]:
    ids = [e.id for e in cases]
    due = next_working_moment(now, ZoneInfo(staff.timezone or default_zone))
    return [
        {
            "idempotency_key": outbox.key_for_alert_group(ids, staff.id, channel.value),
            "match_id": None,
            "touchpoint_id": "escalation",
            "occurrence_key": outbox.alert_group_occurrence(ids),
            "kind": "alert",
            "template": "escalation_group",
            "audience": Audience.STAFF,
            "recipient_id": staff.id,
            "channel": channel,
            "locale": staff.locale,
            "essential": True,
            "due_at": due,
            "plan_version": 0,
            "context": {"escalation_ids": ids, "level": 0},
        }
        for channel in staff_channels(staff)
    ]
