"""Several cases for one staff member at once: one message.

A normal case's first push waits ``GROUP_WINDOW`` after the case opened (and for working hours,
where it would have gone anyway). When one staff member's first case is due, every new case
waiting for them goes out with it: two or more as one alert ("3 nye sager"), one line and one
acknowledge button each. Urgent cases, and the news staff must hear of at once
(:data:`followup.news.URGENT_RULES`), are never held back. Reminders due at the same moment
for one staff member go as one message too ("2 sager er stadig åbne"); each case keeps its own
policy from the moment of its first push.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from followup.alert_rows import alert_rows, next_working_moment, staff_channels, targets
from followup.news import URGENT_RULES
from scheduler import outbox
from scheduler.programme_sections import PolicyStep
from store.models import Audience, Escalation, Severity, Staff

log = logging.getLogger(__name__)

GROUP_WINDOW = timedelta(minutes=5)
GROUP_MAX = 10  # cases in one message; more go in the next one
NEWS_GAP = timedelta(hours=1)  # news on a used-up case is pushed at most this often


@dataclass
class Due:
    """One push that is due now: the case, to whom, the policy level it reaches, and the moment
    it was due on the policy's clock (kept as ``last_notified_at``)."""

    escalation: Escalation
    to: str
    level: int
    due: datetime
    at_once: bool = True

    @property
    def urgent(self) -> bool:
        return self.at_once and self.escalation.severity == Severity.URGENT


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
    ready = {
        e.id
        for _, cases in by_staff.values()
        if any(ready_at(c, zone) <= now for c in cases)
        for e in cases
    }
    found = {e.id for _, cases in by_staff.values() for e in cases}
    chosen = [
        Due(e, "staff", 1, now, at_once=False)
        for e in waiting
        if e.id in ready or (e.id not in found and ready_at(e, zone) <= now)
    ]
    return push_due(session, chosen, now, default_zone)


def push_due(session: Session, pushes: list[Due], now: datetime, default_zone: str) -> int:
    """Queue the ``pushes``: per staff member, one case alone as its alert, several as one
    message. A case nobody can be told of (no staff member, coordinator or administrator with
    Telegram or email) takes its policy step without counting a push, and says so in the log
    (the case's id only). Returns how many outbox rows were queued."""
    by_staff: dict[int, tuple[Staff, list[Due]]] = {}
    for push in pushes:
        people = targets(session, push.escalation, push.to)
        if not people:
            log.warning("case %s: nobody can be told of it", push.escalation.id)
            continue
        for staff in people:
            by_staff.setdefault(staff.id, (staff, []))[1].append(push)
    rows: list[dict[str, Any]] = []
    for staff, mine in by_staff.values():
        for start in range(0, len(mine), GROUP_MAX):
            chunk = mine[start : start + GROUP_MAX]
            if len(chunk) == 1:
                one = chunk[0]
                count = one.escalation.push_count
                rows.extend(alert_rows(one.escalation, staff, count, now, default_zone, one.urgent))
            else:
                rows.extend(_group_rows(chunk, staff, now, default_zone))
    told = {p.escalation.id for _, mine in by_staff.values() for p in mine}
    for push in pushes:
        if push.escalation.id in told:
            push.escalation.push_count += 1
        push.escalation.last_notified_at = push.due
        push.escalation.level = push.level
    return outbox.insert(session, [outbox.new_row(row) for row in rows])


def _group_rows(
    pushes: list[Due], staff: Staff, now: datetime, default_zone: str
) -> list[dict[str, Any]]:
    ids = [p.escalation.id for p in pushes]
    # The first pushes of new cases, or reminders: the template says which.
    reminder = min(p.escalation.push_count for p in pushes)
    urgent = any(p.urgent for p in pushes)
    due = now if urgent else next_working_moment(now, ZoneInfo(staff.timezone or default_zone))
    return [
        {
            "idempotency_key": outbox.key_for_alert_group(ids, staff.id, channel.value, reminder),
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
            "context": {
                "escalation_ids": ids,
                "level": reminder,
                "pushes": [p.escalation.push_count for p in pushes],
            },
        }
        for channel in staff_channels(staff)
    ]
