"""Matches as the planner reads them: plain rows, a chunk at a time, and its bookkeeping of
what was planned."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import RowMapping, Table, inspect, or_, select, update
from sqlalchemy.orm import Session

from store.models import (
    Base,
    Child,
    ContactPerson,
    Match,
    MatchPause,
    MatchStatus,
    Staff,
    VolunteerFamily,
    match_contact,
)
from store.models import Programme as ProgrammeRow

CHUNK = 1000


class _Child(NamedTuple):
    first_name: str


class MatchRow:
    """A match with its family, contacts, pauses, staff member and child, as plain rows.

    The attributes have the ORM's names, so ``facts_for``, ``recipients_for`` and
    ``raise_escalation`` read it like a :class:`Match`. It is loaded with a few Core queries per
    chunk: building ORM objects for every match and its relations was a third of a pass, and
    the planner only reads them (its own bookkeeping is one UPDATE per chunk).
    """

    id: int
    programme_id: int
    programme_slug: str | None
    region: str
    created_at: datetime | None
    plan_version: int
    planned_version: int
    planned_until: datetime | None
    staff_id: int | None
    volunteer_family_id: int
    child_first_name: str | None
    sibling: bool

    def __init__(self, columns: RowMapping) -> None:
        self.__dict__.update(columns)
        self.volunteer_family: Any = None
        self.staff: Any = None
        self.contacts: list[Any] = []
        self.pauses: list[Any] = []
        self.child: _Child | None = None


def _columns(model: type[Base], *, timestamps: bool = True) -> list[Any]:
    """Every column of a model, labelled with its attribute name; without its creation and
    update times unless ``timestamps`` (converting them for every row is not free)."""
    return [
        column.label(name)
        for name, column in inspect(model).columns.items()
        if timestamps or name not in ("created_at", "updated_at")
    ]


def load_matches(
    session: Session, after: int, now: datetime, match_ids: list[int] | None
) -> list[MatchRow]:
    """The next chunk of live matches after id ``after``, with what planning them reads."""
    query = (
        select(
            *_columns(Match),
            ProgrammeRow.slug.label("programme_slug"),
            Child.first_name.label("child_first_name"),
        )
        .outerjoin(ProgrammeRow, ProgrammeRow.id == Match.programme_id)
        .outerjoin(Child, Child.id == Match.child_id)
        .where(Match.id > after)
        .where(
            or_(
                Match.status != MatchStatus.ENDED,
                # ended matches still have end touchpoints and reminders to plan
                Match.end_date >= (now - timedelta(days=120)).date(),
                Match.planned_version != Match.plan_version,
            )
        )
        .order_by(Match.id)
        .limit(CHUNK)
    )
    if match_ids is not None:
        query = query.where(Match.id.in_(match_ids))
    # Plain Core results (session.connection()): the ORM's result machinery is not needed.
    connection = session.connection()
    matches = [MatchRow(row._mapping) for row in connection.execute(query)]
    if not matches:
        return matches
    by_id = {m.id: m for m in matches}
    families = {
        row.id: row
        for row in connection.execute(
            select(*_columns(VolunteerFamily, timestamps=False)).where(
                VolunteerFamily.id.in_({m.volunteer_family_id for m in matches})
            )
        )
    }
    staff = {
        row.id: row
        for row in connection.execute(
            select(*_columns(Staff, timestamps=False)).where(
                Staff.id.in_({m.staff_id for m in matches if m.staff_id is not None})
            )
        )
    }
    for match in matches:
        match.volunteer_family = families.get(match.volunteer_family_id)
        match.staff = staff.get(match.staff_id) if match.staff_id is not None else None
        if match.child_first_name is not None:
            match.child = _Child(match.child_first_name)
    # In the order of the relationships (Match.contacts, Match.pauses).
    for row in connection.execute(
        select(match_contact.c.match_id, *_columns(ContactPerson, timestamps=False))
        .join(match_contact, match_contact.c.contact_person_id == ContactPerson.id)
        .where(match_contact.c.match_id.in_(by_id))
        .order_by(ContactPerson.id)
    ):
        by_id[row.match_id].contacts.append(row)
    for row in connection.execute(
        select(*_columns(MatchPause, timestamps=False))
        .where(MatchPause.match_id.in_(by_id))
        .order_by(MatchPause.start_date)
    ):
        by_id[row.match_id].pauses.append(row)
    return matches


def mark_planned(session: Session, matches: list[MatchRow], until: datetime) -> None:
    """Record which plan version each match was planned for, and up to when: one UPDATE per
    version (usually one or two per chunk), each with the version as it was read."""
    by_version: dict[int, list[int]] = {}
    for match in matches:
        if (match.planned_version, match.planned_until) != (match.plan_version, until):
            by_version.setdefault(match.plan_version, []).append(match.id)
    table = cast(Table, Match.__table__)
    for version, ids in by_version.items():
        session.execute(
            update(table)
            .where(table.c.id.in_(ids))
            .values(planned_version=version, planned_until=until)
        )
