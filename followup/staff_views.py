"""What the staff web app shows: a staff member's day, the health of the matches she may see, and
one match in full (its year wheel and contact log). Reads only: nothing here writes.

Each function takes the signed-in :class:`~store.models.Staff` and shows only the matches
:func:`followup.staff_auth.visible` allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from followup import contacts
from followup.certificates import MemberState, household_state
from followup.escalations import rule_title
from followup.staff_auth import may_see, visible
from followup.yearplan import label, title_variables
from scheduler.facts import facts_for
from scheduler.programme import Kind, Programme
from scheduler.timeline import effective_end, localize, occurrences
from scheduler.waiting_notes import weeks_since
from store.models import (
    Audience,
    CheckIn,
    Escalation,
    EscalationStatus,
    Match,
    MatchNote,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    Referral,
    Severity,
    Staff,
    StaffRole,
    SurveyInvitation,
    Task,
    TaskStatus,
    Visit,
    VisitStatus,
    VolunteerFamily,
    WaitStatus,
)
from store.models import Programme as ProgrammeRow

DONE_VISITS = {VisitStatus.VISITED, VisitStatus.MOVED}
SENT = {OutboxStatus.SENT, OutboxStatus.DELIVERED}
NOT_SENT = {OutboxStatus.FAILED, OutboxStatus.EXPIRED, OutboxStatus.UNKNOWN}
STRIP_WEEKS = 8


def _day_end(day: date, zone: ZoneInfo) -> datetime:
    return localize(datetime.combine(day, time(23, 59, 59)), zone)


def _who(match: Match | None) -> tuple[str, str]:
    if match is None:
        return "", ""
    return match.child.first_name, match.volunteer_family.name


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
        child, family = _who(match)
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
    child, family = _who(match)
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
        child, family = _who(match)
        rows.append(VisitRow(match_id, child, family, day))
    return rows


# -- the matches list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchHealth:
    id: int
    child: str
    family: str
    programme: str
    programme_slug: str
    staff: str
    staff_id: int | None
    region: str
    status: str
    health: str  # "red", "amber" or "green"
    last_visit: date | None
    strip: tuple[str, ...]  # the last 8 weeks, oldest first: visited, missed, none, paused
    open_cases: int
    urgent_cases: int
    survey: str  # "", "sent", "opened", "completed"
    days_since_contact: int | None
    mood: tuple[int, ...]
    # Days since the last contact with each party that the contact standard counts (a finished
    # task with that party, or one recorded by hand), and whether the match is behind it.
    days_since_family: int | None = None
    days_since_parent: int | None = None
    behind_standard: bool = False


def match_health(
    session: Session,
    staff: Staff,
    now: datetime,
    *,
    programme: str = "",
    staff_id: int | None = None,
    health: str = "",
    include_ended: bool = False,
    programmes: Mapping[str, Programme] | None = None,
) -> list[MatchHealth]:
    zone = ZoneInfo(staff.timezone)
    local_day = now.astimezone(zone).date()
    query = (
        select(Match)
        .where(visible(staff))
        .options(
            joinedload(Match.child),
            joinedload(Match.volunteer_family),
            joinedload(Match.programme),
            joinedload(Match.staff),
        )
        .order_by(Match.id)
    )
    if not include_ended:
        query = query.where(Match.status != MatchStatus.ENDED)
    if staff_id is not None:
        query = query.where(Match.staff_id == staff_id)
    matches = list(session.scalars(query).unique())
    if programme:
        matches = [m for m in matches if m.programme.slug == programme]
    ids = [m.id for m in matches]
    if not ids:
        return []
    facts = _HealthFacts.load(session, ids)
    rows = [_health_of(m, facts, now, local_day) for m in matches]
    if programmes is not None:
        last = contacts.last_contacts(session, matches, programmes, staff.timezone)
        rows = [
            _with_contacts(r, m, programmes, last, local_day)
            for r, m in zip(rows, matches, strict=True)
        ]
    if health:
        rows = [r for r in rows if r.health == health]
    order = {"red": 0, "amber": 1, "green": 2}
    rows.sort(key=lambda r: (order[r.health], r.id))
    return rows


@dataclass
class _HealthFacts:
    """What the health of a page of matches is made of, loaded in one query each."""

    visits: dict[int, list[Visit]]
    cases: dict[int, list[Escalation]]
    surveys: dict[int, str]
    contact: dict[int, datetime]
    moods: dict[int, list[int]]

    @classmethod
    def load(cls, session: Session, ids: list[int]) -> _HealthFacts:
        visits: dict[int, list[Visit]] = {}
        for visit in session.scalars(
            select(Visit).where(Visit.match_id.in_(ids)).order_by(Visit.planned_date)
        ):
            visits.setdefault(visit.match_id, []).append(visit)
        cases: dict[int, list[Escalation]] = {}
        for case in session.scalars(
            select(Escalation).where(
                Escalation.match_id.in_(ids), Escalation.status != EscalationStatus.RESOLVED
            )
        ):
            cases.setdefault(case.match_id or 0, []).append(case)
        surveys: dict[int, str] = {}
        for inv in session.scalars(
            select(SurveyInvitation)
            .where(SurveyInvitation.match_id.in_(ids), SurveyInvitation.sent_at.is_not(None))
            .order_by(SurveyInvitation.sent_at)
        ):
            surveys[inv.match_id] = (
                "completed" if inv.completed_at else "opened" if inv.opened_at else "sent"
            )
        # When staff last spoke with the family: a call task done, or a note written.
        contact: dict[int, datetime] = {}
        spoken = [
            select(Task.match_id, func.max(Task.completed_at))
            .where(Task.match_id.in_(ids), Task.status == TaskStatus.DONE)
            .group_by(Task.match_id),
            select(MatchNote.match_id, func.max(MatchNote.created_at))
            .where(MatchNote.match_id.in_(ids))
            .group_by(MatchNote.match_id),
        ]
        for query in spoken:
            for match_id, at in session.execute(query):
                if match_id is not None and at is not None:
                    known = contact.get(match_id)
                    contact[match_id] = at if known is None or at > known else known
        moods: dict[int, list[int]] = {}
        for match_id, mood in session.execute(
            select(CheckIn.match_id, CheckIn.mood)
            .where(CheckIn.match_id.in_(ids), CheckIn.mood.is_not(None))
            .order_by(CheckIn.created_at)
        ):
            if mood is not None:
                moods.setdefault(match_id, []).append(int(mood))
        return cls(visits, cases, surveys, contact, moods)


def _strip(match: Match, own: list[Visit], local_day: date) -> tuple[str, ...]:
    """The last :data:`STRIP_WEEKS` weeks (Monday to Sunday), oldest first."""
    monday = local_day - timedelta(days=local_day.weekday())
    return weeks(match, own, monday - timedelta(weeks=STRIP_WEEKS - 1), STRIP_WEEKS)


def weeks(match: Match, own: list[Visit], first_monday: date, count: int) -> tuple[str, ...]:
    """Each of ``count`` weeks from ``first_monday``: visited, missed (cancelled or not
    answered), paused, none (nothing reported) or before (the match had not started)."""
    found = []
    for week in range(count):
        start = first_monday + timedelta(weeks=week)
        in_week = [v for v in own if start <= v.planned_date < start + timedelta(days=7)]
        paused = any(
            p.start_date <= start and (p.end_date is None or p.end_date > start)
            for p in match.pauses
        )
        if start + timedelta(days=6) < match.start_date:
            found.append("before")
        elif any(v.status in DONE_VISITS for v in in_week):
            found.append("visited")
        elif in_week:
            found.append("missed")
        else:
            found.append("paused" if paused else "none")
    return tuple(found)


def _with_contacts(
    row: MatchHealth,
    match: Match,
    programmes: Mapping[str, Programme],
    last: Mapping[tuple[int, str], date],
    local_day: date,
) -> MatchHealth:
    def since(party: str) -> int | None:
        day = last.get((match.id, party))
        return (local_day - day).days if day is not None else None

    programme = programmes.get(match.programme.slug)
    behind = programme is not None and bool(contacts.behind(match, programme, last, local_day))
    return replace(
        row,
        days_since_family=since("volunteer_family"),
        days_since_parent=since("contact_person"),
        behind_standard=behind and match.status == MatchStatus.ACTIVE,
    )


def _health_of(m: Match, facts: _HealthFacts, now: datetime, local_day: date) -> MatchHealth:
    own = facts.visits.get(m.id, [])
    done = [v for v in own if v.status in DONE_VISITS and v.planned_date <= local_day]
    last_visit = done[-1].planned_date if done else None
    open_cases = facts.cases.get(m.id, [])
    urgent = sum(1 for c in open_cases if c.severity == Severity.URGENT)
    last_contact = facts.contact.get(m.id)
    quiet = (
        m.status == MatchStatus.ACTIVE
        and (last_visit is None or (local_day - last_visit).days > 21)
        and (local_day - m.start_date).days > 21
    )
    state = "red" if urgent else "amber" if open_cases or quiet else "green"
    return MatchHealth(
        id=m.id,
        child=m.child.first_name,
        family=m.volunteer_family.name,
        programme=m.programme.name,
        programme_slug=m.programme.slug,
        staff=m.staff.name if m.staff else "",
        staff_id=m.staff_id,
        region=m.region,
        status=m.status.value,
        health=state,
        last_visit=last_visit,
        strip=_strip(m, own, local_day),
        open_cases=len(open_cases),
        urgent_cases=urgent,
        survey=facts.surveys.get(m.id, ""),
        days_since_contact=(now - last_contact).days if last_contact is not None else None,
        mood=tuple(facts.moods.get(m.id, [])[-4:]),
    )


# -- one match ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WheelPoint:
    day: date
    what: str
    kind: str  # visit, message, call, survey, sparring, task
    state: str  # done, missed, upcoming


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    kind: str  # visit, message_out, message_in, call, note
    text: str
    outcome: str
    day: date | None = None  # the visit's own day
    channel: str = ""


@dataclass
class MatchDetail:
    match: Match
    start: date
    end: date
    wheel: list[WheelPoint]
    log: list[LogEntry]
    cases: list[CaseRow]
    paused: bool
    open_pause_from: date | None
    heatmap: tuple[tuple[date, str], ...] = ()  # every week from the start to this one
    household: list[MemberState] = field(default_factory=list)  # the family's certificates
    rematched_as: int | None = None  # the child's next match, when this one was re-matched
    # Volunteer families a re-match may go to (id, name): the region's, not in a running match.
    rematch_families: tuple[tuple[int, str], ...] = ()
    proposes_unreachable: bool = False  # an open case proposes to mark the match unreachable


def match_detail(
    session: Session,
    staff: Staff,
    match_id: int,
    now: datetime,
    programmes: Mapping[str, Programme],
) -> MatchDetail | None:
    """The match in full, or None when it does not exist or the staff member may not see it."""
    match = session.get(Match, match_id)
    if match is None or not may_see(staff, match):
        return None
    locale = staff.locale.value
    programme = programmes.get(match.programme.slug)
    wheel, end = year_wheel(session, match, programme, now, locale)
    log = _contact_log(session, match, programme, locale)
    open_pause = next(
        (p for p in match.pauses if p.end_date is None or p.end_date > now.date()), None
    )
    local_day = now.astimezone(ZoneInfo(staff.timezone)).date()
    first_monday = match.start_date - timedelta(days=match.start_date.weekday())
    count = min(max((local_day - first_monday).days // 7 + 1, 0), 60)
    own = list(
        session.scalars(
            select(Visit).where(Visit.match_id == match.id).order_by(Visit.planned_date)
        )
    )
    heatmap = tuple(
        (first_monday + timedelta(weeks=i), state)
        for i, state in enumerate(weeks(match, own, first_monday, count))
    )
    rematched_as = session.scalars(
        select(Match.id).where(Match.previous_match_id == match.id)
    ).first()
    families: tuple[tuple[int, str], ...] = ()
    if match.status == MatchStatus.ENDED and rematched_as is None:
        families = rematch_families(session, match)
    cases = case_rows(session, staff, now, match_id=match.id)
    return MatchDetail(
        household=household_state(session, match.volunteer_family_id, programme, local_day),
        rematched_as=rematched_as,
        rematch_families=families,
        proposes_unreachable=any(c.rule == "unreachable" for c in cases),
        heatmap=heatmap,
        match=match,
        start=match.start_date,
        end=end,
        wheel=wheel,
        log=log,
        cases=cases,
        paused=match.status == MatchStatus.PAUSED
        or (open_pause is not None and open_pause.start_date <= now.date()),
        open_pause_from=open_pause.start_date if open_pause is not None else None,
    )


def rematch_families(session: Session, match: Match) -> tuple[tuple[int, str], ...]:
    """The volunteer families of the match's region (all, without one) that are not in a running
    match and are not the one that just ended: who the child could be re-matched with."""
    busy = select(Match.volunteer_family_id).where(Match.status != MatchStatus.ENDED)
    query = (
        select(VolunteerFamily.id, VolunteerFamily.name)
        .where(
            VolunteerFamily.id.not_in(busy),
            VolunteerFamily.id != match.volunteer_family_id,
            # Approved families (waiting, or matched before); not one still being screened.
            or_(
                VolunteerFamily.status.is_(None),
                VolunteerFamily.status.in_([WaitStatus.WAITING, WaitStatus.MATCHED]),
            ),
        )
        .order_by(VolunteerFamily.name, VolunteerFamily.id)
        .limit(200)
    )
    if match.region:
        query = query.where(VolunteerFamily.region.in_([match.region, ""]))
    return tuple((family_id, name) for family_id, name in session.execute(query))


def year_wheel(
    session: Session, match: Match, programme: Programme | None, now: datetime, locale: str
) -> tuple[list[WheelPoint], date]:
    """The year wheel's points (done, missed, upcoming) and the day its year ends."""
    end = match.start_date + timedelta(days=365)
    if programme is None:
        return [], end
    facts = facts_for(session, match, programme)
    found_end = effective_end(programme, facts)
    if found_end is not None:
        end = max(found_end, match.start_date + timedelta(days=28))
    return _wheel(session, match, programme, facts, now, locale), end


