"""Sparring groups: sessions, who is invited, who is coming, and the day-before reminder.

Every session has a row in ``sparring_session``: staff add sessions by hand
(``venskab sparring add``), and the sessions a programme declares as a recurrence (e.g. the
first Tuesday of every other month) are materialised idempotently when the planner looks at
them (:func:`scheduler.facts.materialise`). With an id, an invitation can carry RSVP buttons naming its session.

Invitations are ordinary touchpoints (``kind: sparring_invite``, anchored on the session) and go
through the planner and the outbox. The reminder with the meeting link, the day before, goes to
those who said yes, through the outbox too (:func:`plan_reminders`, called on every tick).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from scheduler import outbox
from scheduler.i18n import N_
from scheduler.programme import Kind, Programme
from scheduler.recipients import family_recipient
from scheduler.rules import next_allowed
from scheduler.timeline import localize
from store.audit import record
from store.models import (
    RSVP,
    Audience,
    Match,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    SparringRSVP,
    SparringSession,
    VolunteerFamily,
)
from store.models import (
    Programme as ProgrammeRow,
)
from store.validation import strip_controls

REMINDER_AT = time(18, 0)  # local time, the day before the session
REMINDER_LOOKAHEAD = timedelta(days=2)
REMINDER_TOUCHPOINT = "sparring-reminder"
NO_LONGER_YES = N_("the family no longer said yes")  # an outbox row's reason


class SparringError(ValueError):
    """The session cannot take this answer ("gone", "past", "not_invited")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def add_session(
    session: Session,
    programme: ProgrammeRow,
    region: str,
    starts_at: datetime,
    meeting_link: str | None,
    note: str | None,
    actor: str,
) -> tuple[SparringSession, bool]:
    """Create a session, or update the link and note of the one at the same time and region.

    Returns (session, created). The programme's live matches in that region are re-planned, so
    their families are invited at the next tick.
    """
    starts_at = starts_at.astimezone(UTC)
    row = session.scalars(
        select(SparringSession).where(
            SparringSession.programme_id == programme.id,
            SparringSession.region == region,
            SparringSession.starts_at == starts_at,
        )
    ).first()
    created = row is None
    if row is None:
        row = SparringSession(programme_id=programme.id, region=region, starts_at=starts_at)
        session.add(row)
    if meeting_link is not None:
        row.meeting_link = meeting_link
    if note is not None:
        row.note = strip_controls(note).strip()[:300] or None
    session.flush()
    touched = update(Match).where(
        Match.programme_id == programme.id, Match.status != MatchStatus.ENDED
    )
    if region:
        touched = touched.where(Match.region == region)
    session.execute(
        touched.values(plan_version=Match.plan_version + 1).execution_options(
            synchronize_session=False
        )
    )
    record(
        session,
        actor,
        "sparring.add" if created else "sparring.update",
        "sparring_session",
        row.id,
        programme=programme.slug,
        region=region,
    )
    return row, created


def is_invited(match: Match, sparring_session: SparringSession) -> bool:
    """A match's family is invited to the sessions of its programme, in its region or for all."""
    return (
        match.status != MatchStatus.ENDED
        and sparring_session.programme_id == match.programme_id
        and sparring_session.region in ("", match.region)
    )


def record_rsvp(
    session: Session, match: Match, session_id: int, answer: RSVP, *, now: datetime, actor: str
) -> SparringRSVP:
    """The family's answer to an invitation; a later answer replaces an earlier one."""
    sparring_session = session.get(SparringSession, session_id)
    if sparring_session is None:
        raise SparringError("gone")
    if sparring_session.starts_at <= now:
        raise SparringError("past")
    if not is_invited(match, sparring_session):
        raise SparringError("not_invited")
    row = session.scalars(
        select(SparringRSVP).where(
            SparringRSVP.session_id == session_id,
            SparringRSVP.volunteer_family_id == match.volunteer_family_id,
        )
    ).first()
    if row is None:
        row = SparringRSVP(
            session_id=session_id, volunteer_family_id=match.volunteer_family_id, answer=answer
        )
        session.add(row)
    else:
        row.answer = answer
    session.flush()
    record(
        session,
        actor,
        "sparring.rsvp",
        "sparring_session",
        session_id,
        answer=answer.value,
        family=match.volunteer_family_id,
    )
    return row


