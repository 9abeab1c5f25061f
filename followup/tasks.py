"""Staff tasks: calls, child visits, agreements, invoice reminders. Each has an owner, a due date
and an outcome (done, not reached, rescheduled) with a note."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.refused import Refused
from followup.said import said
from store.audit import record
from store.models import Task, TaskStatus
from store.validation import strip_controls

OUTCOMES = {
    "done": TaskStatus.DONE,
    "not_reached": TaskStatus.NOT_REACHED,
    "rescheduled": TaskStatus.RESCHEDULED,
}


class TaskError(Refused):
    """The task cannot take that outcome; the message says why."""


def open_tasks(
    session: Session, owner_id: int | None = None, until: datetime | None = None
) -> list[Task]:
    query = select(Task).where(Task.status == TaskStatus.OPEN).order_by(Task.due_at, Task.id)
    if owner_id is not None:
        query = query.where(Task.owner_id == owner_id)
    if until is not None:
        query = query.where(Task.due_at <= until)
    return list(session.scalars(query))


def complete(
    session: Session,
    task_id: int,
    outcome: str,
    note: str,
    now: datetime,
    actor: str = "cli",
    reschedule_to: datetime | None = None,
) -> Task:
    """Record the outcome. "not_reached" and "rescheduled" leave a new open task behind, so the
    call still happens (tomorrow, or at the new time)."""
    task = session.get(Task, task_id)
    if task is None:
        raise TaskError(said("there is no task %(id)s", id=task_id))
    if task.status != TaskStatus.OPEN:
        raise TaskError(said("task %(id)s is already closed", id=task_id))
    if outcome not in OUTCOMES:
        raise TaskError(said("the outcome must be one of %(outcomes)s", outcomes=tuple(OUTCOMES)))
    if outcome == "rescheduled" and reschedule_to is None:
        raise TaskError(said("a rescheduled task needs the new time"))
    task.status = OUTCOMES[outcome]
    task.outcome_note = strip_controls(note).strip()[:2000] or None
    task.completed_at = now
    if outcome != "done":
        from datetime import timedelta

        follow = Task(
            match_id=task.match_id,
            touchpoint_id=task.touchpoint_id,
            kind=task.kind,
            title=task.title,
            owner_id=task.owner_id,
            due_at=reschedule_to or now + timedelta(days=1),
        )
        session.add(follow)
    session.flush()
    record(session, actor, f"task.{outcome}", "task", task.id)
    return task


def call_back_task(
    session: Session,
    match_id: int | None,
    owner_id: int | None,
    title: str,
    now: datetime,
    key: str,
) -> Task | None:
    """A call task for a staff member, once per ``key`` (e.g. one per voice check-in)."""
    existing = session.scalars(select(Task).where(Task.idempotency_key == key)).first()
    if existing is not None:
        return None
    task = Task(
        idempotency_key=key,
        match_id=match_id,
        kind="call",
        title=title[:200],
        owner_id=owner_id,
        due_at=now,
    )
    session.add(task)
    session.flush()
    return task
