"""Who hears of a case and when its pushes may go: working hours, the staff member or the
coordinators, and the outbox rows of one push (read by :mod:`followup.alerts` and
:mod:`followup.alert_groups`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler import outbox
from scheduler.programme import Programme
from scheduler.programme_sections import EscalationPolicy, PolicyStep
from scheduler.timeline import localize
from scheduler.working_days import is_working_day
from store.models import (
    Audience,
    Channel,
    Escalation,
    EscalationStatus,
    Match,
    Severity,
    Staff,
    StaffRole,
)

DEFAULT_POLICY = EscalationPolicy()

WORKDAY = (time(8, 0), time(17, 0))


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


def targets(session: Session, escalation: Escalation, to: str) -> list[Staff]:
    """Who a push goes to, only people it can reach (Telegram or email). ``staff``: the match's
    staff member; ``coordinators``: the region's coordinators, and the staff member too. A case
    without a reachable staff member goes to the coordinators, and without coordinators to the
    administrators."""
    owner = session.get(Staff, escalation.staff_id) if escalation.staff_id else None
    if owner is not None and not (owner.active and staff_channels(owner)):
        owner = None
    if to == "staff" and owner is not None:
        return [owner]
    region = owner.region if owner is not None else ""
    reachable = [
        c
        for c in session.scalars(
            select(Staff)
            .where(Staff.active.is_(True), Staff.role.in_([StaffRole.COORDINATOR, StaffRole.ADMIN]))
            .order_by(Staff.role, Staff.id)
        )
        if staff_channels(c)
    ]
    coordinators = [c for c in reachable if c.role == StaffRole.COORDINATOR]
    local = [c for c in coordinators if not region or c.region in ("", region)]
    chosen = local or coordinators or [c for c in reachable if c.role == StaffRole.ADMIN]
    if owner is not None and owner not in chosen:
        chosen = [owner, *chosen]
    return chosen


def policy_steps(escalation: Escalation, programme: Programme | None) -> tuple[PolicyStep, ...]:
    """The pushes the case's programme (or the default policy) names for its severity."""
    policy = programme.escalation.policy if programme is not None else DEFAULT_POLICY
    return policy.urgent if escalation.severity == Severity.URGENT else policy.normal


def told(session: Session, escalation: Escalation, programme: Programme | None) -> list[Staff]:
    """Who has heard of a case (or will at its first push): its staff member, and the
    coordinators once a push went to them or when the case has no reachable staff member."""
    people = targets(session, escalation, "staff")
    steps = policy_steps(escalation, programme)
    if any(s.to == "coordinators" for s in steps[: escalation.level]):
        people += [p for p in targets(session, escalation, "coordinators") if p not in people]
    return people


def cases_told_to(
    session: Session,
    staff: Staff,
    programmes: Mapping[str, Programme],
    statuses: Sequence[EscalationStatus] = (EscalationStatus.OPEN,),
) -> list[Escalation]:
    """The cases ``staff`` has heard of, oldest first: their own, and for coordinators
    (administrators when there are none) the cases pushed to them and those without a staff
    member who can be reached."""
    query = (
        select(Escalation)
        .where(Escalation.status.in_(list(statuses)))
        .order_by(Escalation.created_at, Escalation.id)
    )
    if staff.role not in (StaffRole.COORDINATOR, StaffRole.ADMIN):
        return list(session.scalars(query.where(Escalation.staff_id == staff.id)))
    found = []
    for case in session.scalars(query):
        match = session.get(Match, case.match_id) if case.match_id is not None else None
        programme = programmes.get(match.programme.slug) if match is not None else None
        if case.staff_id == staff.id or staff in told(session, case, programme):
            found.append(case)
    return found


def staff_channels(staff: Staff) -> list[Channel]:
    """Where a staff member's alerts go: Telegram when linked, and email."""
    return [
        c
        for c, address in ((Channel.TELEGRAM, staff.telegram_chat_id), (Channel.EMAIL, staff.email))
        if address
    ]


def alert_rows(
    escalation: Escalation,
    staff: Staff,
    level: int,
    now: datetime,
    default_zone: str,
    urgent: bool,
) -> list[dict[str, Any]]:
    """The outbox rows of one push of one case to one staff member, one per channel."""
    zone = ZoneInfo(staff.timezone or default_zone)
    due = now if urgent else next_working_moment(now, zone)
    return [
        {
            "idempotency_key": outbox.key_for_alert(escalation.id, level, staff.id, channel.value),
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
        for channel in staff_channels(staff)
    ]
