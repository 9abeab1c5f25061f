"""Raising escalations: one open escalation per match and rule gathers new evidence.

Routing, acknowledgement and re-escalation live with the staff follow-up; this module only makes
sure that what must reach staff is recorded once and never lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.audit import record
from store.models import Escalation, EscalationStatus, Match, Severity

RULES = {
    "worry": "The volunteer family is worried about the child",
    "missed_visits": "Visits were cancelled or missed",
    "no_visit": "No visit for a long time",
    "unanswered_prompts": "Visit prompts go unanswered",
    "low_mood": "Visits went badly more than once",
    "delivery_failed": "A message could not be delivered",
    "delivery_unknown": "A message may or may not have been sent",
    "delivery_expired": "Essential messages expired before they could be sent",
    "bot_blocked": "The family blocked the Telegram bot",
    "opt_out": "A contact person opted out of messages",
    "wants_to_stop": "The volunteer family wants to stop",
    "message_from_parent": "A message from the parent",
    "message_from_family": "A message from the volunteer family",
    "task_overdue": "A follow-up task is overdue",
}
# Rules raised once per staff member rather than per match: the open case lists the matches
# (an hour-long provider outage is one alert to each staff member, not one per match).
GROUPED = frozenset({"delivery_expired"})


def raise_escalation(
    session: Session,
    match: Match | None,
    rule: str,
    *,
    now: datetime,
    evidence: dict[str, Any],
    severity: Severity = Severity.NORMAL,
    suggested_action: str = "",
    summary: str | None = None,
) -> Escalation:
    """Open an escalation, or add ``evidence`` to the open one for the same match and rule
    (for a grouped rule: for the same staff member and rule, the match named in the evidence)."""
    if rule in GROUPED and match is not None:
        return _raise_grouped(session, match, rule, now, evidence, severity, suggested_action)
    match_id = match.id if match is not None else None
    existing = session.scalars(
        select(Escalation).where(
            Escalation.match_id == match_id
            if match_id is not None
            else Escalation.match_id.is_(None),
            Escalation.rule == rule,
            Escalation.status == EscalationStatus.OPEN,
        )
    ).first()
    item = {"at": now.isoformat(), **evidence}
    if existing is not None:
        existing.evidence = [*existing.evidence, item]
        if severity == Severity.URGENT and existing.severity != Severity.URGENT:
            existing.severity = Severity.URGENT
            existing.last_notified_at = None  # an urgent turn is news: notify again
        return existing
    escalation = Escalation(
        match_id=match_id,
        rule=rule,
        severity=severity,
        staff_id=match.staff_id if match is not None else None,
        summary=(summary or RULES.get(rule, rule))[:300],
        suggested_action=suggested_action[:300],
        evidence=[item],
    )
    session.add(escalation)
    session.flush()
    record(
        session, "system", "escalation.open", "escalation", escalation.id, rule=rule, match=match_id
    )
    return escalation


def _raise_grouped(
    session: Session,
    match: Match,
    rule: str,
    now: datetime,
    evidence: dict[str, Any],
    severity: Severity,
    suggested_action: str,
) -> Escalation:
    staff_id = match.staff_id
    item = {"at": now.isoformat(), "match": match.id, "child": match.child.first_name, **evidence}
    existing = session.scalars(
        select(Escalation).where(
            Escalation.match_id.is_(None),
            Escalation.staff_id == staff_id
            if staff_id is not None
            else Escalation.staff_id.is_(None),
            Escalation.rule == rule,
            Escalation.status == EscalationStatus.OPEN,
        )
    ).first()
    if existing is not None:
        existing.evidence = [*existing.evidence, item]
        return existing
    escalation = Escalation(
        match_id=None,
        rule=rule,
        severity=severity,
        staff_id=staff_id,
        summary=RULES.get(rule, rule)[:300],
        suggested_action=suggested_action[:300],
        evidence=[item],
    )
    session.add(escalation)
    session.flush()
    record(session, "system", "escalation.open", "escalation", escalation.id, rule=rule)
    return escalation
