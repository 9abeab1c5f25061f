"""The planner: turns each match's timeline into outbox rows and staff tasks.

It plans a rolling horizon (default 14 days). Every row has an idempotency key (match,
touchpoint, occurrence, recipient), so planning twice, or on two replicas at once, inserts
nothing twice. When a match's plan version changed (start date corrected, paused, resumed,
ended, a contact changed), pending rows that are no longer in the plan are cancelled and their
replacements added; rows already sent are history and never touched.

Nothing before ``match.created_at`` is planned: a match imported in its seventh month does not
receive the welcome message of its first day.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, StrictUndefined, Template
from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from scheduler.escalations import raise_escalation
from scheduler.matches import facts_for, sparring_window
from scheduler.programme import AudienceName, Kind, Programme, Touchpoint
from scheduler.recipients import Recipient, recipients_for
from scheduler.rules import next_allowed
from scheduler.timeline import Occurrence, SparringDate, localize, occurrences
from store.models import (
    Audience,
    Match,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    Task,
    TaskStatus,
)
from store.queries import advisory_lock, insert_ignore

log = logging.getLogger(__name__)
_TITLES = Environment(undefined=StrictUndefined, autoescape=False)

HORIZON = timedelta(days=14)
PLANNER_LOCK = 0x76656E73  # "vens": one planner at a time across replicas (PostgreSQL)
CHUNK = 500
DAY = timedelta(days=1)
NOT_IN_PLAN = "no longer in the plan"
# How far back a pass looks for what is not yet planned (catch-up after downtime): older sends
# would have expired, and older tasks are overdue history rather than work to create now.
LOOKBACK = timedelta(days=60)
# Reminders and call announcements lie at most this far from their touchpoint's occurrence.
REMINDER_REACH = timedelta(days=35)


@dataclass
class PlanStats:
    matches: int = 0
    skipped: int = 0
    added: int = 0
    updated: int = 0
    cancelled: int = 0
    tasks_added: int = 0
    tasks_cancelled: int = 0
    locked_out: bool = False

    def __iadd__(self, other: PlanStats) -> PlanStats:
        for name in (
            "matches",
            "skipped",
            "added",
            "updated",
            "cancelled",
            "tasks_added",
            "tasks_cancelled",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


@dataclass
class _Desired:
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)


def message_key(
    match_id: int, touchpoint_id: str, occurrence: str, audience: str, recipient_id: int
) -> str:
    return f"m{match_id}:{touchpoint_id}:{occurrence}:{audience[0]}{recipient_id}"


def task_key(match_id: int, touchpoint_id: str, occurrence: str) -> str:
    return f"m{match_id}:{touchpoint_id}:{occurrence}"


def plan_all(
    engine: Engine,
    factory: sessionmaker[Session],
    programmes: Mapping[str, Programme],
    now: datetime,
    horizon: timedelta = HORIZON,
    force: bool = False,
    match_ids: list[int] | None = None,
) -> PlanStats:
    """One planning pass over every live match, in chunks, under the planner lock."""
    total = PlanStats()
    with advisory_lock(engine, PLANNER_LOCK) as got:
        if not got:
            total.locked_out = True
            return total
        last_id = 0
        while True:
            with factory() as session, session.begin():
                query = (
                    select(Match)
                    .where(Match.id > last_id)
                    .where(
                        or_(
                            Match.status != MatchStatus.ENDED,
                            # ended matches still have end touchpoints and reminders to plan
                            Match.end_date >= (now - timedelta(days=120)).date(),
                            Match.planned_version != Match.plan_version,
                        )
                    )
                    .order_by(Match.id)
                    .limit(CHUNK)
                    .options(
                        selectinload(Match.volunteer_family),
                        selectinload(Match.contacts),
                        selectinload(Match.pauses),
                        selectinload(Match.staff),
                        selectinload(Match.programme),
                    )
                )
                if match_ids is not None:
                    query = query.where(Match.id.in_(match_ids))
                batch = list(session.scalars(query))
                if not batch:
                    break
                last_id = batch[-1].id
                with session.no_autoflush:
                    total += plan_batch(session, batch, programmes, now, horizon, force)
    return total


def plan_batch(
    session: Session,
    matches: list[Match],
    programmes: Mapping[str, Programme],
    now: datetime,
    horizon: timedelta,
    force: bool = False,
) -> PlanStats:
    stats = PlanStats()
    todo = [
        m
        for m in matches
        if force
        or m.planned_version != m.plan_version
        or m.planned_until is None
        or m.planned_until < now + horizon / 2
    ]
    stats.skipped = len(matches) - len(todo)
    if not todo:
        return stats
    ids = [m.id for m in todo]
    # Pending rows, and rows the planner itself cancelled earlier: a resumed pause or a date
    # corrected back must bring those back, and their idempotency keys are taken.
    pending: dict[int, dict[str, OutboxMessage]] = {i: {} for i in ids}
    revivable: dict[int, dict[str, OutboxMessage]] = {i: {} for i in ids}
    for row in session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.match_id.in_(ids),
            or_(
                OutboxMessage.status == OutboxStatus.PLANNED,
                (OutboxMessage.status == OutboxStatus.CANCELLED)
                & (OutboxMessage.last_error == NOT_IN_PLAN),
            ),
        )
    ):
        target = pending if row.status == OutboxStatus.PLANNED else revivable
        target[row.match_id or 0][row.idempotency_key] = row
    open_tasks: dict[int, dict[str, Task]] = {i: {} for i in ids}
    for task in session.scalars(
        select(Task).where(Task.match_id.in_(ids), Task.status == TaskStatus.OPEN)
    ):
        if task.idempotency_key:
            open_tasks[task.match_id or 0][task.idempotency_key] = task

    new_messages: list[dict[str, Any]] = []
    new_tasks: list[dict[str, Any]] = []
    sparring: dict[tuple[int, str, str], tuple[SparringDate, ...]] = {}
    for match in todo:
        programme = programmes.get(match.programme.slug)
        if programme is None:
            log.warning(
                "match %s: programme %r has no file; not planned", match.id, match.programme.slug
            )
            continue
        zone = match.volunteer_family.timezone or "Europe/Copenhagen"
        group = (match.programme_id, match.region, zone)
        if group not in sparring:
            # One look-up per programme, region and zone, wide enough for every match in it.
            sparring[group] = sparring_window(
                session,
                match.programme_id,
                match.region,
                programme,
                ZoneInfo(zone),
                now.date() - timedelta(days=400),
                now.date() + timedelta(days=400),
            )
        desired = desired_for(session, match, programme, now, horizon, sparring[group])
        stats.matches += 1
        for key, row in pending[match.id].items():
            want = desired.messages.pop(key, None)
            if want is None:
                row.status = OutboxStatus.CANCELLED
                row.last_error = NOT_IN_PLAN
                stats.cancelled += 1
            elif (row.due_at, row.channel, row.expires_at) != (
                want["due_at"],
                want["channel"],
                want["expires_at"],
            ):
                _apply(row, want)
                stats.updated += 1
        for key, row in revivable[match.id].items():
            want = desired.messages.pop(key, None)
            if want is not None:
                _apply(row, want)
                stats.added += 1
        new_messages.extend(desired.messages.values())
        for key, task in open_tasks[match.id].items():
            want = desired.tasks.pop(key, None)
            if want is None:
                if task.due_at > now:
                    task.status = TaskStatus.CANCELLED
                    task.outcome_note = NOT_IN_PLAN
                    stats.tasks_cancelled += 1
            elif task.due_at != want["due_at"]:
                task.due_at = want["due_at"]
        new_tasks.extend(desired.tasks.values())
        match.planned_version = match.plan_version
        match.planned_until = now + horizon
    _escalate_unreachable(session, todo, new_messages, now)
    stats.added += insert_ignore(session, OutboxMessage, new_messages, "idempotency_key")
    stats.tasks_added += insert_ignore(session, Task, new_tasks, "idempotency_key")
    return stats


def _apply(row: OutboxMessage, want: dict[str, Any]) -> None:
    for name in (
        "due_at",
        "expires_at",
        "channel",
        "status",
        "plan_version",
        "context",
        "last_error",
    ):
        setattr(row, name, want[name])


def _escalate_unreachable(
    session: Session, matches: list[Match], rows: list[dict[str, Any]], now: datetime
) -> None:
    """A message with no usable address reaches staff once, when its row is first created."""
    failed = {r["idempotency_key"]: r for r in rows if r["status"] == OutboxStatus.FAILED}
    if not failed:
        return
    existing = set(
        session.scalars(
            select(OutboxMessage.idempotency_key).where(
                OutboxMessage.idempotency_key.in_(list(failed))
            )
        )
    )
    by_id = {m.id: m for m in matches}
    for key, row in failed.items():
        if key in existing:
            continue
        raise_escalation(
            session,
            by_id.get(row["match_id"]),
            "delivery_failed",
            now=now,
            evidence={
                "touchpoint": row["touchpoint_id"],
                "audience": row["audience"].value,
                "error": "no usable address",
            },
            suggested_action="Add a phone number or an email address, or link Telegram.",
        )


def desired_for(
    session: Session,
    match: Match,
    programme: Programme,
    now: datetime,
    horizon: timedelta,
    sparring: tuple[SparringDate, ...] | None = None,
) -> _Desired:
    """What the plan wants to exist for this match between its creation and ``now + horizon``."""
    facts = facts_for(session, match, programme, sparring)
    zone = ZoneInfo(facts.timezone)
    until = now + horizon
    start = max(match.created_at or now, now - LOOKBACK)
    since = (start - REMINDER_REACH).astimezone(zone).date()
    desired = _Desired()
    audiences: dict[AudienceName, list[Recipient]] = {}

    def people(audience: AudienceName) -> list[Recipient]:
        if audience not in audiences:
            audiences[audience] = recipients_for(match, audience)
        return audiences[audience]

    for occ in occurrences(
        programme,
        facts,
        now,
        horizon=until.astimezone(zone).date() + timedelta(days=1),
        since=since,
    ):
        tp = occ.touchpoint
        if occ.due_utc > until or occ.due_utc < start - REMINDER_REACH:
            continue  # neither it nor any of its reminders or announcements falls in the window
        if tp.is_task:
            _plan_task(desired, match, tp, occ, start, until)
            if tp.announce is not None and tp.counterpart is not None:
                _plan_announcement(
                    desired, match, programme, tp, occ, zone, start, until, now, people
                )
            continue
        for recipient in people(tp.audience):
            if recipient.opted_out and not tp.essential:
                continue
            _plan_message(desired, match, programme, tp, occ, recipient, zone, start, until, now)
    return desired


def _plan_task(
    desired: _Desired,
    match: Match,
    tp: Touchpoint,
    occ: Occurrence,
    start: datetime,
    until: datetime,
) -> None:
    if not start <= occ.due_utc <= until:
        return
    locale = match.staff.locale.value if match.staff else "da"
    title = _title(tp.title.get(locale) or tp.title.get("da") or tp.id, match)
    key = task_key(match.id, tp.id, occ.key)
    desired.tasks[key] = {
        "idempotency_key": key,
        "match_id": match.id,
        "touchpoint_id": tp.id,
        "kind": tp.kind.value,
        "title": title[:200],
        "owner_id": match.staff_id,
        "due_at": occ.due_utc,
        "status": TaskStatus.OPEN,
    }


@lru_cache(maxsize=256)
def _title_template(text: str) -> Template:
    return _TITLES.from_string(text)


def _title(text: str, match: Match) -> str:
    """Task titles may use {{ sibling }} and {{ child }} (e.g. the half-price invoice)."""
    if "{" not in text:
        return text
    return _title_template(text).render(sibling=match.sibling, child=match.child.first_name)


def _plan_announcement(
    desired: _Desired,
    match: Match,
    programme: Programme,
    tp: Touchpoint,
    occ: Occurrence,
    zone: ZoneInfo,
    start: datetime,
    until: datetime,
    now: datetime,
    people: Callable[[AudienceName], list[Recipient]],
) -> None:
    """Tell the person who will be called when: unannounced calls felt "artificial" (001:1437)."""
    assert tp.announce is not None and tp.counterpart is not None
    due = localize(occ.due.replace(tzinfo=None) - tp.announce.delta, zone)
    for recipient in people(tp.counterpart):
        _add_message(
            desired,
            match,
            programme,
            tp,
            occ,
            recipient,
            zone,
            start,
            until,
            now,
            key_suffix=":announce",
            template="call_announcement",
            kind=Kind.MESSAGE.value,
            due=due,
            expires=occ.due,
            channels=("sms", "email", "telegram"),
            essential=True,
            context={"call_at": occ.due.isoformat()},
        )


def _plan_message(
    desired: _Desired,
    match: Match,
    programme: Programme,
    tp: Touchpoint,
    occ: Occurrence,
    recipient: Recipient,
    zone: ZoneInfo,
    start: datetime,
    until: datetime,
    now: datetime,
) -> None:
    context: dict[str, Any] = {"reminder": 0}
    if occ.session is not None:
        context["session_key"] = occ.session.key
        context["session_starts_at"] = occ.session.starts_at.isoformat()
        if occ.session.session_id is not None:
            context["session_id"] = occ.session.session_id
    if tp.wave:
        context["wave"] = tp.wave
        context["survey"] = tp.survey
    if occ.extra.get("cadence"):
        context["cadence"] = occ.extra["cadence"]
    _add_message(
        desired,
        match,
        programme,
        tp,
        occ,
        recipient,
        zone,
        start,
        until,
        now,
        key_suffix="",
        template=tp.template_name,
        kind=tp.kind.value,
        due=occ.due,
        expires=occ.expires,
        channels=tuple(str(c) for c in tp.channels),
        essential=tp.essential,
        context=context,
    )
    for number, reminder in enumerate(tp.reminders, start=1):
        if reminder.staff_task:
            continue  # created when due, only if still unanswered (see scheduler.followup)
        fixed = reminder.after.fixed
        if fixed is not None and not start - DAY <= occ.due_utc + fixed <= until + DAY:
            continue  # far outside the window whatever DST does: skip the time-zone work
        due = localize(reminder.after.add(occ.due.replace(tzinfo=None)), zone)
        expires = None
        if tp.expiry is not None:
            expires = localize(tp.expiry.add(due.replace(tzinfo=None)), zone)
        # The reminder's own channel first; without that address, the touchpoint's channels.
        channels = tuple(
            dict.fromkeys(
                [
                    *([str(reminder.channel)] if reminder.channel else []),
                    *(str(c) for c in tp.channels),
                ]
            )
        )
        _add_message(
            desired,
            match,
            programme,
            tp,
            occ,
            recipient,
            zone,
            start,
            until,
            now,
            key_suffix=f":r{number}",
            template=tp.template_name,
            kind=tp.kind.value,
            due=due,
            expires=expires,
            channels=channels,
            essential=tp.essential,
            context={**context, "reminder": number},
        )


def _add_message(
    desired: _Desired,
    match: Match,
    programme: Programme,
    tp: Touchpoint,
    occ: Occurrence,
    recipient: Recipient,
    zone: ZoneInfo,
    start: datetime,
    until: datetime,
    now: datetime,
    *,
    key_suffix: str,
    template: str,
    kind: str,
    due: datetime,
    expires: datetime | None,
    channels: tuple[str, ...],
    essential: bool,
    context: dict[str, Any],
) -> None:
    due_utc = due.astimezone(UTC)
    if not start <= due_utc <= until:
        return
    key = message_key(match.id, tp.id, occ.key + key_suffix, recipient.audience.value, recipient.id)
    channel = recipient.choose(channels)
    status = OutboxStatus.PLANNED
    error = None
    if channel is None:
        channel = channels[0]
        status = OutboxStatus.FAILED
        error = "no usable address for any of the touchpoint's channels"
    send_at = next_allowed(due_utc, channel, programme, ZoneInfo(recipient.timezone or zone.key))
    expires_utc = expires.astimezone(UTC) if expires is not None else None
    if status == OutboxStatus.PLANNED and expires_utc is not None and expires_utc <= now:
        status = OutboxStatus.EXPIRED
        error = "expired before it could be sent"
    desired.messages[key] = {
        "idempotency_key": key,
        "match_id": match.id,
        "touchpoint_id": tp.id,
        "occurrence_key": occ.key + key_suffix,
        "kind": kind,
        "template": template,
        "audience": Audience(recipient.audience.value),
        "recipient_id": recipient.id,
        "channel": channel,
        "locale": recipient.locale,
        "essential": essential,
        "due_at": send_at,
        "expires_at": expires_utc,
        "status": status,
        "plan_version": match.plan_version,
        "context": context,
        "last_error": error,
    }
