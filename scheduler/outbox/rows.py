"""New outbox rows (inserted once per key; a fallback on another channel) and re-planning: which
planned rows a match's new plan changes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, Dialect, Row, String, bindparam, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from scheduler.outbox.base import (
    _OUTBOX,
    EXPIRED,
    KEY,
    MAX_FALLBACKS,
    NOT_IN_PLAN,
    URGENT,
    URGENT_KINDS,
)
from scheduler.outbox.keys import fallbacks_in, key_for_fallback
from scheduler.outbox.staff import STAFF
from store.models import OutboxMessage, OutboxStatus
from store.queries import RowInserter, insert_ignore, select_for_ids

# -- new rows -----------------------------------------------------------------------------------


def new_row(
    values: Mapping[str, Any], *, unreachable: str | None = None, expired: bool = False
) -> dict[str, Any]:
    """A new row's values with its first status: planned, or failed for ``unreachable`` (the
    reason: nobody to send it to), or expired if it is too late already."""
    status, error = OutboxStatus.PLANNED, values.get("last_error")
    if unreachable is not None:
        status, error = OutboxStatus.FAILED, unreachable
    elif expired:
        status, error = OutboxStatus.EXPIRED, EXPIRED
    row = {**values, "status": status, "last_error": error}
    if values.get("kind") in URGENT_KINDS:
        row["priority"] = URGENT  # the column's default is ROUTINE
    return row


def insert(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows made by :func:`new_row`, skipping keys that exist; returns how many were new."""
    return insert_ignore(session, OutboxMessage, [dict(row) for row in rows], KEY)


class PlannedRows:
    """The planner's bulk insert (see :class:`store.queries.RowInserter`): a row is a tuple of a
    template, the values shared by every recipient of a profile converted once (:meth:`template`
    of the :data:`SHARED` columns), and then the row's own values in the order of
    :data:`PER_ROW`."""

    PER_ROW = (KEY, "match_id", "recipient_id", "plan_version", "created_at", "updated_at")
    SHARED = (
        "touchpoint_id",
        "occurrence_key",
        "kind",
        "template",
        "audience",
        "channel",
        "locale",
        "essential",
        "due_at",
        "expires_at",
        "status",
        "context",
        "last_error",
    )

    def __init__(self, dialect: Dialect) -> None:
        self._inserter = RowInserter(dialect, _OUTBOX, list(self.SHARED), list(self.PER_ROW), KEY)
        # Keys, ids and versions go to the driver as they are (see the planner's plan_batch).
        assert not any(map(self._inserter.needs_conversion, self.PER_ROW[:4]))

    def template(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return self._inserter.template(values)

    def convert(self, name: str, value: Any) -> Any:
        return self._inserter.convert(name, value)

    def insert(self, connection: Connection, rows: list[tuple[Any, ...]]) -> int:
        return self._inserter.run(connection, rows)


def queue_fallback(
    session: Session, row: OutboxMessage, channel: str, due_at: datetime, reason: str
) -> int:
    """Queue ``row``'s message again on ``channel``; returns 1 if it was new. Not after
    :data:`MAX_FALLBACKS` fallbacks of the same message."""
    if fallbacks_in(row.idempotency_key) >= MAX_FALLBACKS:
        return 0
    values = {name: getattr(row, name) for name in _COPIED}
    values[KEY] = key_for_fallback(row.idempotency_key, channel)
    values["channel"] = channel
    values["due_at"] = due_at
    values["last_error"] = f"fallback after {row.channel.value}: {reason}"[:500]
    return insert(session, [new_row(values)])


_COPIED = (
    *("match_id", "touchpoint_id", "occurrence_key", "kind", "template", "audience"),
    *("recipient_id", "locale", "essential", "expires_at", "plan_version", "context"),
)

# -- re-planning --------------------------------------------------------------------------------

# What re-planning may change in a pending row.
REPLANNED = ("due_at", "expires_at", "channel", "status", "plan_version", "context", "last_error")
CANCEL_NOT_IN_PLAN: Mapping[str, Any] = {
    "status": OutboxStatus.CANCELLED,
    "last_error": NOT_IN_PLAN,
}


def replannable(connection: Connection, match_ids: list[int]) -> Iterator[Row[Any]]:
    """The matches' pending rows, and those the planner itself cancelled (a resumed pause or a
    date corrected back brings them back; their keys are taken), as plain rows of the columns
    re-planning compares and changes (:data:`REPLANNED`)."""
    # The status compared as text: SQLite has no statistics to go by and would walk the
    # (status, due_at) index, every planned row of every match once per chunk, instead of
    # looking up these matches' rows by match_id. On PostgreSQL select_for_ids probes the
    # match_id index per match, whatever the statistics say: during a first pass the table
    # grows by a million rows that no ANALYZE has seen yet.
    status = sql_cast(OutboxMessage.status, String)
    query = select(
        OutboxMessage.id,
        OutboxMessage.match_id,
        OutboxMessage.idempotency_key,
        *(getattr(OutboxMessage, name) for name in REPLANNED),
    ).where(
        or_(
            status == OutboxStatus.PLANNED.value,
            (status == OutboxStatus.CANCELLED.value) & (OutboxMessage.last_error == NOT_IN_PLAN),
        ),
        # Staff alerts and a family's greetings to the parent are the follow-up's, not the
        # timeline's: re-planning leaves them alone.
        OutboxMessage.kind.not_in(("alert", "moment")),
    )
    yield from select_for_ids(connection, query, OutboxMessage.match_id, match_ids)


def is_pending(row: Row[Any] | OutboxMessage) -> bool:
    return bool(row.status == OutboxStatus.PLANNED)


def changes(row: Row[Any], want: Mapping[str, Any]) -> dict[str, Any]:
    """The row's id and status as read, and the values in ``want`` that differ from the row's
    (as the ORM would write them: only what changed). What a staff member set by hand (the
    text, the time: :data:`STAFF`) stays."""
    wanted = {name: want[name] for name in REPLANNED if name in want}
    own = (row.context or {}).get(STAFF) if isinstance(row.context, dict) else None
    if own:
        if "context" in wanted:
            wanted["context"] = {**(wanted["context"] or {}), STAFF: own}
        if own.get("due_at"):
            wanted.pop("due_at", None)
    return {
        "id": row.id,
        "was": row.status,
        **{name: value for name, value in wanted.items() if getattr(row, name) != value},
    }


def apply_changes(session: Session, changed: list[dict[str, Any]]) -> None:
    """Write :func:`changes`: one executemany per set of changed columns.

    Only rows still in the status they were read in: a dispatcher may have claimed one since
    (PostgreSQL reads without locks), and what it is sending is not the planner's to change.
    """
    for names, group in groupby(sorted(changed, key=_changed_names), key=_changed_names):
        if not names:
            continue
        session.execute(
            update(_OUTBOX)
            .where(_OUTBOX.c.id == bindparam("b_id"), _OUTBOX.c.status == bindparam("b_was"))
            .values({name: bindparam(f"b_{name}") for name in names}),
            [{f"b_{name}": value for name, value in change.items()} for change in group],
        )


def _changed_names(change: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(name for name in change if name not in ("id", "was")))