_KIND = {
    Kind.VISIT_PROMPT: "visit",
    Kind.MESSAGE: "message",
    Kind.CALL: "call",
    Kind.SURVEY: "survey",
    Kind.SPARRING_INVITE: "sparring",
    Kind.STAFF_TASK: "task",
}


def _wheel(
    session: Session,
    match: Match,
    programme: Programme,
    facts: Any,
    now: datetime,
    locale: str,
) -> list[WheelPoint]:
    visits = {
        v.planned_date: v for v in session.scalars(select(Visit).where(Visit.match_id == match.id))
    }
    sent: dict[tuple[str, str], set[OutboxStatus]] = {}
    for tp_id, key, status in session.execute(
        select(
            OutboxMessage.touchpoint_id, OutboxMessage.occurrence_key, OutboxMessage.status
        ).where(OutboxMessage.match_id == match.id, OutboxMessage.audience != Audience.STAFF)
    ):
        sent.setdefault((tp_id, key), set()).add(status)
    tasks: dict[str, list[Task]] = {}
    for task in session.scalars(select(Task).where(Task.match_id == match.id)):
        tasks.setdefault(task.touchpoint_id or "", []).append(task)
    titles = title_variables(match.sibling, match.child.first_name)
    points = []
    for occ in occurrences(programme, facts, now):
        tp = occ.touchpoint
        kind = _KIND.get(tp.kind, "message")
        if not occ.is_past(now):
            state = "upcoming"
        elif tp.kind == Kind.VISIT_PROMPT:
            visit = visits.get(occ.day)
            state = "done" if visit is not None and visit.status in DONE_VISITS else "missed"
        elif tp.kind == Kind.STAFF_TASK or (tp.kind == Kind.CALL and tp.id in tasks):
            own = tasks.get(tp.id, [])
            state = "done" if any(t.status == TaskStatus.DONE for t in own) else "missed"
        else:
            statuses = sent.get((tp.id, occ.key), set())
            if statuses & SENT:
                state = "done"
            elif statuses & NOT_SENT or not statuses:
                state = "missed"
            else:
                state = "upcoming"  # planned, still to go out (quiet hours, a retry)
        points.append(WheelPoint(occ.day, label(tp, locale, titles), kind, state))
    return points


