"""Rules that watch matches and raise escalations, with thresholds from each programme's YAML.

- consecutive cancelled or missed visits (``consecutive_missed_visits``, weekly programmes);
- no visit for N days (``days_without_visit``, the "2-3 times a month" programmes);
- visit prompts unanswered for N weeks (``unanswered_prompt_weeks``);
- a mood at or below a threshold several times in a row (``low_mood_at_or_below``, ``low_mood_times``);
- a staff task overdue by more than a working day.

Paused days count for nothing. Each rule's evidence carries a reference (the visit dates, the
check-in ids), so evaluating again adds nothing that is already there: one open escalation per
match and rule collects new evidence instead of sending new alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from followup.escalations import knows, raise_escalation
from scheduler.programme import Programme
from scheduler.timeline import Pause, is_working_day
from store.models import (
    CheckIn,
    Escalation,
    Match,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    Severity,
    Task,
    TaskStatus,
    Visit,
    VisitStatus,
)


def evaluate(session: Session, programmes: Mapping[str, Programme], now: datetime) -> int:
    """Evaluate every rule for every active match; returns how many escalations got news."""
    raised = 0
    matches = session.scalars(
        select(Match)
        .where(Match.status == MatchStatus.ACTIVE)
        .options(
            selectinload(Match.pauses),
            selectinload(Match.programme),
            selectinload(Match.volunteer_family),
        )
    )
    for match in matches:
        programme = programmes.get(match.programme.slug)
        if programme is None:
            continue
        today = now.astimezone(ZoneInfo(match.volunteer_family.timezone)).date()
        pauses = [Pause(p.start_date, p.end_date) for p in match.pauses]
        if any(p.covers(today) for p in pauses):
            continue
        for rule in (_missed_visits, _no_visit, _unanswered_prompts, _low_mood):
            found = rule(session, match, programme, today, pauses)
            if found is not None and _add(session, match, now, *found):
                raised += 1
    raised += _overdue_tasks(session, now)
    return raised


def _add(
    session: Session,
    match: Match,
    now: datetime,
    rule: str,
    ref: str,
    evidence: dict[str, Any],
    action: str,
    severity: Severity = Severity.NORMAL,
) -> bool:
    """Raise or extend the escalation, unless this very evidence is already recorded."""
    existing = session.scalars(
        select(Escalation)
        .where(Escalation.match_id == match.id, Escalation.rule == rule)
        .order_by(Escalation.id.desc())
    ).first()
    if existing is not None and knows(existing, ref):
        return False  # already known (also when that escalation was acknowledged since)
    raise_escalation(
        session,
        match,
        rule,
        now=now,
        evidence={"ref": ref, **evidence},
        severity=severity,
        suggested_action=action,
    )
    return True


def _answered_days(session: Session, match: Match) -> list[Visit]:
    return list(
        session.scalars(
            select(Visit)
            .where(Visit.match_id == match.id)
            .order_by(Visit.planned_date.desc())
            .limit(20)
        )
    )


def _missed_visits(
    session: Session, match: Match, programme: Programme, today: date, pauses: list[Pause]
) -> tuple[str, str, dict[str, Any], str] | None:
    threshold = programme.escalation.consecutive_missed_visits
    if not threshold:
        return None
    recent = [
        v
        for v in _answered_days(session, match)
        if not any(p.covers(v.planned_date) for p in pauses)
    ]
    streak = []
    for visit in recent:
        if visit.status in (VisitStatus.CANCELLED, VisitStatus.MISSED):
            streak.append(visit)
        elif visit.status == VisitStatus.VISITED:
            break
    if len(streak) < threshold:
        return None
    days = sorted(v.planned_date.isoformat() for v in streak[:threshold])
    reasons = sorted({v.cancelled_by.value for v in streak[:threshold] if v.cancelled_by})
    return (
        "missed_visits",
        "|".join(days),
        {"visits": days, "cancelled_by": reasons or None},
        "Call the volunteer family and the parent: stability is what makes the relation work.",
    )


def _no_visit(
    session: Session, match: Match, programme: Programme, today: date, pauses: list[Pause]
) -> tuple[str, str, dict[str, Any], str] | None:
    days = programme.escalation.days_without_visit
    if not days:
        return None
    last = session.scalars(
        select(Visit.planned_date)
        .where(Visit.match_id == match.id, Visit.status == VisitStatus.VISITED)
        .order_by(Visit.planned_date.desc())
    ).first()
    since = max(last or match.start_date, match.start_date)
    paused = sum(
        1
        for n in range((today - since).days)
        if any(p.covers(since + timedelta(days=n)) for p in pauses)
    )
    gap = (today - since).days - paused
    if gap < days:
        return None
    return (
        "no_visit",
        f"since:{since.isoformat()}",
        {"last_visit": last.isoformat() if last else None, "days": gap},
        "Ask the volunteer family how it is going and whether visits can resume.",
    )


def _unanswered_prompts(
    session: Session, match: Match, programme: Programme, today: date, pauses: list[Pause]
) -> tuple[str, str, dict[str, Any], str] | None:
    weeks = programme.escalation.unanswered_prompt_weeks
    if not weeks:
        return None
    window_start = today - timedelta(weeks=weeks)
    if window_start < match.start_date:
        return None
    prompts = list(
        session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.match_id == match.id,
                OutboxMessage.kind == "visit_prompt",
                OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.DELIVERED]),
                OutboxMessage.occurrence_key.not_like("%:%"),
            )
        )
    )
    days = sorted(
        {
            date.fromisoformat(p.occurrence_key)
            for p in prompts
            if window_start <= date.fromisoformat(p.occurrence_key) < today
        }
    )
    if len(days) < 2:
        return None
    answered = set(
        session.scalars(
            select(Visit.planned_date).where(
                Visit.match_id == match.id, Visit.planned_date.in_(days)
            )
        )
    )
    recent_checkin = session.scalars(
        select(CheckIn.id).where(
            CheckIn.match_id == match.id, CheckIn.created_at >= _start_of(window_start, match)
        )
    ).first()
    if answered or recent_checkin is not None:
        return None
    return (
        "unanswered_prompts",
        f"until:{days[-1].isoformat()}",
        {"prompts": [d.isoformat() for d in days]},
        "Nobody has answered the visit prompts: call the volunteer family.",
    )


def _start_of(day: date, match: Match) -> datetime:
    zone = ZoneInfo(match.volunteer_family.timezone)
    return datetime.combine(day, datetime.min.time(), tzinfo=zone)


def _low_mood(
    session: Session, match: Match, programme: Programme, today: date, pauses: list[Pause]
) -> tuple[str, str, dict[str, Any], str] | None:
    rules = programme.escalation
    checkins = list(
        session.scalars(
            select(CheckIn)
            .where(CheckIn.match_id == match.id, CheckIn.mood.is_not(None))
            .order_by(CheckIn.created_at.desc(), CheckIn.id.desc())
            .limit(rules.low_mood_times)
        )
    )
    if len(checkins) < rules.low_mood_times or any(
        (c.mood or 5) > rules.low_mood_at_or_below for c in checkins
    ):
        return None
    ids = sorted(c.id for c in checkins)
    return (
        "low_mood",
        "checkins:" + ",".join(map(str, ids)),
        {"moods": [c.mood for c in reversed(checkins)]},
        "The last visits went badly: call the volunteer family; tell them mood swings are normal.",
    )


def _overdue_tasks(session: Session, now: datetime) -> int:
    """An open task more than one working day past due reaches its owner as an escalation."""
    raised = 0
    tasks = session.scalars(
        select(Task).where(Task.status == TaskStatus.OPEN, Task.due_at < now - timedelta(days=1))
    )
    for task in tasks:
        if _working_days_between(task.due_at, now) < 1:
            continue
        match = session.get(Match, task.match_id) if task.match_id else None
        if match is None:
            continue
        if _add(
            session,
            match,
            now,
            "task_overdue",
            f"task:{task.id}",
            {"task_id": task.id, "task": task.title[:120], "due": task.due_at.date().isoformat()},
            "Do the task, or record its outcome (done, not reached, rescheduled).",
        ):
            raised += 1
    return raised


def _working_days_between(start: datetime, end: datetime) -> int:
    day, count = start.date() + timedelta(days=1), 0
    while day <= end.date():
        count += is_working_day(day)
        day += timedelta(days=1)
    return count
