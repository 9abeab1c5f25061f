"""Raising escalations: one open escalation per match and rule gathers new evidence.

Routing, acknowledgement and the escalation policy live with the staff follow-up (alerts.py);
this module only makes sure that what must reach staff is recorded once and never lost. The
evidence stays small: a count, the last few items and the references already seen.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.news import URGENT_RULES, announce
from scheduler import i18n
from scheduler.i18n import N_
from store.audit import record
from store.models import Escalation, EscalationStatus, Match, Severity

# An escalation keeps its evidence short: how many arrived, and the last few in full.
EVIDENCE_KEPT = 5
# The references (visit dates, task ids) already seen, so a rule adds nothing it added before.
REFS_KEPT = 50

# Each rule's title, as staff read it in case lists, the digest, the bot and the web app: the one
# table of these words (message ids, translated where they are read: :func:`rule_title`). The
# English title is also the case's stored ``summary``. What a single alert says about a case in
# full (with its evidence) is in templates/escalation_alert/_rules.j2.
RULES = {
    "worry": N_("The volunteer family is worried about the child"),
    "missed_visits": N_("Visits were cancelled or missed"),
    "no_visit": N_("No visit for a long time"),
    "unanswered_prompts": N_("Visit prompts go unanswered"),
    "low_mood": N_("Visits went badly more than once"),
    "delivery_failed": N_("A message could not be delivered"),
    "delivery_unknown": N_("A message may or may not have been sent"),
    "delivery_expired": N_("Essential messages expired before they could be sent"),
    "bot_blocked": N_("The family blocked the Telegram bot"),
    "opt_out": N_("A contact person opted out of messages"),
    "wants_to_stop": N_("The volunteer family wants to stop"),
    "message_from_parent": N_("A message from the parent"),
    "message_from_family": N_("A message from the volunteer family"),
    "task_overdue": N_("A follow-up task is overdue"),
    "bot_error": N_("The bot failed while answering someone"),
    "contact_overdue": N_("Staff have not been in touch as the programme promises"),
    "unreachable": N_("Nothing heard from the volunteer family: mark as unreachable?"),
}
UNKNOWN_RULE = N_("A case to look at")
# What staff should do next about a case of each rule: shown in the alert, the bot and the CLI.
_CALL_ABOUT_VISITS = N_(
    "Call the volunteer family and ask how it is going. Steady visits are what carries the relation."
)
_CHECK_DETAILS = N_("Check the contact details with the person and correct them.")
_READ_AND_ANSWER = N_("Read the message and answer.")
NEXT_STEPS = {
    "worry": N_("Call the volunteer family today. Consider whether to file a report of concern."),
    "missed_visits": _CALL_ABOUT_VISITS,
    "no_visit": _CALL_ABOUT_VISITS,
    "unanswered_prompts": _CALL_ABOUT_VISITS,
    "low_mood": N_("Call the volunteer family. Tell them that ups and downs are quite normal."),
    "delivery_failed": _CHECK_DETAILS,
    "bot_blocked": _CHECK_DETAILS,
    "opt_out": _CHECK_DETAILS,
    "delivery_expired": N_("Look at the case list and reach the people concerned another way."),
    "delivery_unknown": N_("Ask the recipient whether the message arrived."),
    "wants_to_stop": N_(
        "Call the volunteer family. Plan the extra child visit and talk about a new match."
    ),
    "message_from_parent": _READ_AND_ANSWER,
    "message_from_family": _READ_AND_ANSWER,
    "task_overdue": N_("Do the task, or record its outcome (done, not reached, rescheduled)."),
    "bot_error": N_("Tell the administrator."),
    "contact_overdue": N_("Call them, then record the contact (a finished task counts too)."),
    "unreachable": N_(
        "Try to reach the family. If you cannot, mark the match as unreachable on its page; you "
        "then get two call tasks before it is closed."
    ),
}
UNKNOWN_NEXT_STEP = N_("Look at the case.")
# Rules raised once per staff member rather than per match: the open case lists the matches
# (an hour-long provider outage is one alert to each staff member, not one per match).
GROUPED = frozenset({"delivery_expired"})


def rule_title(rule: str, locale: str) -> str:
    """A case's rule as staff read it, in their language."""
    return i18n.texts(locale).gettext(RULES.get(rule, UNKNOWN_RULE))


def next_step(rule: str, locale: str) -> str:
    """What staff should do next about a case of ``rule``, in their language."""
    return i18n.texts(locale).gettext(NEXT_STEPS.get(rule, UNKNOWN_NEXT_STEP))


class _DanishTitles(Mapping[str, str]):
    """The Danish titles by rule, read from the catalog (kept for older callers: use
    :func:`rule_title`)."""

    def __getitem__(self, rule: str) -> str:
        if rule not in RULES:
            raise KeyError(rule)
        return rule_title(rule, "da")

    def __iter__(self) -> Iterator[str]:
        return iter(RULES)

    def __len__(self) -> int:
        return len(RULES)


RULES_DA: Mapping[str, str] = _DanishTitles()


# Rules that are urgent whatever the caller says: staff hear of them at once, at any hour.
ALWAYS_URGENT = frozenset({"worry", "bot_error"})

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
    if rule in ALWAYS_URGENT:
        severity = Severity.URGENT
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
        elif existing.severity == Severity.URGENT or rule in URGENT_RULES:
            announce(session)  # news: a case whose pushes are used up is pushed once more
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
