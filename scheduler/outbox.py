"""The outbox: the one owner of outbox rows.

Every outbox row is inserted here, every idempotency key is built here, and every change of a
row's status is made here: the claim (``planned -> sending``), sent, delivered, failed,
expired, cancelled, unknown, a retry or deferral back to ``planned``, a fallback row on another
channel, and what a provider's receipt says. The planner, the dispatcher, the domain (alerts,
digests, sparring reminders, surveys, erasure) and the web's receipt handlers call these
functions; ``tests/test_outbox.py`` fails if any other module writes a status or inserts a row.

Idempotency keys are stored data: their formats never change, or a database planned before
would get every message twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any, Literal, NamedTuple, cast

from sqlalchemy import Connection, Dialect, Row, String, Table, bindparam, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from scheduler.channels.base import ChannelError
from scheduler.channels.errors import permanent_twilio_error
from scheduler.i18n import N_
from store.models import OutboxMessage, OutboxStatus, utcnow
from store.queries import RowInserter, insert_ignore, select_for_ids

_OUTBOX = cast(Table, OutboxMessage.__table__)
KEY = "idempotency_key"

NOT_IN_PLAN = N_("no longer in the plan")
EXPIRED = N_("expired before it could be sent")
IN_DOUBT = N_("the sending process stopped mid-send; not re-sent to avoid a duplicate")
ACKNOWLEDGED = "acknowledged"
MAX_FALLBACKS = 3

# -- idempotency keys ---------------------------------------------------------------------------


def key_for_touchpoint(
    match_id: int, touchpoint_id: str, occurrence: str, audience: str, recipient_id: int
) -> str:
    """A planned message: match, touchpoint, occurrence (``:r1``, ``:announce``), recipient."""
    head, tail = touchpoint_key_affixes(match_id, audience, recipient_id)
    return f"{head}{touchpoint_id}:{occurrence}{tail}"


def touchpoint_key_affixes(match_id: int, audience: str, recipient_id: int) -> tuple[str, str]:
    """What :func:`key_for_touchpoint` puts before and after ``touchpoint:occurrence``.

    For the planner's hot loop (a key per row), which adds the middle itself."""
    return f"m{match_id}:", f":{audience[0]}{recipient_id}"


def key_for_fallback(key: str, channel: str) -> str:
    """The same message again on another channel."""
    return f"{key}:fb-{channel}"[:200]


def original_key(key: str) -> str:
    """The key of the message a fallback (or a fallback's fallback) stands in for."""
    return key.split(":fb-", 1)[0]


def fallbacks_in(key: str) -> int:
    return key.count(":fb-")


def key_for_sparring_reminder(session_id: int, family_id: int) -> str:
    return f"{sparring_reminder_prefix(session_id)}v{family_id}"


def sparring_reminder_prefix(session_id: int) -> str:
    """What every reminder key of one sparring session starts with."""
    return f"sparring:s{session_id}:reminder:"


def family_of_sparring_reminder(key: str) -> int:
    return int(key.rsplit(":v", 1)[1])


def key_for_waiting_note(party: str, since: date, number: int) -> str:
    """The ``number``th note to a party on the waiting list (``f12``: volunteer family 12;
    ``r3c7``: referral 3's contact person 7) in the spell of waiting that began on ``since``."""
    return f"wait:{party}:{since.isoformat()}:{number}"


def key_for_digest(staff_id: int, day: date, channel: str) -> str:
    return f"digest:{staff_id}:{day.isoformat()}:{channel}"


def key_for_login_link(staff_id: int, nonce: str) -> str:
    return f"login:{staff_id}:{nonce}"


def key_for_moment(moment_id: int, contact_id: int) -> str:
    """A volunteer family's moment (greeting, photo) to one contact person."""
    return f"moment:{moment_id}:c{contact_id}"


def key_for_alert(escalation_id: int, level: int, staff_id: int, channel: str) -> str:
    return f"esc{escalation_id}:l{level}:s{staff_id}:{channel}"


def key_for_alert_group(
    escalation_ids: Sequence[int], staff_id: int, channel: str, reminder: int = 0
) -> str:
    """The key of one message about several cases (at most ten ids: under 200 characters); a
    group of reminders (``reminder`` > 0) has its own."""
    again = f":r{reminder}" if reminder else ""
    return f"grp{'-'.join(str(i) for i in escalation_ids)}{again}:s{staff_id}:{channel}"


def alert_group_occurrence(escalation_ids: Sequence[int]) -> str:
    return f"g{escalation_ids[0]}+{len(escalation_ids) - 1}"


