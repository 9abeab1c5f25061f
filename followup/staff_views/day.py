"""A staff member's day (the Today page): open cases, tasks due, visits not confirmed and who is
waiting for a match."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from followup.escalations import rule_title
from followup.staff_auth import visible
from followup.staff_views.common import SENT, who
from scheduler.programme import Kind, Programme
from scheduler.timeline import localize
from scheduler.waiting_notes import weeks_since
from store.models import (
    Escalation,
    EscalationStatus,
    Match,
    MatchStatus,
    OutboxMessage,
    Referral,
    Severity,
    Staff,
    StaffRole,
    Task,
    TaskStatus,
    Visit,
    VolunteerFamily,
    WaitStatus,
)
from store.models import Programme as ProgrammeRow


def _day_end(day: date, zone: ZoneInfo) -> datetime:
    return localize(datetime.combine(day, time(23, 59, 59)), zone)


# -- today ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    id: int
    match_id: int | None
    rule: str
    title: str
    child: str
    family: str
    since: datetime
    times: int
    urgent: bool
    acknowledged: bool
    snoozed_until: datetime | None


@dataclass(frozen=True)
class TaskRow:
    id: int
    match_id: int | None
    title: str
    child: str
    family: str
    due_at: datetime
    overdue: bool


@dataclass(frozen=True)
class VisitRow:
    match_id: int
    child: str
    family: str
    day: date


@dataclass(frozen=True)
class WaitingRow:
    """A volunteer family or a referred child waiting for a match, as the Today page lists it."""

    kind: str  # volunteer_family | referral
    name: str  # the family's name, or the child's first name
    programme: str
    since: date
    weeks: int
    overdue: bool  # waited longer than the programme's waiting.staff_task_after


@dataclass
class Today:
    cases: list[CaseRow] = field(default_factory=list)
    tasks: list[TaskRow] = field(default_factory=list)
    visits: list[VisitRow] = field(default_factory=list)
    survey_calls: list[TaskRow] = field(default_factory=list)
    waiting: list[WaitingRow] = field(default_factory=list)


def case_rows(
    session: Session, staff: Staff, now: datetime, match_id: int | None = None
) -> list[CaseRow]:
    """Cases not resolved: the staff member's own, and (for coordinators and admins) those of
    the matches they may see. Urgent first, then oldest."""
    query = (
        select(Escalation)
        .outerjoin(Match, Match.id == Escalation.match_id)
        .where(Escalation.status != EscalationStatus.RESOLVED)
        .order_by(Escalation.created_at)
    )
    if match_id is not None:
        query = query.where(Escalation.match_id == match_id)
    if staff.role == StaffRole.PROCESLEDER:
        query = query.where(Escalation.staff_id == staff.id)
    else:
        query = query.where((Escalation.staff_id == staff.id) | visible(staff))
    rows = []
    locale = staff.locale.value
    for case in session.scalars(query):
        match = session.get(Match, case.match_id) if case.match_id else None
        child, family = who(match)
        rows.append(
            CaseRow(
                id=case.id,
                match_id=case.match_id,
                rule=case.rule,
                title=rule_title(case.rule, locale),
                child=child,
                family=family,
                since=case.created_at,
                times=max(case.evidence_count or 1, 1),
                urgent=case.severity == Severity.URGENT,
                acknowledged=case.status == EscalationStatus.ACKNOWLEDGED,
                snoozed_until=case.snoozed_until
                if case.snoozed_until is not None and case.snoozed_until > now
                else None,
            )
        )
    rows.sort(key=lambda r: (not r.urgent, r.since))
    return rows


def _task_row(session: Session, task: Task, now: datetime) -> TaskRow:
    match = session.get(Match, task.match_id) if task.match_id else None
    child, family = who(match)
    return TaskRow(
        task.id, task.match_id, task.title, child, family, task.due_at, task.due_at < now
    )


def waiting_list(
    session: Session, staff: Staff, programmes: Mapping[str, Programme], now: datetime
) -> list[WaitingRow]:
    """Who waits for a match, longest first: the families and referred children of the staff
    member's region (a coordinator's; all for an admin or a coordinator without a region), or a
    procesleder's own referrals."""
    local_day = now.astimezone(ZoneInfo(staff.timezone)).date()
    slugs = {p.id: p.slug for p in session.scalars(select(ProgrammeRow))}

    def row(kind: str, name: str, programme_id: int | None, since: date | None) -> WaitingRow:
        programme = programmes.get(slugs.get(programme_id or 0, ""))
        since = since or local_day
        rule = programme.waiting if programme is not None else None
        overdue = bool(
            rule and rule.staff_task_after and rule.staff_task_after.add(since) <= local_day
        )
        name_of = programme.name if programme is not None else ""
        return WaitingRow(kind, name, name_of, since, weeks_since(since, local_day), overdue)

    def sees(region: str, staff_id: int | None) -> bool:
        if staff.role == StaffRole.ADMIN:
            return True
        if staff.role == StaffRole.COORDINATOR:
            return not staff.region or region == staff.region or staff_id == staff.id
        return staff_id == staff.id

    rows = [
        row("volunteer_family", f.name, f.programme_id, f.status_since)
        for f in session.scalars(
            select(VolunteerFamily).where(VolunteerFamily.status == WaitStatus.WAITING)
        )
        if sees(f.region, None)
    ]
    rows += [
        row("referral", r.child.first_name, r.programme_id, r.status_since)
        for r in session.scalars(
            select(Referral)
            .where(Referral.status == WaitStatus.WAITING)
            .options(selectinload(Referral.child))
        )
        if sees(r.region, r.staff_id)
    ]
    rows.sort(key=lambda r: (r.since, r.name))
    return rows


