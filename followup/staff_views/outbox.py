"""The messages of the matches a staff member may see: what is coming and what went."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from followup.staff_auth import visible
from followup.yearplan import label, title_variables
from scheduler.programme import Kind, Programme
from store.models import Audience, Match, OutboxMessage, OutboxStatus, Staff

# -- the outbox -----------------------------------------------------------------------------------

UPCOMING = (OutboxStatus.PLANNED, OutboxStatus.SENDING)
HISTORY = (
    OutboxStatus.SENT,
    OutboxStatus.DELIVERED,
    OutboxStatus.FAILED,
    OutboxStatus.EXPIRED,
    OutboxStatus.CANCELLED,
    OutboxStatus.UNKNOWN,
)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    match_id: int
    child: str
    family: str
    what: str
    day: date | None  # the visit a visit prompt asks about
    audience: str
    channel: str
    due_at: datetime
    status: str
    reason: str
    edited: bool
    sent_at: datetime | None
    delivered_at: datetime | None


def outbox_rows(
    session: Session,
    staff: Staff,
    programmes: Mapping[str, Programme],
    *,
    history: bool = False,
    match_id: int | None = None,
    channel: str = "",
    search: str = "",
    limit: int = 100,
) -> list[OutboxRow]:
    """Messages to families and parents of the matches the staff member may see: upcoming ones
    soonest first, or the history newest first. ``search`` looks in what the message is, the
    child's first name and the family's name."""
    query = (
        select(OutboxMessage, Match)
        .join(Match, Match.id == OutboxMessage.match_id)
        .where(
            visible(staff),
            OutboxMessage.audience != Audience.STAFF,
            OutboxMessage.status.in_(HISTORY if history else UPCOMING),
        )
        .options(
            joinedload(Match.child), joinedload(Match.volunteer_family), joinedload(Match.programme)
        )
    )
    if match_id is not None:
        query = query.where(OutboxMessage.match_id == match_id)
    if channel:
        query = query.where(OutboxMessage.channel == channel)
    order = OutboxMessage.due_at.desc() if history else OutboxMessage.due_at
    query = query.order_by(order, OutboxMessage.id)
    needle = search.strip().lower()
    rows: list[OutboxRow] = []
    # A search looks further than one page, but never through everything.
    for message, match in session.execute(query.limit(limit * 5 if needle else limit)):
        row = outbox_row(message, match, programmes, staff.locale.value)
        if needle and not any(needle in text.lower() for text in (row.what, row.child, row.family)):
            continue
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows


def outbox_row(
    message: OutboxMessage, match: Match, programmes: Mapping[str, Programme], locale: str
) -> OutboxRow:
    programme = programmes.get(match.programme.slug)
    what = message.touchpoint_id
    if programme is not None:
        try:
            tp = programme.touchpoint(message.touchpoint_id)
        except (KeyError, LookupError, ValueError):
            tp = None
        if tp is not None:
            what = label(tp, locale, title_variables(match.sibling, match.child.first_name))
    day = None
    if message.occurrence_key and message.kind == Kind.VISIT_PROMPT.value:
        try:
            day = date.fromisoformat(message.occurrence_key[:10])
        except ValueError:
            day = None
    context = message.context or {}
    return OutboxRow(
        id=message.id,
        match_id=match.id,
        child=match.child.first_name,
        family=match.volunteer_family.name,
        what=what,
        day=day,
        audience=message.audience.value,
        channel=message.channel.value,
        due_at=message.due_at,
        status=message.status.value,
        reason=message.last_error or "" if message.status != OutboxStatus.PLANNED else "",
        edited=bool((context.get("staff") or {}).get("text")),
        sent_at=message.sent_at,
        delivered_at=message.delivered_at,
    )
