"""One match in full: its year wheel, its contact log and the families it could be re-matched with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from followup.certificates import MemberState, household_state
from followup.escalations import rule_title
from followup.staff_auth import may_see
from followup.staff_views.common import DONE_VISITS, NOT_SENT, SENT
from followup.staff_views.day import CaseRow, case_rows
from followup.staff_views.health import weeks
from followup.yearplan import label, title_variables
from scheduler.facts import facts_for
from scheduler.programme import Kind, Programme
from scheduler.timeline import effective_end, occurrences
from store.models import (
    Audience,
    Escalation,
    Match,
    MatchNote,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    Staff,
    Task,
    TaskStatus,
    Visit,
    VolunteerFamily,
    WaitStatus,
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
