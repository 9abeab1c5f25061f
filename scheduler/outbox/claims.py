"""The dispatcher's side of the outbox: claim due rows, renew or release a claim, hold one in
doubt after a crash, and every outcome of a send (sent, cancelled, failed, unknown, retried,
expired, deferred)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from scheduler.outbox.base import _OUTBOX, ACKNOWLEDGED, EXPIRED, IN_DOUBT, ROUTINE, URGENT
from store.models import OutboxMessage, OutboxStatus, utcnow

# -- the dispatcher's claim and its outcomes ----------------------------------------------------


class InDoubt(NamedTuple):
    """A row a dead process left ``sending``, now held by this worker to ask the provider."""

    row_id: int
    channel: str
    audience: str
    match_id: int | None
    recipient_id: int
    body: str
    since: datetime
    """The earliest the send can have begun (its last claim moment less the lease)."""


def remember_text(session: Session, texts: Iterable[tuple[int, str]]) -> None:
    """The text about to be sent (its links' secret parts left out), stored before sending, so
    that after a crash the provider can be asked whether it went out."""
    params = [{"id": row_id, "body": body} for row_id, body in texts]
    if params:
        session.execute(update(OutboxMessage), params)


def hold_in_doubt(
    session: Session, now: datetime, lease: timedelta, worker_id: str, channels: Iterable[str]
) -> list[InDoubt]:
    """Rows left ``sending`` past the lease on a channel whose provider can be asked, with their
    text stored: this worker takes them over (they stay ``sending``) to ask before deciding."""
    channels = list(channels)
    if not channels:
        return []
    rows = list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.SENDING,
                OutboxMessage.claimed_at < now - lease,
                OutboxMessage.channel.in_(channels),
                OutboxMessage.body.is_not(None),
            )
            .with_for_update(skip_locked=True)
        )
    )
    held = []
    for row in rows:
        claimed = row.claimed_at or now
        held.append(
            InDoubt(
                row.id,
                row.channel.value,
                row.audience.value,
                row.match_id,
                row.recipient_id,
                row.body or "",
                claimed - lease,
            )
        )
        row.claimed_at, row.claimed_by = now, worker_id[:64]
    return held


def recover_stale(session: Session, now: datetime, lease: timedelta) -> list[OutboxMessage]:
    """Rows left ``sending`` past the lease, now ``unknown``: they may or may not have gone."""
    stale = list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.SENDING,
                OutboxMessage.claimed_at < now - lease,
            )
            .with_for_update(skip_locked=True)
        )
    )
    for row in stale:
        mark_unknown(row, IN_DOUBT)
    return stale


def expire_due(session: Session, now: datetime) -> list[OutboxMessage]:
    """Planned rows past their expiry become ``expired``; returns them (the caller tells staff
    of the essential ones)."""
    rows = list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.PLANNED,
                OutboxMessage.expires_at.is_not(None),
                OutboxMessage.expires_at <= now,
            )
            # Replicas never expire (and report) the same row twice; SQLite ignores this.
            .with_for_update(skip_locked=True)
        )
    )
    for row in rows:
        expire(row, EXPIRED)
        row.updated_at = now
    return rows


def claim_due(
    session: Session,
    now: datetime,
    worker_id: str,
    limit: int,
    channel: str | None = None,
    claimed_at: datetime | None = None,
) -> list[int]:
    """Atomically move at most ``limit`` due rows (of ``channel``, if given) to ``sending``;
    return their ids. Commit before sending: that is what makes delivery at most once.

    The due rows are picked in a CTE that PostgreSQL materialises (``FOR UPDATE SKIP LOCKED``,
    evaluated once): as a plain ``IN (subquery)`` its planner may re-run the subquery for every
    outer row and claim many times the limit. ``claimed_at`` is the row's own claim moment,
    renewed by :func:`renew` while it is in flight. Urgent rows (:data:`URGENT_KINDS`) come
    first, then the longest due.
    """
    conditions = [
        OutboxMessage.status == OutboxStatus.PLANNED,
        OutboxMessage.due_at <= now,
        or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
    ]
    if session.get_bind().dialect.name == "sqlite":
        # Named, so SQLite searches the claim index one priority at a time from the longest due
        # row, in order, instead of scanning every planned row, future ones too. (PostgreSQL
        # walks the index in order as it is; a list there would make it sort every due row.)
        conditions.append(OutboxMessage.priority.in_((URGENT, ROUTINE)))
    if channel is not None:
        conditions.append(OutboxMessage.channel == channel)
    due = (
        select(OutboxMessage.id)
        .where(*conditions)
        .order_by(OutboxMessage.priority, OutboxMessage.due_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.prefix_with("MATERIALIZED")
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(select(due.c.id)))
        .where(OutboxMessage.status == OutboxStatus.PLANNED)
        .values(
            status=OutboxStatus.SENDING,
            claimed_by=worker_id[:64],
            claimed_at=claimed_at or now,
            attempts=OutboxMessage.attempts + 1,
            updated_at=now,
        )
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return [row[0] for row in result]


def renew(session: Session, ids: Iterable[int], worker_id: str, at: datetime) -> None:
    """Renew the lease of rows this worker still has in flight."""
    ids = list(ids)
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.status == OutboxStatus.SENDING,
                OutboxMessage.claimed_by == worker_id[:64],
            )
            .values(claimed_at=at)
            .execution_options(synchronize_session=False)
        )


def release(session: Session, ids: Iterable[int], worker_id: str) -> int:
    """Claimed rows that were never handed to a provider (a stop): back to ``planned``, the
    attempt not counted. Returns how many."""
    ids = list(ids)
    if not ids:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.claimed_by == worker_id[:64],
        )
        .values(
            status=OutboxStatus.PLANNED,
            claimed_by=None,
            claimed_at=None,
            attempts=OutboxMessage.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


class Sent(NamedTuple):
    """One message the provider took, as recorded by :func:`mark_sent`."""

    row_id: int
    provider_id: str | None
    segments: int | None
    sandbox: bool
    latency_ms: int
    body: str
    subject: str | None


# Marks one sent message; executed with a list of parameter sets (the keys name the columns).
_MARK_SENT = update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id"))


def mark_sent(session: Session, sent: Iterable[Sent], now: datetime) -> None:
    """Record sent messages with one executemany UPDATE (not an ORM flush per row)."""
    touched = utcnow()
    params = [
        {
            **s._asdict(),
            "status": OutboxStatus.SENT,
            "sent_at": now,
            "last_error": None,
            "updated_at": touched,
        }
        for s in sent
    ]
    if params:
        session.execute(_MARK_SENT, params)


def _set(row: OutboxMessage, status: OutboxStatus, reason: str | None) -> None:
    row.status = status
    row.last_error = reason[:500] if reason else None


def cancel(row: OutboxMessage, reason: str) -> None:
    _set(row, OutboxStatus.CANCELLED, reason)


def fail(row: OutboxMessage, reason: str | None) -> None:
    _set(row, OutboxStatus.FAILED, reason)


def mark_unknown(row: OutboxMessage, reason: str) -> None:
    """It may or may not have been sent: never sent again, staff decide."""
    _set(row, OutboxStatus.UNKNOWN, reason)


def retry(row: OutboxMessage, at: datetime) -> None:
    """Back to ``planned`` for another attempt at ``at`` (the error stays as the last one)."""
    row.status = OutboxStatus.PLANNED
    row.next_attempt_at = at


def expire(row: OutboxMessage, reason: str) -> None:
    """Not sent before its expiry (the provider could not be reached in time)."""
    _set(row, OutboxStatus.EXPIRED, reason)


def defer(row: OutboxMessage, until: datetime) -> None:
    """Back to ``planned`` until ``until`` (quiet hours) without using up an attempt."""
    row.status = OutboxStatus.PLANNED
    row.due_at = until
    row.attempts = max(row.attempts - 1, 0)


def revive(row: OutboxMessage) -> None:
    """A cancelled row planned again."""
    _set(row, OutboxStatus.PLANNED, None)


def cancel_planned_where(session: Session, condition: Any, reason: str) -> int:
    """Cancel every planned row that meets ``condition`` (a SQL expression); returns how many."""
    result = session.execute(
        update(OutboxMessage)
        .where(condition, OutboxMessage.status == OutboxStatus.PLANNED)
        .values(status=OutboxStatus.CANCELLED, last_error=reason)
    )
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


def clear_text(session: Session, condition: Any, error: str | None = None) -> int:
    """Forget the text of the rows that meet ``condition`` (a SQL expression): body and subject,
    and with ``error`` the provider's last error too (replaced by it: an error may quote the
    address). Channel, status and dates stay. Returns how many rows had a text."""
    result = session.execute(
        update(OutboxMessage)
        .where(condition, or_(OutboxMessage.body.is_not(None), OutboxMessage.subject.is_not(None)))
        .values(body=None, subject=None)
    )
    if error is not None:
        session.execute(
            update(OutboxMessage)
            .where(condition, OutboxMessage.last_error.is_not(None))
            .values(last_error=error)
        )
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


def cancel_pending_alerts(session: Session, escalation_id: int, reason: str = ACKNOWLEDGED) -> None:
    """The escalation's alerts not sent yet: cancelled (it was acknowledged or resolved)."""
    for row in session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.kind == "alert",
            OutboxMessage.status == OutboxStatus.PLANNED,
            OutboxMessage.occurrence_key.like(f"{escalation_id}:%"),
        )
    ):
        cancel(row, reason)
