"""Getting escalations to staff: alerts, acknowledgement, re-escalation, signed links.

An open escalation is sent to the match's staff member by Telegram (when linked) and email:
urgent ones at once at any hour, others at the next working-hours moment. Unacknowledged, it
goes to the programme's coordinators after a delay (by default 2 hours when urgent, one working
day otherwise), and again after every further delay until someone acknowledges it.

Alerts are outbox rows like any other message, so they share quiet hours, retries and the
at-most-once rule; their text is rendered at send time, and an alert whose escalation was
acknowledged meanwhile is not sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler import outbox
from scheduler.channels.base import Button
from scheduler.hooks import StaffContent
from scheduler.programme import Programme
from scheduler.timeline import is_working_day, localize
from store.audit import record
from store.models import (
    Audience,
    Channel,
    Escalation,
    EscalationStatus,
    Match,
    OutboxMessage,
    Severity,
    Staff,
    StaffRole,
)

WORKDAY = (time(8, 0), time(17, 0))
DEFAULT_DELAY = {Severity.URGENT: timedelta(hours=2), Severity.NORMAL: timedelta(days=1)}


# -- working hours -------------------------------------------------------------------------------


def next_working_moment(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment`` if it is inside working hours (08-17 on a working day), else the next start."""
    local = moment.astimezone(zone).replace(tzinfo=None)
    for _ in range(30):
        if is_working_day(local.date()):
            start = datetime.combine(local.date(), WORKDAY[0])
            end = datetime.combine(local.date(), WORKDAY[1])
            if local < start:
                return localize(start, zone)
            if local < end:
                return localize(local, zone)
        local = datetime.combine(local.date() + timedelta(days=1), time(0))
    raise RuntimeError("no working day within 30 days")


