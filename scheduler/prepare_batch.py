"""What a batch is prepared with, each in one or two queries: the matches with their people,
the sparring sessions and visits the messages name, and the prompts already answered."""

from __future__ import annotations

import contextlib
import logging
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from store.models import (
    Audience,
    Match,
    OutboxMessage,
    OutboxStatus,
    SparringSession,
    Staff,
    SurveyInvitation,
    Visit,
)

log = logging.getLogger(__name__)


def batch_matches(session: Session, rows: list[OutboxMessage]) -> dict[int, Match]:
    """The batch's matches with everything rendering needs, in two queries at most.

    The relations to a single row come in the same query (joined); the contact persons, a
    collection, only when a message in the batch goes to one (resolving a volunteer family
    and the template context never touch them; anything else still loads them on access).
    """
    match_ids = {r.match_id for r in rows if r.match_id}
    if not match_ids:
        return {}
    options = [
        joinedload(Match.volunteer_family),
        joinedload(Match.child),
        joinedload(Match.staff),
        joinedload(Match.programme),
    ]
    if any(r.audience == Audience.CONTACT_PERSON for r in rows):
        options.append(selectinload(Match.contacts))
    query = select(Match).where(Match.id.in_(match_ids)).options(*options)
    return {m.id: m for m in session.scalars(query)}


def preload(session: Session, rows: list[OutboxMessage]) -> None:
    """Load the staff members and sparring sessions the batch refers to, one query each.

    The preparing loop then finds them with ``session.get`` in the identity map instead of
    querying once per message.
    """
    staff_ids = {r.recipient_id for r in rows if r.audience == Audience.STAFF}
    if staff_ids:
        session.scalars(select(Staff).where(Staff.id.in_(staff_ids))).all()
    session_ids: set[int] = set()
    for row in rows:
        session_id = (row.context or {}).get("session_id")
        if session_id:
            # A malformed id is left to the preparing loop, which fails on it as before.
            with contextlib.suppress(TypeError, ValueError):
                session_ids.add(int(session_id))
    if session_ids:
        session.scalars(select(SparringSession).where(SparringSession.id.in_(session_ids))).all()


def answered_prompts(session: Session, rows: list[OutboxMessage]) -> set[int]:
    """The ids of prompts and reminders whose question was answered meanwhile: not sent.

    Checked for the whole batch with one query per kind instead of one per message.
    """
    prompts: dict[int, tuple[int | None, date]] = {}
    reminders: dict[int, tuple[int | None, int, str, str]] = {}
    for row in rows:
        if row.kind == "visit_prompt":
            day = row.occurrence_key.split(":", 1)[0]
            with contextlib.suppress(ValueError):
                prompts[row.id] = (row.match_id, date.fromisoformat(day))
        elif row.kind == "survey" and int((row.context or {}).get("reminder", 0)) > 0:
            context = row.context or {}
            survey, wave = str(context.get("survey")), str(context.get("wave"))
            reminders[row.id] = (row.match_id, row.recipient_id, survey, wave)
    answered: set[int] = set()
    if prompts:
        match_ids = {m for m, _ in prompts.values() if m is not None}
        visits = select(Visit.match_id, Visit.planned_date).where(
            Visit.match_id.in_(match_ids),
            Visit.planned_date.in_({d for _, d in prompts.values()}),
        )
        reported = {tuple(row) for row in session.execute(visits)}
        answered.update(row_id for row_id, key in prompts.items() if key in reported)
    if reminders:
        match_ids = {key[0] for key in reminders.values() if key[0] is not None}
        invitations = select(
            SurveyInvitation.match_id,
            SurveyInvitation.contact_person_id,
            SurveyInvitation.survey_id,
            SurveyInvitation.wave,
        ).where(
            SurveyInvitation.match_id.in_(match_ids),
            SurveyInvitation.completed_at.is_not(None),
        )
        completed = {tuple(row) for row in session.execute(invitations)}
        answered.update(row_id for row_id, key in reminders.items() if key in completed)
    return answered


PromptKey = tuple[int | None, str, str, str, int | None]


def prompt_key(row: OutboxMessage) -> PromptKey | None:
    """For a reminder, the key of the prompt it follows (match, touchpoint, occurrence,
    audience, recipient); None for a message that is no reminder."""
    if int((row.context or {}).get("reminder") or 0) <= 0 or ":r" not in row.occurrence_key:
        return None
    occurrence = row.occurrence_key.rsplit(":r", 1)[0]
    return (row.match_id, row.touchpoint_id, occurrence, row.audience.value, row.recipient_id)


def prompts_of(
    session: Session, rows: list[OutboxMessage]
) -> dict[PromptKey, list[tuple[OutboxStatus, datetime | None, datetime]]]:
    """The prompts the batch's reminders follow (status, sent, due), with one query for the
    whole batch instead of one per reminder."""
    keys = {key for row in rows if (key := prompt_key(row)) is not None}
    found: dict[PromptKey, list[tuple[OutboxStatus, datetime | None, datetime]]] = {}
    if not keys:
        return found
    query = select(
        OutboxMessage.match_id,
        OutboxMessage.touchpoint_id,
        OutboxMessage.occurrence_key,
        OutboxMessage.audience,
        OutboxMessage.recipient_id,
        OutboxMessage.status,
        OutboxMessage.sent_at,
        OutboxMessage.due_at,
    ).where(
        OutboxMessage.match_id.in_({k[0] for k in keys if k[0] is not None}),
        OutboxMessage.touchpoint_id.in_({k[1] for k in keys}),
        OutboxMessage.occurrence_key.in_({k[2] for k in keys}),
    )
    for match_id, touchpoint, occurrence, audience, recipient, status, sent, due in session.execute(
        query
    ):
        key = (match_id, touchpoint, occurrence, audience.value, recipient)
        if key in keys:
            found.setdefault(key, []).append((status, sent, due))
    return found
