"""Every person's data: export it all, and erase it (GDPR articles 15, 17 and 20).

Kinds of person: ``family`` (a volunteer family), ``contact`` (a parent or institution contact),
``staff`` and ``child``.

:func:`export_person` gathers everything held about one person as plain JSON-able data: their
record, their matches (as summaries), and what belongs to them: visits, check-ins, messages,
sparring answers, survey invitations and answers. It leaves out other people's details.

:func:`erase_person` removes the personal data and keeps what the organisation needs for its
statistics (counts, dates, statuses):

- names become ``"erased"``; phone, email, Telegram chat id and the organisation's ref are
  cleared;
- free text is cleared: check-in texts and visit notes of the person's matches (a family, a
  child), the text of messages sent to them or naming them, staff notes on the matches'
  escalations and tasks, the end reason and pause reasons, and free text in escalation evidence;
- rows that exist only for that person are deleted: their survey answers, sparring RSVPs, and a
  contact's link to the matches (so that nothing more is planned for them);
- messages still planned for the person are cancelled (for a family or a child: every message
  still planned in their matches, which would name them).

A family, a child or a staff member can only be erased when their matches have ended: an
active match needs its people (end it, or assign another staff member, first).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from scheduler.escalations import RULES
from store.audit import record
from store.models import (
    Audience,
    AuditEntry,
    Base,
    CheckIn,
    Child,
    ContactPerson,
    Escalation,
    Match,
    MatchPause,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    SparringRSVP,
    SparringSession,
    Staff,
    SurveyInvitation,
    SurveyResponse,
    Task,
    Visit,
    VolunteerFamily,
    match_contact,
)

KINDS: dict[str, type[Base]] = {
    "family": VolunteerFamily,
    "contact": ContactPerson,
    "staff": Staff,
    "child": Child,
}
ENTITIES = {
    "family": "volunteer_family",
    "contact": "contact_person",
    "staff": "staff",
    "child": "child",
}
AUDIENCES = {
    "family": Audience.VOLUNTEER_FAMILY,
    "contact": Audience.CONTACT_PERSON,
    "staff": Audience.STAFF,
}
ERASED = "erased"
RECIPIENT_ERASED = "the recipient was erased"

# Escalation evidence: string values are kept only under these keys (codes, not free text).
SAFE_EVIDENCE_KEYS = frozenset(
    {"at", "touchpoint", "channel", "audience", "error", "code", "status", "rule", "wave", "kind"}
)


class PersonError(ValueError):
    """No such person, or the person cannot be erased yet; the message says why."""


def get_person(session: Session, kind: str, person_id: int) -> Any:
    model = KINDS.get(kind)
    if model is None:
        raise PersonError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    person = session.get(model, person_id)
    if person is None:
        raise PersonError(f"there is no {kind} with id {person_id}")
    return person


def find_by_ref(session: Session, kind: str, ref: str) -> int:
    """The id of the family, contact or staff member with the organisation's ``ref``."""
    model: Any = KINDS.get(kind)
    if model is None or kind == "child":
        raise PersonError(f"a {kind} has no ref: give its id")
    found = session.scalar(select(model.id).where(model.external_ref == ref))
    if found is None:
        raise PersonError(f"there is no {kind} with ref {ref!r}")
    return int(found)


# -- export ----------------------------------------------------------------------------------------


