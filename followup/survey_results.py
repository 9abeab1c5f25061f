"""Answers, completion and results of surveys: the one place both the web form and the SMS
conversation write to, whose records results and the paired export read.

- :func:`lookup` turns a link token into an invitation and its state (unknown, expired, used,
  open) without revealing anything about anyone for a token that does not fit;
- :func:`save_answers` keeps partial answers: every page or SMS answer is stored at once;
- :func:`complete` marks an invitation completed, records at which step of the reminder ladder
  that happened, and stops the ladder at once (pending reminders cancelled, open call tasks
  closed);
- :func:`import_completions` loads completions from an external survey tool's CSV export.

Counting responses and the paired export are in :mod:`followup.survey_reports`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.redaction import redact
from followup.refused import Refused
from followup.said import said
from followup.survey_defs import Survey
from scheduler import outbox
from scheduler.i18n import N_
from scheduler.links import find_by_token
from store.audit import record
from store.models import (
    Audience,
    ContactPerson,
    OutboxMessage,
    OutboxStatus,
    SurveyConversation,
    SurveyInvitation,
    SurveyResponse,
    Task,
    TaskStatus,
    VolunteerFamily,
)
from store.validation import strip_controls

LinkState = Literal["unknown", "expired", "used", "open"]
ANSWERED = N_("already answered")  # an outbox row's reason, shown to staff


def task_key(invitation_id: int, step: int) -> str:
    """The idempotency key of the staff call task for one invitation and ladder step."""
    return f"survey:{invitation_id}:r{step}"


# -- links -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    state: LinkState
    invitation: SurveyInvitation | None = None
    survey: Survey | None = None


def lookup(session: Session, token: str, surveys: Mapping[str, Survey], now: datetime) -> Lookup:
    """What a link token opens. A token that fits no invitation (tampered, foreign, or for a
    survey whose definition was removed) is "unknown", and nothing else is said about it."""
    invitation = find_by_token(session, token)
    if invitation is None:
        return Lookup("unknown")
    survey = surveys.get(invitation.survey_id)
    if survey is None:
        return Lookup("unknown")
    if invitation.completed_at is not None:
        return Lookup("used", invitation, survey)
    if invitation.expires_at <= now:
        return Lookup("expired", invitation, survey)
    return Lookup("open", invitation, survey)


def mark_opened(invitation: SurveyInvitation, now: datetime) -> None:
    if invitation.opened_at is None:
        invitation.opened_at = now


# -- answers -----------------------------------------------------------------------------------


def saved_answers(session: Session, invitation_id: int) -> dict[str, str]:
    return {
        r.question_id: r.value
        for r in session.scalars(
            select(SurveyResponse).where(SurveyResponse.invitation_id == invitation_id)
        )
        if r.value is not None
    }


def respondent_locale(session: Session, invitation: SurveyInvitation) -> str:
    """The language of whoever was asked: the contact person, or the volunteer family."""
    person: ContactPerson | VolunteerFamily | None = None
    if invitation.volunteer_family_id:
        person = session.get(VolunteerFamily, invitation.volunteer_family_id)
    elif invitation.contact_person_id:
        person = session.get(ContactPerson, invitation.contact_person_id)
    return person.locale.value if person is not None else "da"


def save_answers(
    session: Session,
    invitation: SurveyInvitation,
    survey: Survey,
    submitted: Mapping[str, str | None],
    now: datetime,
) -> dict[str, str | None]:
    """Store the answers to the questions in ``submitted`` (question id -> raw value).

    An empty or unfitting value removes an earlier answer to that question (the parent cleared
    or skipped it); free text is stored with anything shaped like a CPR number redacted.
    Returns what was stored per question.
    """
    existing = {
        r.question_id: r
        for r in session.scalars(
            select(SurveyResponse).where(
                SurveyResponse.invitation_id == invitation.id,
                SurveyResponse.question_id.in_(list(submitted)),
            )
        )
    }
    stored: dict[str, str | None] = {}
    locale = respondent_locale(session, invitation)
    for question_id, raw in submitted.items():
        question = survey.question(question_id)
        value = question.parse(raw)
        if value is not None and question.type == "text":
            value = redact(strip_controls(value), locale)
        row = existing.get(question_id)
        if value is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(
                SurveyResponse(invitation_id=invitation.id, question_id=question_id, value=value)
            )
        elif row.value != value:
            row.value = value
            row.updated_at = now
        stored[question_id] = value
    mark_opened(invitation, now)
    session.flush()
    return stored


# -- completion and the reminder ladder --------------------------------------------------------


def _survey_rows(session: Session, invitation: SurveyInvitation) -> list[OutboxMessage]:
    """The outbox rows (invitation and reminders) that belong to ``invitation``."""
    rows = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.match_id == invitation.match_id,
            OutboxMessage.kind == "survey",
            *(
                (
                    OutboxMessage.audience == Audience.VOLUNTEER_FAMILY,
                    OutboxMessage.recipient_id == invitation.volunteer_family_id,
                )
                if invitation.volunteer_family_id
                else (
                    OutboxMessage.audience == Audience.CONTACT_PERSON,
                    OutboxMessage.recipient_id == (invitation.contact_person_id or 0),
                )
            ),
        )
    )
    return [
        r
        for r in rows
        if str((r.context or {}).get("survey")) == invitation.survey_id
        and str((r.context or {}).get("wave")) == invitation.wave
    ]


def reached_step(session: Session, invitation: SurveyInvitation, until: datetime) -> int:
    """The highest step of the reminder ladder that had reached the person by ``until``:
    0 the invitation, 1.. a reminder message or a staff call task."""
    step = 0
    for row in _survey_rows(session, invitation):
        if (
            row.status in (OutboxStatus.SENT, OutboxStatus.DELIVERED)
            and row.sent_at
            and row.sent_at <= until
        ):
            step = max(step, int((row.context or {}).get("reminder", 0)))
    for task in session.scalars(
        select(Task).where(Task.idempotency_key.like(f"survey:{invitation.id}:r%"))
    ):
        if task.created_at <= until and task.idempotency_key:
            step = max(step, int(task.idempotency_key.rsplit(":r", 1)[1]))
    return max(step, invitation.reminder_step or 0)


def complete(
    session: Session, invitation: SurveyInvitation, now: datetime, via: str = "web"
) -> bool:
    """Mark ``invitation`` completed and stop its reminder ladder. False if it already was."""
    if invitation.completed_at is not None:
        return False
    invitation.completed_at = now
    mark_opened(invitation, now)
    invitation.reminder_step = reached_step(session, invitation, now)
    for row in _survey_rows(session, invitation):
        if row.status == OutboxStatus.PLANNED and int((row.context or {}).get("reminder", 0)) > 0:
            outbox.cancel(row, ANSWERED)
    for task in session.scalars(
        select(Task).where(
            Task.idempotency_key.like(f"survey:{invitation.id}:r%"), Task.status == TaskStatus.OPEN
        )
    ):
        task.status = TaskStatus.CANCELLED
        task.outcome_note = N_("the survey was answered meanwhile")
        task.completed_at = now
    conversation = session.scalars(
        select(SurveyConversation).where(SurveyConversation.invitation_id == invitation.id)
    ).first()
    if conversation is not None and conversation.finished_at is None:
        conversation.finished_at = now
        conversation.outcome = "completed"
    record(
        session,
        "system",
        "survey.completed",
        "survey_invitation",
        invitation.id,
        survey=invitation.survey_id,
        wave=invitation.wave,
        step=invitation.reminder_step,
        via=via,
    )
    session.flush()
    return True


# -- completions from an external survey tool ---------------------------------------------------


@dataclass
class ImportStats:
    completed: int = 0
    already: int = 0
    unknown: int = 0  # no invitation for the token (row numbers in ``unknown_rows``)
    other_survey: int = 0
    answers: int = 0
    ignored_values: int = 0
    unknown_rows: list[int] = field(default_factory=list)


class CompletionImportError(Refused):
    """The file cannot be imported; the message says why."""


def read_table(text: str) -> list[dict[str, str]]:
    """CSV rows as dicts; comma, semicolon (Danish spreadsheets) or tab separated."""
    text = text.removeprefix("\ufeff")
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = max(",;\t", key=first.count)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if not reader.fieldnames or "token" not in [f.strip().lower() for f in reader.fieldnames]:
        raise CompletionImportError(
            said("the file needs a header row with a %(column)s column", column="'token'")
        )
    return [
        {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader
    ]


def _when(value: str, zone: ZoneInfo, now: datetime) -> datetime:
    if not value:
        return now
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
    except ValueError as exc:
        raise CompletionImportError(
            said("%(value)r is not an ISO date or time such as 2026-05-04T10:30", value=value)
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return min(parsed, now)


def import_completions(
    session: Session,
    table: list[dict[str, str]],
    surveys: Mapping[str, Survey],
    now: datetime,
    *,
    survey_id: str | None = None,
    zone: str,
) -> ImportStats:
    """Mark the invitations in ``table`` (rows with ``token``, optional ``completed_at`` and
    question-id columns) completed and store their answers. Tokens never appear in the result."""
    stats = ImportStats()
    local = ZoneInfo(zone)
    for number, row in enumerate(table, start=2):  # row 1 is the header
        invitation = find_by_token(session, row.get("token", ""))
        survey = surveys.get(invitation.survey_id) if invitation is not None else None
        if invitation is None or survey is None:
            stats.unknown += 1
            stats.unknown_rows.append(number)
            continue
        if survey_id is not None and invitation.survey_id != survey_id:
            stats.other_survey += 1
            continue
        if invitation.completed_at is not None:
            stats.already += 1
            continue
        submitted = {
            q.id: row[q.id] for q in survey.questions_for(invitation.wave) if row.get(q.id)
        }
        stored = save_answers(session, invitation, survey, submitted, now)
        stats.answers += sum(v is not None for v in stored.values())
        stats.ignored_values += sum(v is None for v in stored.values())
        complete(session, invitation, _when(row.get("completed_at", ""), local, now), via="import")
        stats.completed += 1
    return stats
