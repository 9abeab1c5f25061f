"""A person's rows as JSON-able data, for the export (:mod:`followup.people`): a row's columns,
a match without the other people in it, a message with its text, what happened in a family's
or a child's matches, and what a staff member did."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from followup import moments
from store.models import (
    AuditEntry,
    CalendarFeed,
    CheckIn,
    Escalation,
    HouseholdMember,
    Match,
    MatchNote,
    MatchPause,
    OutboxMessage,
    SparringRSVP,
    SparringSession,
    StaffContact,
    Task,
    Visit,
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
        "end_reason_code": jsonable(match.end_reason_code),
        "previous_match_id": match.previous_match_id,
        "visit_weekday": match.visit_weekday,
        "visit_time": jsonable(match.visit_time),
        "cadence": match.cadence.value,
        "region": match.region,
        "municipality": match.municipality,
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


def match_content(session: Session, ids: list[int]) -> dict[str, Any]:
    """What happened in the matches: visits, check-ins, staff notes, greetings, pauses, and
    when staff were in touch."""
    found: dict[str, Any] = {}
    found["visits"] = [
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
    found["checkins"] = [
        row_data(c, ("id", "match_id", "visit_id", "mood", "text", "worried", "created_at"))
        for c in session.scalars(
            select(CheckIn).where(CheckIn.match_id.in_(ids)).order_by(CheckIn.id)
        )
    ]
    # Staff members' notes on the family's matches are about them too.
    found["match_notes"] = [
        row_data(n, ("id", "match_id", "text", "created_at"))
        for n in session.scalars(
            select(MatchNote).where(MatchNote.match_id.in_(ids)).order_by(MatchNote.id)
        )
    ]
    found["moments"] = [
        {k: jsonable(v) for k, v in m.items()} for m in moments.export_rows(session, ids)
    ]
    found["pauses"] = [
        row_data(p, ("id", "match_id", "start_date", "end_date", "reason"))
        for p in session.scalars(
            select(MatchPause).where(MatchPause.match_id.in_(ids)).order_by(MatchPause.id)
        )
    ]
    found["staff_contacts"] = [
        row_data(c, ("id", "match_id", "party", "kind", "on_date"))
        for c in session.scalars(
            select(StaffContact).where(StaffContact.match_id.in_(ids)).order_by(StaffContact.id)
        )
    ]
    return found


def staff_data(session: Session, staff_id: int) -> dict[str, Any]:
    """A staff member's tasks, cases, contacts with families and parents, and actions."""
    found: dict[str, Any] = {}
    found["contacts"] = [
        row_data(c, ("id", "match_id", "party", "kind", "on_date"))
        for c in session.scalars(
            select(StaffContact).where(StaffContact.staff_id == staff_id).order_by(StaffContact.id)
        )
    ]
    found["tasks"] = [
        row_data(t, ("id", "match_id", "kind", "title", "due_at", "status", "completed_at"))
        for t in session.scalars(
            select(Task).where(Task.owner_id == staff_id).order_by(Task.due_at)
        )
    ]
    found["escalations"] = [
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
            .where(or_(Escalation.staff_id == staff_id, Escalation.acknowledged_by == staff_id))
            .order_by(Escalation.id)
        )
    ]
    found["actions"] = [
        row_data(a, ("at", "action", "entity", "entity_id"))
        for a in session.scalars(
            select(AuditEntry)
            .where(AuditEntry.actor == f"staff:{staff_id}")
            .order_by(AuditEntry.id)
        )
    ]
    return found


def family_data(session: Session, family_id: int) -> dict[str, Any]:
    """A family's sparring answers, household and calendar feeds."""
    found: dict[str, Any] = {}
    found["sparring_rsvps"] = [
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
            .where(SparringRSVP.volunteer_family_id == family_id)
            .order_by(SparringSession.starts_at)
        ).all()
    ]
    found["household"] = [
        row_data(
            m,
            ("id", "first_name", "birth_year", "child_certificate_on", "criminal_record_on"),
        )
        for m in session.scalars(
            select(HouseholdMember)
            .where(HouseholdMember.volunteer_family_id == family_id)
            .order_by(HouseholdMember.id)
        )
    ]
    found["calendar_feeds"] = [
        row_data(f, ("id", "created_by", "created_at", "revoked_at"))
        for f in session.scalars(
            select(CalendarFeed)
            .where(CalendarFeed.volunteer_family_id == family_id)
            .order_by(CalendarFeed.id)
        )
    ]
    return found


OTHER_PERSON = "[…]"  # stands for another person's name or address in a child's export


def others_in(matches: Iterable[Match]) -> list[str]:
    """The names and addresses of the adults in the matches, longest first."""
    found: set[str] = set()
    for match in matches:
        for person in (match.volunteer_family, match.staff, *match.contacts):
            for attribute in ("name", "contact_name", "phone", "email"):
                value = getattr(person, attribute, None)
                if isinstance(value, str) and len(value) >= 3 and value != "erased":
                    found.add(value)
    return sorted(found, key=len, reverse=True)


def without(value: Any, others: list[str]) -> Any:
    """``value`` with each of ``others`` replaced by :data:`OTHER_PERSON`, all the way down."""
    if isinstance(value, str):
        for other in others:
            value = value.replace(other, OTHER_PERSON)
        return value
    if isinstance(value, list):
        return [without(v, others) for v in value]
    if isinstance(value, dict):
        return {k: without(v, others) for k, v in value.items()}
    return value
