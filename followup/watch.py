"""Rules that watch matches and raise escalations, with thresholds from each programme's YAML.

- consecutive cancelled or missed visits (``consecutive_missed_visits``, weekly programmes);
- no visit for N days (``days_without_visit``, the "2-3 times a month" programmes);
- visit prompts unanswered for N weeks (``unanswered_prompt_weeks``);
- a mood at or below a threshold several times in a row (``low_mood_at_or_below``, ``low_mood_times``);
- a staff task overdue by more than a working day;
- nothing heard from the volunteer family for N weeks (``unreachable_after_weeks``): a case that
  proposes to mark the match unreachable. It is a proposal: staff confirm it by ending the match
  as unreachable (the match page, ``venskab match end ID --by unreachable``), which starts the
  programme's closing steps (two calls) and resolves the case.

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

from followup import contacts
from followup.escalations import knows, raise_escalation
from followup.watch_facts import Known
from scheduler import outbox
from scheduler.i18n import N_
from scheduler.programme import Programme
from scheduler.timeline import Pause
from scheduler.working_days import is_working_day
from store.audit import record
from store.models import (
    Escalation,
    EscalationStatus,
    Match,
    MatchStatus,
    Severity,
    Task,
    TaskStatus,
    VisitStatus,
)


def evaluate(session: Session, programmes: Mapping[str, Programme], now: datetime) -> int:
    """Evaluate every rule for every active match; returns how many escalations got news.

    What the rules read is loaded for all active matches at once, in a few queries (see
    :class:`Known`), so a tick on a large database does not query once per match and rule."""
    raised = 0
    matches = list(
        session.scalars(
            select(Match)
            .where(Match.status == MatchStatus.ACTIVE)
            .options(
                selectinload(Match.pauses),
                selectinload(Match.programme),
                selectinload(Match.volunteer_family),
            )
        )
    )
    known = Known(session, matches, programmes, now)
    for match in matches:
        programme = programmes.get(match.programme.slug)
        if programme is None:
            continue
        today = now.astimezone(ZoneInfo(match.volunteer_family.timezone)).date()
        pauses = [Pause(p.start_date, p.end_date) for p in match.pauses]
        if any(p.covers(today) for p in pauses):
            continue
        for rule in (_missed_visits, _no_visit, _unanswered_prompts, _low_mood, _unreachable):
            found = rule(known, match, programme, today, pauses)
            if found is not None and _add(session, known, match, now, *found):
                raised += 1
        raised += _contact_standard(session, known, match, programme, today, now)
    raised += _overdue_tasks(session, known, now)
    return raised


def _add(
    session: Session,
    known: Known,
    match: Match,
    now: datetime,
    rule: str,
    ref: str,
    evidence: dict[str, Any],
    action: str,
    severity: Severity = Severity.NORMAL,
) -> bool:
    """Raise or extend the escalation, unless this very evidence is already recorded."""
    if match.id in known.matches:
        existing = known.latest.get((match.id, rule))
    else:  # a task of a paused or ended match: not among those loaded
        existing = session.scalars(
            select(Escalation)
            .where(Escalation.match_id == match.id, Escalation.rule == rule)
            .order_by(Escalation.id.desc())
        ).first()
    if existing is not None and knows(existing, ref):
        return False  # already known (also when that escalation was acknowledged since)
    known.latest[(match.id, rule)] = raise_escalation(
        session,
        match,
        rule,
        now=now,
        evidence={"ref": ref, **evidence},
        severity=severity,
        suggested_action=action,
    )
    return True


def _missed_visits(
    known: Known, match: Match, programme: Programme, today: date, pauses: list[Pause]
) -> tuple[str, str, dict[str, Any], str] | None:
    threshold = programme.escalation.consecutive_missed_visits
    if not threshold:
        return None
    recent = [
        v
        for v in known.recent_visits.get(match.id, [])
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
        N_("Call the volunteer family and the parent: stability is what makes the relation work."),
    )


def _no_visit(
    known: Known, match: Match, programme: Programme, today: date, pauses: list[Pause]
) -> tuple[str, str, dict[str, Any], str] | None:
    days = programme.escalation.days_without_visit
    if not days:
        return None
    last = known.last_visit.get(match.id)
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
        N_("Ask the volunteer family how it is going and whether visits can resume."),
    )


def _unanswered_prompts(
    known: Known, match: Match, programme: Programme, today: date, pauses: list[Pause]
) -> tuple[str, str, dict[str, Any], str] | None:
    weeks = programme.escalation.unanswered_prompt_weeks
    if not weeks:
        return None
    window_start = today - timedelta(weeks=weeks)
    if window_start < match.start_date:
        return None
    days = sorted(d for d in known.prompt_days.get(match.id, ()) if window_start <= d < today)
    if len(days) < 2:
        return None
    answered = known.visit_days.get(match.id, set()).intersection(days)
    last_checkin = known.last_checkin.get(match.id)
    if answered or (last_checkin is not None and last_checkin >= _start_of(window_start, match)):
        return None
    return (
        "unanswered_prompts",
        f"until:{days[-1].isoformat()}",
        {"prompts": [d.isoformat() for d in days]},
        N_("Nobody has answered the visit prompts: call the volunteer family."),
    )


def _contact_standard(
    session: Session,
    known: Known,
    match: Match,
    programme: Programme,
    today: date,
    now: datetime,
) -> int:
    """A case when staff are behind the programme's contact standard with a party; resolved by
    itself once the missing contacts are recorded."""
    late = contacts.behind(match, programme, known.last_contacts, today)
    if late:
        ref = "contact:" + "|".join(f"{b.party}:{b.due.isoformat()}" for b in late)
        evidence = {
            "behind": [
                {
                    "party": b.party,
                    "due": b.due.isoformat(),
                    "last_contact": b.last.isoformat() if b.last else None,
                }
                for b in late
            ]
        }
        action = N_("Call them, then record the contact (a finished task counts).")
        return int(_add(session, known, match, now, "contact_overdue", ref, evidence, action))
    case = known.latest.get((match.id, "contact_overdue"))
    if case is not None and case.status != EscalationStatus.RESOLVED:
        case.status = EscalationStatus.RESOLVED
        case.resolved_at = now
        case.resolution_note = N_("The contact was recorded")
        outbox.cancel_pending_alerts(session, case.id)
        record(session, "system", "escalation.resolve", "escalation", case.id, rule=case.rule)
    return 0


def _unreachable(
    known: Known, match: Match, programme: Programme, today: date, pauses: list[Pause]
) -> tuple[str, str, dict[str, Any], str] | None:
    """Nothing heard from the volunteer family for the programme's silence threshold: propose
    to mark the match unreachable (staff confirm it; the match does not end by itself)."""
    weeks = programme.escalation.unreachable_after_weeks
    if not weeks:
        return None
    signs = [match.start_date, known.last_heard.get(match.id)]
    checkin = known.last_checkin.get(match.id)
    if checkin is not None:
        signs.append(checkin.astimezone(ZoneInfo(match.volunteer_family.timezone)).date())
    signs.append(known.last_contacts.get((match.id, "volunteer_family")))
    since = max(day for day in signs if day is not None)
    paused = sum(
        1
        for n in range((today - since).days)
        if any(p.covers(since + timedelta(days=n)) for p in pauses)
    )
    silent = (today - since).days - paused
    if silent < weeks * 7:
        return None
    return (
        "unreachable",
        f"silent:{since.isoformat()}",
        {"last_visit": since.isoformat(), "days": silent},
        N_(
            "Nothing heard from the volunteer family: try to reach them; if you cannot, mark the "
            "match as unreachable (two call tasks follow before it closes)."
        ),
    )


def _start_of(day: date, match: Match) -> datetime:
    zone = ZoneInfo(match.volunteer_family.timezone)
    return datetime.combine(day, datetime.min.time(), tzinfo=zone)


def _low_mood(
    known: Known, match: Match, programme: Programme, today: date, pauses: list[Pause]
) -> tuple[str, str, dict[str, Any], str] | None:
    rules = programme.escalation
    checkins = known.moods.get(match.id, [])[: rules.low_mood_times]
    if len(checkins) < rules.low_mood_times or any(
        (c.mood or 5) > rules.low_mood_at_or_below for c in checkins
    ):
        return None
    ids = sorted(c.id for c in checkins)
    return (
        "low_mood",
        "checkins:" + ",".join(map(str, ids)),
        {"moods": [c.mood for c in reversed(checkins)]},
        N_(
            "The last visits went badly: call the volunteer family; tell them mood swings are normal."
        ),
    )


def _overdue_tasks(session: Session, known: Known, now: datetime) -> int:
    """An open task more than one working day past due reaches its owner as an escalation."""
    raised = 0
    tasks = session.execute(  # the columns, not the objects: there may be many
        select(Task.id, Task.match_id, Task.title, Task.due_at).where(
            Task.status == TaskStatus.OPEN,
            Task.due_at < now - timedelta(days=1),
            Task.match_id.is_not(None),
        )
    )
    for task in tasks:
        if not _a_working_day_between(task.due_at, now):
            continue
        if task.match_id is None:
            continue
        match = known.matches.get(task.match_id) or session.get(Match, task.match_id)
        if match is None:
            continue
        if _add(
            session,
            known,
            match,
            now,
            "task_overdue",
            f"task:{task.id}",
            {"task_id": task.id, "task": task.title[:120], "due": task.due_at.date().isoformat()},
            N_("Do the task, or record its outcome (done, not reached, rescheduled)."),
        ):
            raised += 1
    return raised


def _a_working_day_between(start: datetime, end: datetime) -> bool:
    """Whether a working day lies after ``start``'s day, up to and including ``end``'s.

    More than a fortnight always holds one (Denmark's longest run of days off is Easter's five),
    which spares a tick over old tasks the calendar of holidays."""
    if (end.date() - start.date()).days > 14:
        return True
    day = start.date() + timedelta(days=1)
    while day <= end.date():
        if is_working_day(day):
            return True
        day += timedelta(days=1)
    return False