def alert_occurrence(escalation_id: int, level: int) -> str:
    """An alert row's occurrence key (found again by :func:`cancel_pending_alerts`)."""
    return f"{escalation_id}:{level}"


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
    return {**values, "status": status, "last_error": error}


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
    renewed by :func:`renew` while it is in flight.
    """
    conditions = [
        OutboxMessage.status == OutboxStatus.PLANNED,
        OutboxMessage.due_at <= now,
        or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
    ]
    if channel is not None:
        conditions.append(OutboxMessage.channel == channel)
    due = (
        select(OutboxMessage.id)
        .where(*conditions)
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
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


# -- provider receipts --------------------------------------------------------------------------

_FAILED_RECEIPTS = {"undelivered", "failed", "busy", "no-answer", "canceled"}
_UNANSWERED_CALLS = {"busy", "no-answer", "failed", "canceled"}


class Receipt(NamedTuple):
    """What a receipt did: ``delivered``; ``unanswered`` (an automated call nobody took: a call
    for the staff member); ``failed`` with ``error`` classified as the channel classifies the
    same code when it sends (permanent: the address will never work); ``ignored`` (progress
    such as ``queued`` or ``sent``)."""

    outcome: Literal["delivered", "unanswered", "failed", "ignored"]
    error: ChannelError | None = None


def by_provider_id(session: Session, provider_id: str) -> OutboxMessage | None:
    return session.scalars(
        select(OutboxMessage).where(OutboxMessage.provider_id == provider_id)
    ).first()


def apply_receipt(row: OutboxMessage, status: str, code: str, now: datetime) -> Receipt:
    """Apply a Twilio status callback (``MessageStatus`` or ``CallStatus``, ``ErrorCode``)."""
    voice = row.channel.value == "voice"
    if status == "delivered" or (status == "completed" and voice):
        row.status = OutboxStatus.DELIVERED
        row.delivered_at = now
        return Receipt("delivered")
    if voice and status in _UNANSWERED_CALLS:
        fail(row, f"call {status}")
        return Receipt("unanswered")
    if status not in _FAILED_RECEIPTS:
        return Receipt("ignored")
    fail(row, f"provider reported {status}" + (f" (code {code})" if code else ""))
    error = permanent_twilio_error(code, "call" if voice else "message") if code else None
    if error is None:
        error = ChannelError(row.last_error or status, permanent=False, code=code or None)
    return Receipt("failed", error)


def record_answer(row: OutboxMessage, digits: str, now: datetime) -> None:
    """The digit pressed in an automated call (no change of status: the call was delivered)."""
    row.context = {**(row.context or {}), "answer": digits, "answered_at": now.isoformat()}


# -- what staff do to one message (the web app's outbox page) -----------------------------------

# The context key under which a staff member's own changes to a planned row are kept: the text
# they wrote instead of the template's, the time they set. Re-planning keeps them.
STAFF = "staff"
CANCELLED_BY_STAFF = N_("cancelled by staff")
TEXT_MAX = 1600


class NotPlanned(ValueError):
    """Only a message still planned can be changed; the message says what it is now."""


def _planned(row: OutboxMessage) -> None:
    if row.status != OutboxStatus.PLANNED:
        raise NotPlanned(f"the message is {row.status.value}, no longer planned")


def _staff_change(row: OutboxMessage, staff_id: int, now: datetime, **values: Any) -> None:
    own = dict((row.context or {}).get(STAFF) or {})
    own.update(values, by=staff_id, at=now.isoformat())
    row.context = {**(row.context or {}), STAFF: own}


def staff_text(row: OutboxMessage) -> str | None:
    """The text a staff member wrote for this message instead of the template's, if any."""
    own = (row.context or {}).get(STAFF) or {}
    text = own.get("text")
    return str(text) if text else None


def edit_text(row: OutboxMessage, text: str, staff_id: int, now: datetime) -> None:
    """Send ``text`` instead of the rendered template (empty: back to the template)."""
    _planned(row)
    cleaned = text.replace("\r\n", "\n").strip()[:TEXT_MAX]
    _staff_change(row, staff_id, now, text=cleaned or None)


def reschedule(row: OutboxMessage, when: datetime, staff_id: int, now: datetime) -> None:
    """Send at ``when`` instead (still within quiet hours' rules when it is sent)."""
    _planned(row)
    if when < now - timedelta(minutes=1):
        raise NotPlanned(N_("the new time is in the past"))
    row.due_at = when
    row.next_attempt_at = None
    if row.expires_at is not None and row.expires_at <= when:
        row.expires_at = when + timedelta(days=1)
    _staff_change(row, staff_id, now, due_at=when.isoformat())


def send_now(row: OutboxMessage, staff_id: int, now: datetime) -> None:
    """Due at once: the next dispatch takes it (a channel's quiet hours still hold)."""
    reschedule(row, now, staff_id, now)


def cancel_by_staff(row: OutboxMessage, staff_id: int, now: datetime) -> None:
    _planned(row)
    _staff_change(row, staff_id, now, cancelled=True)
    cancel(row, CANCELLED_BY_STAFF)
