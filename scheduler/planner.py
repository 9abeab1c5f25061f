"""The planner: turns each match's timeline into outbox rows and staff tasks.

It plans a rolling horizon (default 14 days). Every row has an idempotency key (match,
touchpoint, occurrence, recipient), so planning twice, or on two replicas at once, inserts
nothing twice. When a match's plan version changed (start date corrected, paused, resumed,
ended, a contact changed), pending rows that are no longer in the plan are cancelled and their
replacements added; rows already sent are history and never touched.

Nothing before ``match.created_at`` is planned: a match imported in its seventh month does not
receive the welcome message of its first day.

A pass over many matches is mostly the same work again: matches of one programme that started
on the same day, with the same visit weekday, have the same timeline. So the planner works in
two steps. What a timeline asks for within the window, before anyone's address or time zone
is known (:class:`Step`), is computed once per programme, match facts and window start
(:class:`PassCache`); then each match turns it into rows for its own recipients.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Row, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler import outbox
from scheduler.facts import materialise, sparring_window
from scheduler.hooks import ReportProblem
from scheduler.i18n import N_
from scheduler.plan_load import MatchRow, load_matches, mark_planned
from scheduler.plan_rows import Desired, PassCache, Want, desired_for, task_key
from scheduler.programme import Programme
from scheduler.timeline import SparringDate, sparring_dates
from store.models import Match, OutboxMessage, OutboxStatus, Task, TaskStatus, utcnow
from store.queries import advisory_lock, insert_ignore

__all__ = ["HORIZON", "PlanStats", "desired_for", "plan_all", "plan_batch", "task_key"]

log = logging.getLogger(__name__)

HORIZON = timedelta(days=14)
PLANNER_LOCK = 0x76656E73  # "vens": one planner at a time across replicas (PostgreSQL)
NOT_IN_PLAN = outbox.NOT_IN_PLAN


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


# -- the pass -----------------------------------------------------------------------------------


def plan_all(
    engine: Engine,
    factory: sessionmaker[Session],
    programmes: Mapping[str, Programme],
    now: datetime,
    horizon: timedelta = HORIZON,
    force: bool = False,
    match_ids: list[int] | None = None,
    *,
    report: ReportProblem,
) -> PlanStats:
    """One planning pass over every live match, in chunks, under the planner lock.

    ``report`` tells staff of a match that nobody can be reached for (see :mod:`scheduler.hooks`).
    """
    total = PlanStats()
    with advisory_lock(engine, PLANNER_LOCK) as got:
        if not got:
            total.locked_out = True
            return total
        cache = PassCache(now, now + horizon, engine.dialect)
        last_id = 0
        while True:
            with _collector_paused(), factory() as session, session.begin():
                batch = load_matches(session, last_id, now, match_ids)
                if not batch:
                    break
                last_id = batch[-1].id
                with session.no_autoflush:
                    total += plan_batch(
                        session, batch, programmes, now, horizon, force, cache, report=report
                    )
    return total


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a chunk is planned.

    A chunk builds tens of thousands of rows that all live until they are inserted; each
    collection of the oldest generation walks every live object, and the rows made it run
    dozens of times per pass (a third of the time at 100,000 matches). Planning creates no
    reference cycles: what a chunk leaves is freed by reference counting when it ends, and
    the collector runs as usual between chunks.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def plan_batch(
    session: Session,
    matches: list[MatchRow],
    programmes: Mapping[str, Programme],
    now: datetime,
    horizon: timedelta,
    force: bool = False,
    cache: PassCache | None = None,
    *,
    report: ReportProblem,
) -> PlanStats:
    stats = PlanStats()
    cache = cache or PassCache(now, now + horizon, session.get_bind().dialect)
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
    chunk = _Chunk(session, now, cache, _Existing.read(session, [m.id for m in todo]))
    sparring: dict[tuple[int, str, str], tuple[SparringDate, ...]] = {}
    for match in todo:
        programme = programmes.get(match.programme_slug or "")
        if programme is None:
            log.warning(
                "match %s: programme %r has no file; not planned", match.id, match.programme_slug
            )
            continue
        window = _sparring(session, sparring, match, programme, now)
        desired = desired_for(session, match, programme, now, horizon, window, cache, chunk.created)
        stats.matches += 1
        chunk.messages(match.id, desired, stats)
        chunk.tasks(match.id, desired, stats)
        chunk.planned.append(match)
    outbox.apply_changes(session, chunk.changed)
    _escalate_unreachable(session, todo, chunk.unreachable, now, report)
    stats.added += cache.rows.insert(session.connection(), chunk.new_messages)
    stats.tasks_added += insert_ignore(session, Task, chunk.new_tasks, "idempotency_key")
    mark_planned(session, chunk.planned, now + horizon)
    return stats


def _sparring(
    session: Session,
    known: dict[tuple[int, str, str], tuple[SparringDate, ...]],
    match: MatchRow,
    programme: Programme,
    now: datetime,
) -> tuple[SparringDate, ...]:
    """The sparring sessions for the match's programme, region and zone: one look-up per
    group, wide enough for every match in it."""
    zone = match.volunteer_family.timezone
    group = (match.programme_id, match.region, zone)
    if group not in known:
        first, last = now.date() - timedelta(days=400), now.date() + timedelta(days=400)
        # The planner alone stores the rule's sessions, so invitations can name them.
        materialise(
            session, match.programme_id, sparring_dates(programme, first, last, ZoneInfo(zone))
        )
        known[group] = sparring_window(
            session, match.programme_id, match.region, programme, ZoneInfo(zone), first, last
        )
    return known[group]


@dataclass
class _Existing:
    """What a chunk's matches have already, by match and key: pending rows and rows the planner
    itself cancelled earlier (as plain rows, see :func:`scheduler.outbox.replannable`: a
    re-planned match has a dozen or two, and ORM objects for all of them cost more than
    planning the match), and open tasks."""

    pending: dict[int, dict[str, Row[Any]]]
    revivable: dict[int, dict[str, Row[Any]]]
    open_tasks: dict[int, dict[str, Task]]

    @classmethod
    def read(cls, session: Session, ids: list[int]) -> _Existing:
        existing = cls({i: {} for i in ids}, {i: {} for i in ids}, {i: {} for i in ids})
        for row in outbox.replannable(session.connection(), ids):
            target = existing.pending if outbox.is_pending(row) else existing.revivable
            target[row.match_id or 0][row.idempotency_key] = row
        for task in session.scalars(
            select(Task).where(Task.match_id.in_(ids), Task.status == TaskStatus.OPEN)
        ):
            if task.idempotency_key:
                existing.open_tasks[task.match_id or 0][task.idempotency_key] = task
        return existing


@dataclass
class _Chunk:
    """What planning a chunk of matches changes, written at its end."""

    session: Session
    now: datetime
    cache: PassCache
    existing: _Existing
    new_messages: list[tuple[Any, ...]] = field(default_factory=list)
    unreachable: list[tuple[str, Want]] = field(default_factory=list)
    new_tasks: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)  # pending rows' id, new values
    planned: list[MatchRow] = field(default_factory=list)
    # One creation time for the chunk's new rows: with every column given, the insert takes
    # its fast path (see insert_ignore).
    created: datetime = field(default_factory=utcnow)

    def messages(self, match_id: int, desired: Desired, stats: PlanStats) -> None:
        wanted = desired.messages
        in_plan = set(wanted)
        for key, row in self.existing.pending[match_id].items():
            want = wanted.pop(key, None)
            if want is None and outbox.original_key(key) in in_plan:
                continue  # a fallback belongs to its original occurrence: kept as it is
            if want is None:
                self.changed.append(outbox.changes(row, outbox.CANCEL_NOT_IN_PLAN))
                stats.cancelled += 1
            elif (row.due_at, row.channel, row.expires_at) != (
                want.template.values["due_at"],
                want.template.values["channel"],
                want.template.values["expires_at"],
            ):
                self.changed.append(outbox.changes(row, want.values()))
                stats.updated += 1
        for key, row in self.existing.revivable[match_id].items():
            want = wanted.pop(key, None)
            if want is not None:
                self.changed.append(outbox.changes(row, want.values()))
                stats.added += 1
        stored_created = self.cache.rows.convert("created_at", self.created)
        for key, want in wanted.items():
            self.new_messages.append(
                (
                    want.template.converted,
                    key,
                    want.match_id,
                    want.recipient_id,
                    want.plan_version,
                    stored_created,
                    stored_created,
                )
            )
            if want.template.values["status"] is OutboxStatus.FAILED:
                self.unreachable.append((key, want))

    def tasks(self, match_id: int, desired: Desired, stats: PlanStats) -> None:
        for key, task in self.existing.open_tasks[match_id].items():
            wanted = desired.tasks.pop(key, None)
            if wanted is None:
                if task.due_at > self.now:
                    task.status = TaskStatus.CANCELLED
                    task.outcome_note = NOT_IN_PLAN
                    stats.tasks_cancelled += 1
            elif task.due_at != wanted["due_at"]:
                task.due_at = wanted["due_at"]
        self.new_tasks.extend(desired.tasks.values())


def _escalate_unreachable(
    session: Session,
    matches: list[MatchRow],
    wants: list[tuple[str, Want]],
    now: datetime,
    report: ReportProblem,
) -> None:
    """A message with no usable address reaches staff once, when its row is first created."""
    failed = {key: want.values() for key, want in wants}
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
        match = by_id.get(row["match_id"])
        report(
            session,
            cast(Match | None, match),  # it has the attributes read (id, staff_id)
            "delivery_failed",
            now=now,
            evidence={
                "touchpoint": row["touchpoint_id"],
                "audience": row["audience"].value,
                "error": N_("no usable address"),
            },
            suggested_action=N_("Add a phone number or an email address, or link Telegram."),
        )
