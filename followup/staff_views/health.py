"""The health of the matches a staff member may see: a strip of the last weeks' visits and what
needs her attention."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from followup import contacts
from followup.staff_auth import visible
from followup.staff_views.common import DONE_VISITS
from scheduler.programme import Programme
from store.models import (
    CheckIn,
    Escalation,
    EscalationStatus,
    Match,
    MatchNote,
    MatchStatus,
    Severity,
    Staff,
    SurveyInvitation,
    Task,
    TaskStatus,
    Visit,
)

STRIP_WEEKS = 8


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