def _contact_log(
    session: Session, match: Match, programme: Programme | None, locale: str, limit: int = 60
) -> list[LogEntry]:
    """Visits, messages out and in, finished tasks and notes, newest first."""
    titles = title_variables(match.sibling, match.child.first_name)

    def what(touchpoint_id: str) -> str:
        if programme is not None:
            try:
                return label(programme.touchpoint(touchpoint_id), locale, titles)
            except KeyError:
                pass
        return touchpoint_id

    entries: list[LogEntry] = []
    for visit in session.scalars(
        select(Visit)
        .where(Visit.match_id == match.id)
        .order_by(Visit.planned_date.desc())
        .limit(30)
    ):
        entries.append(
            LogEntry(visit.reported_at, "visit", "", visit.status.value, day=visit.planned_date)
        )
    for message in session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.match_id == match.id,
            OutboxMessage.audience != Audience.STAFF,
            OutboxMessage.status.in_([*SENT, *NOT_SENT]),
        )
        .order_by(OutboxMessage.due_at.desc())
        .limit(30)
    ):
        entries.append(
            LogEntry(
                message.sent_at or message.due_at,
                "message_out",
                what(message.touchpoint_id),
                message.status.value,
                channel=message.channel.value,
            )
        )
    for case in session.scalars(
        select(Escalation)
        .where(
            Escalation.match_id == match.id,
            Escalation.rule.in_(["message_from_family", "message_from_parent", "worry"]),
        )
        .order_by(Escalation.created_at.desc())
        .limit(20)
    ):
        entries.append(
            LogEntry(
                case.created_at, "message_in", rule_title(case.rule, locale), case.status.value
            )
        )
    for task in session.scalars(
        select(Task)
        .where(Task.match_id == match.id, Task.status != TaskStatus.OPEN)
        .order_by(Task.completed_at.desc())
        .limit(20)
    ):
        entries.append(
            LogEntry(task.completed_at or task.due_at, "call", task.title, task.status.value)
        )
    for note in session.scalars(
        select(MatchNote)
        .where(MatchNote.match_id == match.id)
        .order_by(MatchNote.created_at.desc())
        .limit(20)
    ):
        entries.append(LogEntry(note.created_at, "note", note.text or "", ""))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