def export_person(
    session: Session, kind: str, person_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """Everything held about one person, as JSON-able data."""
    person = get_person(session, kind, person_id)
    matches = matches_of(session, kind, person)
    data: dict[str, Any] = {
        "exported_at": jsonable(now or datetime.now(UTC)),
        "kind": kind,
        "record": row_data(person),
        "matches": [match_summary(m) for m in matches],
    }
    ids = [m.id for m in matches]
    if kind == "family":
        data["visits"] = [
            row_data(
                v,
                (
                    "id",
                    "match_id",
                    "planned_date",
                    "status",
                    "times",
                    "cancelled_by",
                    "moved_to",
                    "note",
                    "reported_at",
                ),
            )
            for v in session.scalars(
                select(Visit).where(Visit.match_id.in_(ids)).order_by(Visit.planned_date, Visit.id)
            )
        ]
        data["checkins"] = [
            row_data(c, ("id", "match_id", "visit_id", "mood", "text", "worried", "created_at"))
            for c in session.scalars(
                select(CheckIn).where(CheckIn.match_id.in_(ids)).order_by(CheckIn.id)
            )
        ]
        data["sparring_rsvps"] = [
            {
                "session_id": s.id,
                "programme": s.programme.slug,
                "starts_at": jsonable(s.starts_at),
                "answer": r.answer.value,
                "answered_at": jsonable(r.updated_at),
            }
            for r, s in session.execute(
                select(SparringRSVP, SparringSession)
                .join(SparringSession, SparringSession.id == SparringRSVP.session_id)
                .where(SparringRSVP.volunteer_family_id == person.id)
                .order_by(SparringSession.starts_at)
            ).all()
        ]
    if kind in AUDIENCES:
        data["messages"] = [message_data(m) for m in messages_to(session, kind, person.id)]
    if kind == "contact":
        invitations = list(
            session.scalars(
                select(SurveyInvitation)
                .where(SurveyInvitation.contact_person_id == person.id)
                .order_by(SurveyInvitation.id)
            )
        )
        answers: dict[int, list[dict[str, Any]]] = {i.id: [] for i in invitations}
        for answer in session.scalars(
            select(SurveyResponse)
            .where(SurveyResponse.invitation_id.in_(list(answers)))
            .order_by(SurveyResponse.id)
        ):
            answers[answer.invitation_id].append(
                row_data(answer, ("question_id", "value", "created_at"))
            )
        data["surveys"] = [
            {
                **row_data(
                    i,
                    (
                        "id",
                        "match_id",
                        "survey_id",
                        "wave",
                        "sent_at",
                        "opened_at",
                        "completed_at",
                        "expires_at",
                        "reminder_step",
                    ),
                ),
                "responses": answers[i.id],
            }
            for i in invitations
        ]
    if kind == "staff":
        data["tasks"] = [
            row_data(t, ("id", "match_id", "kind", "title", "due_at", "status", "completed_at"))
            for t in session.scalars(
                select(Task).where(Task.owner_id == person.id).order_by(Task.due_at)
            )
        ]
        data["escalations"] = [
            row_data(
                e,
                (
                    "id",
                    "match_id",
                    "rule",
                    "severity",
                    "status",
                    "created_at",
                    "acknowledged_at",
                    "resolved_at",
                ),
            )
            for e in session.scalars(
                select(Escalation)
                .where(
                    or_(Escalation.staff_id == person.id, Escalation.acknowledged_by == person.id)
                )
                .order_by(Escalation.id)
            )
        ]
        data["actions"] = [
            row_data(a, ("at", "action", "entity", "entity_id"))
            for a in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.actor == f"staff:{person.id}")
                .order_by(AuditEntry.id)
            )
        ]
    return data


def matches_of(session: Session, kind: str, person: Any) -> list[Match]:
    query = select(Match).order_by(Match.id)
    if kind == "family":
        query = query.where(Match.volunteer_family_id == person.id)
    elif kind == "child":
        query = query.where(Match.child_id == person.id)
    elif kind == "staff":
        query = query.where(Match.staff_id == person.id)
    else:
        query = query.where(Match.contacts.any(ContactPerson.id == person.id))
    return list(session.scalars(query))


def messages_to(session: Session, kind: str, person_id: int) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.audience == AUDIENCES[kind], OutboxMessage.recipient_id == person_id
            )
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
        )
    )


def match_summary(match: Match) -> dict[str, Any]:
    """A match without the other people in it."""
    return {
        "id": match.id,
        "ref": match.external_ref,
        "programme": match.programme.slug,
        "status": match.status.value,
        "start_date": jsonable(match.start_date),
        "end_date": jsonable(match.end_date),
        "ended_by": jsonable(match.ended_by),
        "visit_weekday": match.visit_weekday,
        "visit_time": jsonable(match.visit_time),
        "cadence": match.cadence.value,
        "region": match.region,
    }