def add_working_days(moment: datetime, days: int, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    day = local.date()
    for _ in range(days):
        day += timedelta(days=1)
        while not is_working_day(day):
            day += timedelta(days=1)
    return localize(datetime.combine(day, local.time().replace(tzinfo=None)), zone)


# -- who hears of it ---------------------------------------------------------------------------


def _programme_of(
    session: Session, escalation: Escalation, programmes: Mapping[str, Programme]
) -> Programme | None:
    if escalation.match_id is None:
        return None
    match = session.get(Match, escalation.match_id)
    return programmes.get(match.programme.slug) if match is not None else None


def delay_for(escalation: Escalation, programme: Programme | None) -> timedelta | None:
    """How long an unacknowledged alert waits before going up a level (None: working day)."""
    if programme is None:
        return (
            DEFAULT_DELAY[escalation.severity] if escalation.severity == Severity.URGENT else None
        )
    offset = (
        programme.escalation.reescalate_urgent
        if escalation.severity == Severity.URGENT
        else programme.escalation.reescalate_normal
    )
    if escalation.severity == Severity.NORMAL and offset.fixed == timedelta(days=1):
        return None  # "1d" for a normal escalation means one working day
    return offset.fixed or timedelta(days=1)


def targets(session: Session, escalation: Escalation, level: int) -> list[Staff]:
    """Level 0: the match's staff member (or the coordinators if it has none); then coordinators."""
    owner = session.get(Staff, escalation.staff_id) if escalation.staff_id else None
    if level == 0 and owner is not None and owner.active:
        return [owner]
    region = owner.region if owner is not None else ""
    coordinators = list(
        session.scalars(
            select(Staff)
            .where(Staff.active.is_(True), Staff.role.in_([StaffRole.COORDINATOR, StaffRole.ADMIN]))
            .order_by(Staff.role, Staff.id)
        )
    )
    local = [
        c
        for c in coordinators
        if c.role == StaffRole.COORDINATOR and (not region or c.region in ("", region))
    ]
    chosen = local or [c for c in coordinators if c.role == StaffRole.COORDINATOR] or coordinators
    # The staff member keeps hearing of it too until someone acknowledges.
    if owner is not None and owner.active and owner not in chosen:
        chosen = [owner, *chosen]
    return chosen


def notify(
    session: Session,
    now: datetime,
    programmes: Mapping[str, Programme],
    default_zone: str,
) -> int:
    """Queue alert messages for open escalations that are new or due for re-escalation."""
    queued = 0
    open_ones = session.scalars(
        select(Escalation).where(Escalation.status == EscalationStatus.OPEN).order_by(Escalation.id)
    )
    for escalation in open_ones:
        programme = _programme_of(session, escalation, programmes)
        if escalation.last_notified_at is None:
            level = escalation.level
        else:
            delay = delay_for(escalation, programme)
            zone = ZoneInfo(default_zone)
            due = (
                escalation.last_notified_at + delay
                if delay is not None
                else add_working_days(escalation.last_notified_at, 1, zone)
            )
            if now < due:
                continue
            level = escalation.level + 1
        queued += _queue_alerts(session, escalation, level, now, default_zone)
        escalation.level = level
        escalation.last_notified_at = now
    return queued


def _queue_alerts(
    session: Session, escalation: Escalation, level: int, now: datetime, default_zone: str
) -> int:
    rows: list[dict[str, Any]] = []
    for staff in targets(session, escalation, level):
        zone = ZoneInfo(staff.timezone or default_zone)
        due = now if escalation.severity == Severity.URGENT else next_working_moment(now, zone)
        channels = []
        if staff.telegram_chat_id:
            channels.append(Channel.TELEGRAM)
        if staff.email:
            channels.append(Channel.EMAIL)
        for channel in channels:
            key = outbox.key_for_alert(escalation.id, level, staff.id, channel.value)
            rows.append(
                {
                    "idempotency_key": key,
                    "match_id": escalation.match_id,
                    "touchpoint_id": "escalation",
                    "occurrence_key": outbox.alert_occurrence(escalation.id, level),
                    "kind": "alert",
                    "template": "escalation_alert",
                    "audience": Audience.STAFF,
                    "recipient_id": staff.id,
                    "channel": channel,
                    "locale": staff.locale,
                    "essential": True,
                    "due_at": due,
                    "plan_version": 0,
                    "context": {"escalation_id": escalation.id, "level": level},
                }
            )
    return outbox.insert(session, [outbox.new_row(row) for row in rows])


# -- acknowledging -----------------------------------------------------------------------------


class AckError(ValueError):
    """The acknowledgement was refused; the message says why, politely."""


def acknowledge(
    session: Session, escalation_id: int, staff_id: int | None, now: datetime, via: str
) -> Escalation:
    escalation = session.get(Escalation, escalation_id, with_for_update=True)
    if escalation is None:
        raise AckError(f"there is no escalation {escalation_id}")
    if escalation.status != EscalationStatus.OPEN:
        raise AckError(f"escalation {escalation_id} was already {escalation.status.value}")
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


def resolve(
    session: Session, escalation_id: int, staff_id: int | None, now: datetime, note: str
) -> Escalation:
    escalation = session.get(Escalation, escalation_id, with_for_update=True)
    if escalation is None:
        raise AckError(f"there is no escalation {escalation_id}")
    if escalation.status == EscalationStatus.RESOLVED:
        raise AckError(f"escalation {escalation_id} is already resolved")
    if escalation.status == EscalationStatus.OPEN:
        escalation.acknowledged_at = now
        escalation.acknowledged_by = staff_id
    escalation.status = EscalationStatus.RESOLVED
    escalation.resolved_at = now
    escalation.resolution_note = note[:2000] or None
    outbox.cancel_pending_alerts(session, escalation_id)
    record(
        session,
        f"staff:{staff_id}" if staff_id else "cli",
        "escalation.resolve",
        "escalation",
        escalation_id,
    )
    return escalation


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
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(token) > 100:
        return None
    escalation_id, staff_id = int(parts[0]), int(parts[1])
    if not hmac.compare_digest(ack_token(secret, escalation_id, staff_id), token):
        return None
    return escalation_id, staff_id


def ack_button(escalation_id: int) -> Button:
    return Button("✔ Kvittér / Acknowledge", callback_data=f"v1|ack|{escalation_id}")


# -- what a staff message says -----------------------------------------------------------------


def staff_content(
    session: Session,
    row: OutboxMessage,
    staff: Staff,
    now: datetime,
    public_url: str | None,
    secret: str,
    programmes: Mapping[str, Programme],
) -> StaffContent | None:
    """Template variables for an alert or a digest, or None when there is nothing to say."""
    zone = ZoneInfo(staff.timezone)
    base = {
        "locale": staff.locale.value,
        "recipient": {"name": staff.name, "kind": "staff"},
        "now": now.astimezone(zone),
    }
    if row.kind == "alert":
        escalation = session.get(Escalation, int((row.context or {}).get("escalation_id", 0)))
        if escalation is None or escalation.status != EscalationStatus.OPEN:
            return None
        match = session.get(Match, escalation.match_id) if escalation.match_id else None
        token = ack_token(secret, escalation.id, staff.id)
        link = f"{public_url or 'http://127.0.0.1:8000'}/ack/{token}"
        context = {
            **base,
            "escalation": {
                "id": escalation.id,
                "rule": escalation.rule,
                "urgent": escalation.severity == Severity.URGENT,
                "summary": escalation.summary,
                "suggested_action": escalation.suggested_action,
                "evidence": [_describe_evidence(e) for e in escalation.evidence[-5:]],
                "evidence_count": len(escalation.evidence),
                "level": int((row.context or {}).get("level", 0)),
                "opened_at": escalation.created_at.astimezone(zone),
            },
            "match": _match_summary(match, programmes),
            "ack_url": link,
        }
        return StaffContent(context, ((ack_button(escalation.id),),), (token,))
    if row.kind == "digest":
        from followup.digest import digest_sections

        sections = digest_sections(session, staff, now, programmes)
        if not sections:
            return None
        return StaffContent({**base, "sections": sections})
    return None


def _match_summary(
    match: Match | None, programmes: Mapping[str, Programme]
) -> dict[str, Any] | None:
    if match is None:
        return None
    programme = programmes.get(match.programme.slug)
    return {
        "id": match.id,
        "child": match.child.first_name,
        "family": match.volunteer_family.name,
        "programme": programme.name if programme else match.programme.name,
    }


def _describe_evidence(item: dict[str, Any]) -> str:
    """One evidence entry as a short line; free text is shown as it was stored (redacted)."""
    parts = []
    for key, value in item.items():
        if key == "at" or value in (None, ""):
            continue
        parts.append(f"{key}: {value}")
    when = str(item.get("at", ""))[:16].replace("T", " ")
    return f"{when} · " + ", ".join(parts) if parts else when
