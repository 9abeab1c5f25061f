"""Raising escalations: one open escalation per match and rule gathers new evidence.

Routing, acknowledgement and the escalation policy live with the staff follow-up (alerts.py);
this module only makes sure that what must reach staff is recorded once and never lost. The
evidence stays small: a count, the last few items and the references already seen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.news import URGENT_RULES, announce
from store.audit import record
from store.models import Escalation, EscalationStatus, Match, Severity

# An escalation keeps its evidence short: how many arrived, and the last few in full.
EVIDENCE_KEPT = 5
# The references (visit dates, task ids) already seen, so a rule adds nothing it added before.
REFS_KEPT = 50

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
    "bot_error": "The bot failed while answering someone",
    "contact_overdue": "Staff have not been in touch as the programme promises",
    "unreachable": "Nothing heard from the volunteer family: mark as unreachable?",
}
# Rules raised once per staff member rather than per match: the open case lists the matches
# (an hour-long provider outage is one alert to each staff member, not one per match).
GROUPED = frozenset({"delivery_expired"})


# The same titles in Danish, for what staff read (digest, case lists).
RULES_DA = {
    "worry": "Venskabsfamilien er bekymret for barnet",
    "missed_visits": "Besøg er aflyst eller ikke blevet til noget",
    "no_visit": "Intet besøg i lang tid",
    "unanswered_prompts": "Besøgsbeskeder bliver ikke besvaret",
    "low_mood": "Besøgene er gået dårligt flere gange",
    "delivery_failed": "En besked kunne ikke leveres",
    "delivery_unknown": "Det er uvist, om en besked blev sendt",
    "bot_blocked": "Familien har blokeret Telegram-botten",
    "opt_out": "En kontaktperson har frameldt beskeder",
    "wants_to_stop": "Venskabsfamilien ønsker at stoppe",
    "message_from_parent": "Besked fra forælderen",
    "message_from_family": "Besked fra venskabsfamilien",
    "task_overdue": "En opgave er ikke afsluttet",
    "bot_error": "Botten fik en fejl",
    "delivery_expired": "Vigtige beskeder udløb, før de kunne sendes",
    "contact_overdue": "Vi har ikke været i kontakt, som programmet lover",
    "unreachable": "Intet hørt fra venskabsfamilien: markér som uopnåelig?",
}


def rule_title(rule: str, locale: str) -> str:
    """A case's rule as staff read it, in their language."""
    if locale == "da":
        return RULES_DA.get(rule, "En sag at se på")
    return RULES.get(rule, "A case to look at")


# Rules about a state that lasts (prompts unanswered, no visits): one case until it is resolved.
STANDING = frozenset({"unanswered_prompts", "no_visit", "unreachable"})


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
    # A standing condition that staff have taken on (acknowledged) goes on in that case: the
    # weeks after are its evidence, not a new case each week. An urgent turn is news.
    statuses = [EscalationStatus.OPEN]
    if rule in STANDING and severity != Severity.URGENT:
        statuses.append(EscalationStatus.ACKNOWLEDGED)
    existing = session.scalars(
        select(Escalation)
        .where(
            Escalation.match_id == match_id
            if match_id is not None
            else Escalation.match_id.is_(None),
            Escalation.rule == rule,
            Escalation.status.in_(statuses),
        )
        .order_by(Escalation.id.desc())
    ).first()
    item = {"at": now.isoformat(), **evidence}
    ref = evidence.get("ref")
    if existing is not None:
        # A new list (not an in-place append), so the JSON column sees the change; bounded.
        existing.evidence = [*existing.evidence[-(EVIDENCE_KEPT - 1) :], item]
        existing.evidence_count = (existing.evidence_count or 0) + 1
        if ref is not None:
            existing.refs = [*(existing.refs or [])[-(REFS_KEPT - 1) :], ref]
        if severity == Severity.URGENT and existing.severity != Severity.URGENT:
            existing.severity = Severity.URGENT
            existing.level = 0  # an urgent turn is news: the urgent policy starts over
            existing.last_notified_at = None
            existing.snoozed_until = None
            announce(session)
        return existing
    escalation = Escalation(
        created_at=now,  # since when: the moment it happened, also when replayed or caught up
        match_id=match_id,
        rule=rule,
        severity=severity,
        staff_id=match.staff_id if match is not None else None,
        summary=(summary or RULES.get(rule, rule))[:300],
        suggested_action=suggested_action[:300],
        evidence=[item],
        evidence_count=1,
        refs=[ref] if ref is not None else [],
        push_count=0,
    )
    session.add(escalation)
    session.flush()
    record(
        session, "system", "escalation.open", "escalation", escalation.id, rule=rule, match=match_id
    )
    if severity == Severity.URGENT or rule in URGENT_RULES:
        announce(session)  # staff hear of it in seconds (see followup.news)
    return escalation


def knows(escalation: Escalation, ref: str) -> bool:
    """Whether this escalation already holds the evidence with reference ``ref``."""
    return ref in (escalation.refs or []) or any(
        e.get("ref") == ref for e in escalation.evidence or []
    )


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
        existing.evidence = [*existing.evidence[-(EVIDENCE_KEPT - 1) :], item]
        existing.evidence_count = (existing.evidence_count or 0) + 1
        return existing
    escalation = Escalation(
        created_at=now,  # since when: the moment it happened, also when replayed or caught up
        match_id=None,
        rule=rule,
        severity=severity,
        staff_id=staff_id,
        summary=RULES.get(rule, rule)[:300],
        suggested_action=suggested_action[:300],
        evidence=[item],
        evidence_count=1,
        push_count=0,
    )
    session.add(escalation)
    session.flush()
    record(session, "system", "escalation.open", "escalation", escalation.id, rule=rule)
    return escalation