def message_data(message: OutboxMessage) -> dict[str, Any]:
    return row_data(
        message,
        (
            "id",
            "match_id",
            "kind",
            "template",
            "channel",
            "locale",
            "status",
            "due_at",
            "sent_at",
            "delivered_at",
            "subject",
            "body",
            "last_error",
        ),
    )


def row_data(row: Any, columns: Iterable[str] | None = None) -> dict[str, Any]:
    """A row's columns (all of them, or the ones named) as JSON-able values."""
    names = list(columns) if columns is not None else [c.key for c in row.__table__.columns]
    return {name: jsonable(getattr(row, name)) for name in names}


def jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


# -- erasure ---------------------------------------------------------------------------------------


def erase_person(
    session: Session, kind: str, person_id: int, actor: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """Erase one person's data (see the module docstring). Returns counts of what was done;
    records an audit entry holding only those counts."""
    now = now or datetime.now(UTC)
    person = get_person(session, kind, person_id)
    matches = matches_of(session, kind, person)
    running = [m.id for m in matches if m.status != MatchStatus.ENDED]
    if running and kind != "contact":
        listed = ", ".join(str(i) for i in running)
        how = (
            "assign another staff member (re-import the matches file with another staff_ref)"
            if kind == "staff"
            else "end them first (venskab match end ID --by ...)"
        )
        raise PersonError(
            f"{kind} {person_id} has matches that have not ended ({listed}): {how}, then erase"
        )
    ids = [m.id for m in matches]
    summary: dict[str, Any] = {"kind": kind, "id": person_id, "matches": len(ids)}
    if kind == "family":
        _erase_fields(
            person,
            name=ERASED,
            contact_name=ERASED,
            phone=None,
            email=None,
            telegram_chat_id=None,
            external_ref=None,
            phone_failed=False,
            email_failed=False,
            telegram_blocked=False,
        )
        summary |= _erase_match_text(session, ids, now)
        summary["sparring_rsvps_deleted"] = _count(
            session.execute(
                delete(SparringRSVP).where(SparringRSVP.volunteer_family_id == person.id)
            )
        )
    elif kind == "child":
        _erase_fields(person, first_name=ERASED, birth_year=None)
        summary |= _erase_match_text(session, ids, now)
    elif kind == "contact":
        _erase_fields(
            person,
            name=ERASED,
            phone=None,
            email=None,
            external_ref=None,
            phone_failed=False,
            email_failed=False,
            opted_out=True,
            opted_out_at=person.opted_out_at or now,
        )
        invitations = select(SurveyInvitation.id).where(
            SurveyInvitation.contact_person_id == person.id
        )
        summary["survey_responses_deleted"] = _count(
            session.execute(
                delete(SurveyResponse).where(SurveyResponse.invitation_id.in_(invitations))
            )
        )
        session.execute(
            update(SurveyInvitation)
            .where(
                SurveyInvitation.contact_person_id == person.id, SurveyInvitation.expires_at > now
            )
            .values(expires_at=now)
        )
        summary["escalations_cleared"] = _scrub_escalations(session, ids)
        session.execute(delete(match_contact).where(match_contact.c.contact_person_id == person.id))
        for match in matches:
            if match.status != MatchStatus.ENDED:
                match.plan_version = (match.plan_version or 1) + 1
        summary["matches_unlinked"] = len(ids)
    else:
        texts = [t for t in (person.name, person.email, person.phone) if t and len(t) >= 3]
        _erase_fields(
            person,
            name=ERASED,
            phone=None,
            email=None,
            telegram_chat_id=None,
            external_ref=None,
            active=False,
        )
        summary["messages_cleared"] = _clear_messages_naming(session, ids, texts)
    if kind in AUDIENCES:
        summary["messages_cleared"] = summary.get("messages_cleared", 0) + _clear_messages(
            session,
            (OutboxMessage.audience == AUDIENCES[kind]) & (OutboxMessage.recipient_id == person.id),
            also_errors=True,
        )
        summary["messages_cancelled"] = summary.get("messages_cancelled", 0) + _cancel_planned(
            session,
            (OutboxMessage.audience == AUDIENCES[kind]) & (OutboxMessage.recipient_id == person.id),
        )
    session.flush()
    record(
        session,
        actor,
        "person.erase",
        ENTITIES[kind],
        person_id,
        **{k: v for k, v in summary.items() if k not in {"kind", "id"}},
    )
    session.flush()
    session.expire_all()
    return summary


def _erase_fields(person: Any, **values: Any) -> None:
    for name, value in values.items():
        setattr(person, name, value)


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def _erase_match_text(session: Session, ids: list[int], now: datetime) -> dict[str, int]:
    """Free text of a family's or a child's matches: it is about them."""
    if not ids:
        return {}
    in_matches = OutboxMessage.match_id.in_(ids)
    counts = {
        "checkin_texts_cleared": _count(
            session.execute(
                update(CheckIn)
                .where(CheckIn.match_id.in_(ids), CheckIn.text.is_not(None))
                .values(text=None)
            )
        ),
        "visit_notes_cleared": _count(
            session.execute(
                update(Visit)
                .where(Visit.match_id.in_(ids), Visit.note.is_not(None))
                .values(note=None)
            )
        ),
        # Every message of the match names the child and the family.
        "messages_cleared": _clear_messages(session, in_matches),
        "messages_cancelled": _cancel_planned(session, in_matches),
        "escalations_cleared": _scrub_escalations(session, ids),
        "task_notes_cleared": _count(
            session.execute(
                update(Task)
                .where(Task.match_id.in_(ids), Task.outcome_note.is_not(None))
                .values(outcome_note=None)
            )
        ),
    }
    session.execute(update(Match).where(Match.id.in_(ids)).values(end_reason=None))
    session.execute(update(MatchPause).where(MatchPause.match_id.in_(ids)).values(reason=""))
    return counts


def _clear_messages(session: Session, condition: Any, also_errors: bool = False) -> int:
    """Clear the text of messages (kept: channel, status, dates). Returns how many had text."""
    cleared = _count(
        session.execute(
            update(OutboxMessage)
            .where(
                condition, or_(OutboxMessage.body.is_not(None), OutboxMessage.subject.is_not(None))
            )
            .values(body=None, subject=None)
        )
    )
    if also_errors:  # a provider's error may quote the address
        session.execute(
            update(OutboxMessage)
            .where(condition, OutboxMessage.last_error.is_not(None))
            .values(last_error=RECIPIENT_ERASED)
        )
    return cleared


def _cancel_planned(session: Session, condition: Any) -> int:
    return _count(
        session.execute(
            update(OutboxMessage)
            .where(condition, OutboxMessage.status == OutboxStatus.PLANNED)
            .values(status=OutboxStatus.CANCELLED, last_error=RECIPIENT_ERASED)
        )
    )


def _clear_messages_naming(session: Session, ids: list[int], texts: list[str]) -> int:
    """Clear the text of the matches' messages that name a staff member or give their address."""
    if not ids or not texts:
        return 0
    named = [
        row_id
        for row_id, body, subject in session.execute(
            select(OutboxMessage.id, OutboxMessage.body, OutboxMessage.subject).where(
                OutboxMessage.match_id.in_(ids)
            )
        )
        if any(t in (body or "") or t in (subject or "") for t in texts)
    ]
    cleared = 0
    for start in range(0, len(named), 500):
        cleared += _clear_messages(session, OutboxMessage.id.in_(named[start : start + 500]))
    return cleared


def _scrub_escalations(session: Session, ids: list[int]) -> int:
    """Staff notes and free text in escalations of the matches; rule, dates and status stay."""
    if not ids:
        return 0
    count = 0
    for escalation in session.scalars(select(Escalation).where(Escalation.match_id.in_(ids))):
        evidence = [
            {k: v for k, v in item.items() if not isinstance(v, str) or k in SAFE_EVIDENCE_KEYS}
            if isinstance(item, dict)
            else None
            for item in escalation.evidence or []
        ]
        summary = RULES.get(escalation.rule, escalation.rule)[:300]
        if (evidence, summary, escalation.resolution_note) != (
            escalation.evidence,
            escalation.summary,
            None,
        ):
            escalation.evidence = evidence
            escalation.summary = summary
            escalation.resolution_note = None
            count += 1
    return count