# -- the outbox -----------------------------------------------------------------------------------

UPCOMING = (OutboxStatus.PLANNED, OutboxStatus.SENDING)
HISTORY = (
    OutboxStatus.SENT,
    OutboxStatus.DELIVERED,
    OutboxStatus.FAILED,
    OutboxStatus.EXPIRED,
    OutboxStatus.CANCELLED,
    OutboxStatus.UNKNOWN,
)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    match_id: int
    child: str
    family: str
    what: str
    day: date | None  # the visit a visit prompt asks about
    audience: str
    channel: str
    due_at: datetime
    status: str
    reason: str
    edited: bool
    sent_at: datetime | None
    delivered_at: datetime | None


def outbox_rows(
    session: Session,
    staff: Staff,
    programmes: Mapping[str, Programme],
    *,
    history: bool = False,
    match_id: int | None = None,
    channel: str = "",
    search: str = "",
    limit: int = 100,
) -> list[OutboxRow]:
    """Messages to families and parents of the matches the staff member may see: upcoming ones
    soonest first, or the history newest first. ``search`` looks in what the message is, the
    child's first name and the family's name."""
    query = (
        select(OutboxMessage, Match)
        .join(Match, Match.id == OutboxMessage.match_id)
        .where(
            visible(staff),
            OutboxMessage.audience != Audience.STAFF,
            OutboxMessage.status.in_(HISTORY if history else UPCOMING),
        )
        .options(
            joinedload(Match.child), joinedload(Match.volunteer_family), joinedload(Match.programme)
        )
    )
    if match_id is not None:
        query = query.where(OutboxMessage.match_id == match_id)
    if channel:
        query = query.where(OutboxMessage.channel == channel)
    order = OutboxMessage.due_at.desc() if history else OutboxMessage.due_at
    query = query.order_by(order, OutboxMessage.id)
    needle = search.strip().lower()
    rows: list[OutboxRow] = []
    # A search looks further than one page, but never through everything.
    for message, match in session.execute(query.limit(limit * 5 if needle else limit)):
        row = outbox_row(message, match, programmes, staff.locale.value)
        if needle and not any(needle in text.lower() for text in (row.what, row.child, row.family)):
            continue
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows


def outbox_row(
    message: OutboxMessage, match: Match, programmes: Mapping[str, Programme], locale: str
) -> OutboxRow:
    programme = programmes.get(match.programme.slug)
    what = message.touchpoint_id
    if programme is not None:
        try:
            tp = programme.touchpoint(message.touchpoint_id)
        except (KeyError, LookupError, ValueError):
            tp = None
        if tp is not None:
            what = label(tp, locale, title_variables(match.sibling, match.child.first_name))
    day = None
    if message.occurrence_key and message.kind == Kind.VISIT_PROMPT.value:
        try:
            day = date.fromisoformat(message.occurrence_key[:10])
        except ValueError:
            day = None
    context = message.context or {}
    return OutboxRow(
        id=message.id,
        match_id=match.id,
        child=match.child.first_name,
        family=match.volunteer_family.name,
        what=what,
        day=day,
        audience=message.audience.value,
        channel=message.channel.value,
        due_at=message.due_at,
        status=message.status.value,
        reason=message.last_error or "" if message.status != OutboxStatus.PLANNED else "",
        edited=bool((context.get("staff") or {}).get("text")),
        sent_at=message.sent_at,
        delivered_at=message.delivered_at,
    )