def answers(session: Session, session_id: int) -> list[tuple[VolunteerFamily, RSVP]]:
    """Every answer to a session: yes first, then maybe, then no; by family name."""
    order = {RSVP.YES: 0, RSVP.MAYBE: 1, RSVP.NO: 2}
    rows = session.execute(
        select(VolunteerFamily, SparringRSVP.answer)
        .join(SparringRSVP, SparringRSVP.volunteer_family_id == VolunteerFamily.id)
        .where(SparringRSVP.session_id == session_id)
    ).all()
    result = [(family, answer) for family, answer in rows]
    result.sort(key=lambda item: (order[item[1]], item[0].name, item[0].id))
    return result


def plan_reminders(session: Session, programmes: Mapping[str, Programme], now: datetime) -> int:
    """Outbox rows for the day-before reminder (with the meeting link) to every family that said
    yes to a session starting within :data:`REMINDER_LOOKAHEAD`. Idempotent; a reminder not yet
    sent is cancelled when the family's answer changes from yes, and revived if it changes back.
    Returns the number of reminders added.
    """
    upcoming = list(
        session.scalars(
            select(SparringSession).where(
                SparringSession.starts_at > now,
                SparringSession.starts_at <= now + REMINDER_LOOKAHEAD,
            )
        )
    )
    if not upcoming:
        return 0
    new_rows: list[dict[str, Any]] = []
    for sparring_session in upcoming:
        coming = set(
            session.scalars(
                select(SparringRSVP.volunteer_family_id).where(
                    SparringRSVP.session_id == sparring_session.id,
                    SparringRSVP.answer == RSVP.YES,
                )
            )
        )
        existing = {
            row.idempotency_key: row
            for row in session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.idempotency_key.like(
                        f"{outbox.sparring_reminder_prefix(sparring_session.id)}%"
                    )
                )
            )
        }
        for key, row in existing.items():
            family_id = outbox.family_of_sparring_reminder(key)
            if row.status == OutboxStatus.PLANNED and family_id not in coming:
                outbox.cancel(row, NO_LONGER_YES)
            elif (
                row.status == OutboxStatus.CANCELLED
                and row.last_error == NO_LONGER_YES
                and family_id in coming
            ):
                outbox.revive(row)
        for family_id in sorted(coming):
            key = outbox.key_for_sparring_reminder(sparring_session.id, family_id)
            if key in existing:
                continue
            row_values = _reminder_row(session, programmes, sparring_session, family_id, key)
            if row_values is not None:
                new_rows.append(row_values)
    return outbox.insert(session, new_rows)


def _reminder_row(
    session: Session,
    programmes: Mapping[str, Programme],
    sparring_session: SparringSession,
    family_id: int,
    key: str,
) -> dict[str, Any] | None:
    family = session.get(VolunteerFamily, family_id)
    if family is None:
        return None
    query = (
        select(Match)
        .where(
            Match.volunteer_family_id == family_id,
            Match.programme_id == sparring_session.programme_id,
            Match.status != MatchStatus.ENDED,
        )
        .order_by(Match.id)
        .options(selectinload(Match.programme))
    )
    if sparring_session.region:
        query = query.where(Match.region == sparring_session.region)
    match = session.scalars(query).first()
    if match is None:
        return None
    programme = programmes.get(match.programme.slug)
    zone = ZoneInfo(family.timezone)
    local_start = sparring_session.starts_at.astimezone(zone)
    due = localize(datetime.combine(local_start.date() - timedelta(days=1), REMINDER_AT), zone)
    recipient = family_recipient(family)
    channel = recipient.choose(["telegram", "email", "sms"])
    error = None
    if channel is None:
        channel, error = "telegram", N_("no usable address")
    due_utc = due.astimezone(UTC)
    if programme is not None:
        due_utc = next_allowed(due_utc, channel, programme, zone)
    values = {
        "idempotency_key": key,
        "match_id": match.id,
        "touchpoint_id": REMINDER_TOUCHPOINT,
        "occurrence_key": local_start.date().isoformat(),
        "kind": Kind.MESSAGE.value,
        "template": "sparring_reminder",
        "audience": Audience.VOLUNTEER_FAMILY,
        "recipient_id": family.id,
        "channel": channel,
        "locale": family.locale,
        "essential": False,
        "due_at": due_utc,
        "expires_at": sparring_session.starts_at,
        "plan_version": match.plan_version,
        "context": {
            "session_id": sparring_session.id,
            "session_starts_at": local_start.isoformat(),
            "reminder": 0,
        },
        "last_error": None,
    }
    return outbox.new_row(values, unreachable=error)
