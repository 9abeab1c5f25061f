"""Getting escalations to staff: a bounded policy of pushes, acknowledgement, snooze, links.

An open case is pushed by Telegram (when linked) and email as its programme's escalation policy
says (``escalation.policy`` in the programme YAML): by default an urgent one to the match's staff
member at once, to the coordinators after 2 hours and once more after 4 hours; a normal one to
the staff member, with one reminder a working day later. Then nothing more is pushed; the case
stays open in the daily digest and on the case list until someone resolves it. Urgent pushes go
out at any hour, others at the next working-hours moment. A staff member can acknowledge a case
(pushes stop), snooze it until a date (silent until then, then one reminder) or resolve it
with an outcome (:mod:`followup.resolutions`) and an optional note.

Alerts are outbox rows like any other message, so they share quiet hours, retries and the
at-most-once rule; their text is rendered at send time, and an alert whose escalation was
acknowledged meanwhile is not sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.alert_groups import NEWS_GAP, Due, groupable, push_due, push_first
from followup.alert_rows import DEFAULT_POLICY as DEFAULT_POLICY
from followup.alert_rows import add_working_days
from followup.alert_rows import policy_steps as policy_steps
from followup.news import URGENT_RULES
from followup.refused import Refused
from followup.resolutions import NOTE_MAX
from followup.said import said
from scheduler import i18n, outbox
from scheduler.channels.base import Button
from scheduler.i18n import N_
from scheduler.programme import Programme
from scheduler.programme_sections import PolicyStep
from store.audit import record
from store.models import (
    Escalation,
    EscalationStatus,
    Match,
    ResolutionOutcome,
    Severity,
)
from store.models import Programme as ProgrammeRow
from store.validation import ascii_digits, strip_controls

MAX_SNOOZE = timedelta(days=90)


# -- who hears of it ---------------------------------------------------------------------------


def _programmes_of_open_cases(
    session: Session, programmes: Mapping[str, Programme]
) -> dict[int, Programme | None]:
    """The programme of each match with an open case, in one query."""
    with_open_cases = select(Escalation.match_id).where(
        Escalation.status == EscalationStatus.OPEN, Escalation.match_id.is_not(None)
    )
    return {
        match_id: programmes.get(slug)
        for match_id, slug in session.execute(
            select(Match.id, ProgrammeRow.slug)
            .join(ProgrammeRow, Match.programme_id == ProgrammeRow.id)
            .where(Match.id.in_(with_open_cases))
        )
    }


def step_due(
    previous: PolicyStep, step: PolicyStep, previous_at: datetime, zone: ZoneInfo
) -> datetime:
    """When ``step`` is due, given that ``previous`` was due at ``previous_at``: every step
    counted from the first push (``after: 4h`` is 4 hours after it, whenever the 2-hour one
    actually went out)."""
    if step.working_days is not None:
        return add_working_days(previous_at, step.working_days - (previous.working_days or 0), zone)
    return previous_at + max(step.delay - previous.delay, timedelta(0))


def _has_news(escalation: Escalation, now: datetime) -> bool:
    """Urgent news (a second worry, a new message) arrived after the last push of a case
    whose pushes are used up: it is pushed once more (at most once in ``NEWS_GAP``)."""
    if escalation.last_notified_at is None or not escalation.evidence:
        return False
    if escalation.severity != Severity.URGENT and escalation.rule not in URGENT_RULES:
        return False
    newest = str(escalation.evidence[-1].get("at") or "")
    try:
        arrived = datetime.fromisoformat(newest)
    except ValueError:
        return False
    return arrived > escalation.last_notified_at and now >= escalation.last_notified_at + NEWS_GAP


def notify(
    session: Session,
    now: datetime,
    programmes: Mapping[str, Programme],
    default_zone: str,
) -> int:
    """Queue the pushes the policy names for open cases: each step once, then no more.

    ``level`` counts the policy steps already pushed, ``push_count`` every push (it keys the
    outbox rows), ``last_notified_at`` is when the last step was due, counted from the first
    push. A normal case's first push may go with others', and reminders due together for one
    staff member go as one message (:mod:`followup.alert_groups`). A snoozed case is silent
    until its date, then reminds its staff member once. News on a case whose pushes are used up
    is pushed once more."""
    zone = ZoneInfo(default_zone)
    waiting: list[Escalation] = []  # new cases whose first push may go with others'
    due_now: list[Due] = []
    programme_of = _programmes_of_open_cases(session, programmes)
    open_ones = session.scalars(
        select(Escalation).where(Escalation.status == EscalationStatus.OPEN).order_by(Escalation.id)
    )
    for escalation in open_ones:
        programme = programme_of.get(escalation.match_id) if escalation.match_id else None
        steps = policy_steps(escalation, programme)
        if escalation.snoozed_until is not None:
            if now < escalation.snoozed_until:
                continue
            escalation.snoozed_until = None
            # the one reminder, in working hours; then digest
            due_now.append(Due(escalation, "staff", len(steps), now, at_once=False))
            continue
        if escalation.level >= len(steps):
            if _has_news(escalation, now):  # otherwise: digest and case list, until resolved
                due_now.append(Due(escalation, steps[-1].to, len(steps), now))
            continue
        step = steps[escalation.level]
        if groupable(escalation, step):
            waiting.append(escalation)
            continue
        due = now
        if escalation.level > 0 and escalation.last_notified_at is not None:
            due = step_due(steps[escalation.level - 1], step, escalation.last_notified_at, zone)
            if now < due:
                continue
        due_now.append(Due(escalation, step.to, escalation.level + 1, due))
    return push_due(session, due_now, now, default_zone) + push_first(
        session, waiting, now, default_zone
    )


# -- acknowledging -----------------------------------------------------------------------------


class AckError(Refused):
    """The acknowledgement was refused; the message says why, politely."""


def acknowledge(
    session: Session, escalation_id: int, staff_id: int | None, now: datetime, via: str
) -> Escalation:
    escalation = session.get(Escalation, escalation_id, with_for_update=True)
    if escalation is None:
        raise AckError(said("there is no escalation %(id)s", id=escalation_id))
    if escalation.status != EscalationStatus.OPEN:
        raise AckError(
            said("case %(id)s is already resolved", id=escalation_id)
            if escalation.status == EscalationStatus.RESOLVED
            else said("case %(id)s was already acknowledged", id=escalation_id)
        )
    escalation.status = EscalationStatus.ACKNOWLEDGED
    escalation.acknowledged_at = now
    escalation.acknowledged_by = staff_id
    outbox.cancel_pending_alerts(session, escalation_id)
    record(
        session,
        f"staff:{staff_id}" if staff_id else via,
        "escalation.acknowledge",
        "escalation",
        escalation_id,
        via=via,
    )
    return escalation


def snooze(
    session: Session,
    escalation_id: int,
    staff_id: int | None,
    until: datetime,
    now: datetime,
    via: str,
) -> Escalation:
    """Silence an open case until ``until``; then its staff member is reminded once."""
    escalation = session.get(Escalation, escalation_id, with_for_update=True)
    if escalation is None:
        raise AckError(said("there is no escalation %(id)s", id=escalation_id))
    if escalation.status == EscalationStatus.RESOLVED:
        raise AckError(said("case %(id)s is already resolved", id=escalation_id))
    if until <= now:
        raise AckError(said("the snooze must end in the future"))
    if until > now + MAX_SNOOZE:
        raise AckError(
            said("a case can be snoozed for at most %(days)d days", days=MAX_SNOOZE.days)
        )
    escalation.status = EscalationStatus.OPEN
    escalation.snoozed_until = until
    outbox.cancel_pending_alerts(session, escalation_id)
    record(
        session,
        f"staff:{staff_id}" if staff_id else via,
        "escalation.snooze",
        "escalation",
        escalation_id,
        via=via,
        until=until.isoformat(),
    )
    return escalation


def resolve(
    session: Session,
    escalation_id: int,
    staff_id: int | None,
    now: datetime,
    note: str,
    outcome: ResolutionOutcome | None = None,
) -> Escalation:
    """Close a case with how it ended (``outcome``; None only where the system closes it) and
    an optional note. Its pending alerts are cancelled."""
    escalation = session.get(Escalation, escalation_id, with_for_update=True)
    if escalation is None:
        raise AckError(said("there is no escalation %(id)s", id=escalation_id))
    if escalation.status == EscalationStatus.RESOLVED:
        raise AckError(said("case %(id)s is already resolved", id=escalation_id))
    if escalation.status == EscalationStatus.OPEN:
        escalation.acknowledged_at = now
        escalation.acknowledged_by = staff_id
    escalation.status = EscalationStatus.RESOLVED
    escalation.resolved_at = now
    escalation.resolution_outcome = outcome
    escalation.resolution_note = clean_note(note) or None
    escalation.snoozed_until = None
    outbox.cancel_pending_alerts(session, escalation_id)
    record(
        session,
        f"staff:{staff_id}" if staff_id else "cli",
        "escalation.resolve",
        "escalation",
        escalation_id,
        outcome=outcome.value if outcome is not None else None,
    )
    return escalation


def add_resolution_note(
    session: Session, escalation_id: int, staff_id: int | None, note: str
) -> Escalation:
    """The short note written after resolving (the bot asks for it): once per case."""
    escalation = session.get(Escalation, escalation_id, with_for_update=True)
    text = clean_note(note)
    if escalation is None or escalation.status != EscalationStatus.RESOLVED:
        raise AckError(said("there is no resolved case %(id)s", id=escalation_id))
    if escalation.resolution_note or not text:
        raise AckError(said("case %(id)s already has its note", id=escalation_id))
    escalation.resolution_note = text
    record(
        session,
        f"staff:{staff_id}" if staff_id else "cli",
        "escalation.note",
        "escalation",
        escalation_id,
    )
    return escalation


def clean_note(note: str) -> str:
    """A resolution note as stored: one line, no control characters, at most NOTE_MAX long."""
    return " ".join(strip_controls(note or "").split())[:NOTE_MAX]


def ack_token(secret: str, escalation_id: int, staff_id: int) -> str:
    """The signed part of an email acknowledgement link."""
    digest = hmac.new(
        secret.encode(), f"ack:{escalation_id}:{staff_id}".encode(), hashlib.sha256
    ).digest()
    signature = base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")
    return f"{escalation_id}.{staff_id}.{signature}"


def check_ack_token(secret: str, token: str) -> tuple[int, int] | None:
    """The escalation and staff ids of a genuine token, or None."""
    parts = token.split(".")
    if len(token) > 100 or not token.isascii() or len(parts) != 3:
        return None
    if not ascii_digits(parts[0]) or not ascii_digits(parts[1]):
        return None
    escalation_id, staff_id = int(parts[0]), int(parts[1])
    if not hmac.compare_digest(ack_token(secret, escalation_id, staff_id), token):
        return None
    return escalation_id, staff_id


def _texts(locale: str) -> i18n.Texts:
    try:
        return i18n.texts(locale)
    except LookupError:
        return i18n.texts("da")


# The snooze and resolve buttons: the action in their data, and their label alone or numbered.
_CASE_BUTTONS = {
    "sn": ("⏸ Snooze", "⏸ Snooze #%(id)s"),
    "rv": ("✅ Resolve", "✅ Resolve #%(id)s"),
}
# So the catalogs know them: they are translated where the buttons are made.
_ = (N_("⏸ Snooze"), N_("⏸ Snooze #%(id)s"), N_("✅ Resolve"), N_("✅ Resolve #%(id)s"))


def _case_button(action: str, escalation_id: int, locale: str, numbered: bool) -> Button:
    alone, with_id = _CASE_BUTTONS[action]
    texts = _texts(locale)
    label = texts.gettext(with_id, id=escalation_id) if numbered else texts.gettext(alone)
    return Button(label, callback_data=f"v1|{action}|{escalation_id}")


def snooze_button(escalation_id: int, locale: str, numbered: bool = False) -> Button:
    """Snooze the case: the bot then offers a day, three days, a week or two weeks."""
    return _case_button("sn", escalation_id, locale, numbered)


def resolve_button(escalation_id: int, locale: str, numbered: bool = False) -> Button:
    """Resolve the case: the bot then offers the outcomes, and asks for an optional note."""
    return _case_button("rv", escalation_id, locale, numbered)


def ack_button(escalation_id: int, locale: str = "da", numbered: bool = False) -> Button:
    """The acknowledge button in the staff member's language; ``numbered`` names its case (for
    an alert of several)."""
    texts = _texts(locale)
    if numbered:
        label = texts.gettext("✓ Acknowledge #%(id)s", id=escalation_id)
    else:
        label = texts.gettext("✓ Acknowledge")
    return Button(label, callback_data=f"v1|ack|{escalation_id}")
