"""What a report is (its columns, its rows for a scope), and the match columns and helpers
several reports share."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from scheduler.i18n import N_
from scheduler.programme import Programme
from store.models import Match, Staff
from store.models import Programme as ProgrammeRow

Value = int | float | str | date | bool | None
Row = dict[str, Value]


@dataclass(frozen=True)
class Scope:
    """What a report covers: the days ``start`` to ``end`` (both included), in ``zone``."""

    start: date
    end: date
    zone: str
    programme: str | None = None  # a programme's slug
    staff: str | None = None  # a staff member's reference (external_ref)
    region: str | None = None
    programmes: Mapping[str, Programme] = field(default_factory=dict)  # for the tasks' counterparts
    visible: Any = None
    """A further condition on :class:`Match` (the staff web app: the matches its user may see)."""
    viewer: Any = None
    """The staff web app's user (a :class:`Staff`): reports of people not yet matched show only
    those the user may see (their region, or for a procesleder their own referrals)."""

    def matches(self, query: Select[Any]) -> Select[Any]:
        """``query`` narrowed to the programme, staff member and region asked for."""
        if self.programme is not None:
            query = query.join(ProgrammeRow, Match.programme_id == ProgrammeRow.id).where(
                ProgrammeRow.slug == self.programme
            )
        if self.staff is not None:
            query = query.join(Staff, Match.staff_id == Staff.id).where(
                Staff.external_ref == self.staff
            )
        if self.region is not None:
            query = query.where(Match.region == self.region)
        if self.visible is not None:
            query = query.where(self.visible)
        return query

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as moments: its first day's midnight and the midnight after its last."""
        zone = ZoneInfo(self.zone)
        return (
            datetime.combine(self.start, datetime.min.time(), tzinfo=zone),
            datetime.combine(self.end + timedelta(days=1), datetime.min.time(), tzinfo=zone),
        )

    def local(self, moment: datetime | None) -> date | None:
        return moment.astimezone(ZoneInfo(self.zone)).date() if moment is not None else None


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # integer | decimal | text | date | boolean
    description: str


@dataclass(frozen=True)
class Report:
    name: str
    description: str
    columns: tuple[Column, ...]
    rows: Callable[[Session, Scope], Iterator[Row]]


# -- helpers -----------------------------------------------------------------------------------


def matches_in(session: Session, scope: Scope) -> list[Match]:
    """Matches that were running on some day of the period (started by its end, not ended before
    its start), oldest first."""
    query = scope.matches(
        select(Match)
        .where(Match.start_date <= scope.end)
        .where((Match.end_date.is_(None)) | (Match.end_date >= scope.start))
        .options(
            selectinload(Match.programme),
            selectinload(Match.staff),
            selectinload(Match.pauses),
        )
        .order_by(Match.start_date, Match.id)
    )
    return list(session.scalars(query))


def share_of(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def match_columns() -> tuple[Column, ...]:
    return (
        Column("match_id", "integer", N_("The match's number in venskab.")),
        Column(
            "match_ref",
            "text",
            N_("The organisation's own reference for the match (may be empty)."),
        ),
        Column("programme", "text", N_("The programme's short name (its file in programmes/).")),
        Column("region", "text", N_("The match's region as imported (may be empty).")),
        Column("staff_ref", "text", N_("The reference of the staff member following the match.")),
    )


def match_values(match: Match) -> Row:
    return {
        "match_id": match.id,
        "match_ref": match.external_ref or "",
        "programme": match.programme.slug,
        "region": match.region,
        "staff_ref": (match.staff.external_ref or str(match.staff.id)) if match.staff else "",
    }