def today(
    session: Session,
    staff: Staff,
    now: datetime,
    programmes: Mapping[str, Programme] | None = None,
) -> Today:
    """``programmes`` given: also who waits for a match (:func:`waiting_list`)."""
    zone = ZoneInfo(staff.timezone)
    local_day = now.astimezone(zone).date()
    result = Today(cases=case_rows(session, staff, now))
    tasks = session.scalars(
        select(Task)
        .where(
            Task.owner_id == staff.id,
            Task.status == TaskStatus.OPEN,
            Task.due_at <= _day_end(local_day, zone),
        )
        .order_by(Task.due_at, Task.id)
    )
    for task in tasks:
        row = _task_row(session, task, now)
        if (task.idempotency_key or "").startswith("survey:"):
            result.survey_calls.append(row)
        else:
            result.tasks.append(row)
    result.visits = unconfirmed_visits(session, staff, now)
    if programmes is not None:
        result.waiting = waiting_list(session, staff, programmes, now)
    return result


def unconfirmed_visits(session: Session, staff: Staff, now: datetime) -> list[VisitRow]:
    """Visit prompts of the last 14 days that nobody has answered, for the staff member's own
    matches."""
    zone = ZoneInfo(staff.timezone)
    local_day = now.astimezone(zone).date()
    since = local_day - timedelta(days=14)
    prompts = session.execute(
        select(OutboxMessage.match_id, OutboxMessage.occurrence_key)
        .join(Match, Match.id == OutboxMessage.match_id)
        .where(
            Match.staff_id == staff.id,
            Match.status != MatchStatus.ENDED,
            OutboxMessage.kind == Kind.VISIT_PROMPT.value,
            OutboxMessage.status.in_(list(SENT)),
            OutboxMessage.due_at >= localize(datetime.combine(since, time()), zone),
            OutboxMessage.due_at <= now,
        )
        .distinct()
    ).all()
    wanted: dict[tuple[int, date], None] = {}
    for match_id, key in prompts:
        try:
            day = date.fromisoformat(key[:10])
        except ValueError:
            continue
        if match_id is not None and day < local_day:
            wanted[(match_id, day)] = None
    if not wanted:
        return []
    answered = set(
        session.execute(
            select(Visit.match_id, Visit.planned_date).where(
                Visit.match_id.in_({m for m, _ in wanted}), Visit.planned_date >= since
            )
        )
    )
    rows = []
    for match_id, day in sorted(wanted):
        if (match_id, day) in answered:
            continue
        match = session.get(Match, match_id)
        child, family = who(match)
        rows.append(VisitRow(match_id, child, family, day))
    return rows
