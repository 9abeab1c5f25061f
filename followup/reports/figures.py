"""The figures behind the reports page's pictures: visits per week and one-year retention."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.reports.base import Scope, matches_in, share_of
from store.models import Match, MatchStatus, Visit, VisitStatus

# -- the figures behind the reports page's pictures -------------------------------------------


def visits_per_week(session: Session, scope: Scope) -> list[tuple[date, int]]:
    """Confirmed visits per week (Monday to Sunday) of the period, over the matches in scope;
    every week of the period is there, also one without a visit."""
    ids = [m.id for m in matches_in(session, scope)]
    counts: Counter[date] = Counter()
    if ids:
        for (day,) in session.execute(
            select(Visit.planned_date).where(
                Visit.match_id.in_(ids),
                Visit.status == VisitStatus.VISITED,
                Visit.planned_date >= scope.start,
                Visit.planned_date <= scope.end,
            )
        ):
            counts[day - timedelta(days=day.weekday())] += 1
    week = scope.start - timedelta(days=scope.start.weekday())
    weeks = []
    while week <= scope.end:
        weeks.append((week, counts[week]))
        week += timedelta(days=7)
    return weeks


@dataclass(frozen=True)
class Retention:
    """Of the matches whose first anniversary fell in the period: how many were still running."""

    still_active: int
    ended_before: int

    @property
    def share(self) -> float | None:
        return share_of(self.still_active, self.still_active + self.ended_before)


def one_year_retention(session: Session, scope: Scope) -> Retention:
    """Every match whose first anniversary falls in the period, also one that ended before it."""
    year = relativedelta(years=1)
    query = scope.matches(
        select(Match).where(
            Match.start_date >= scope.start - year, Match.start_date <= scope.end - year
        )
    )
    still = ended = 0
    for match in session.scalars(query):
        anniversary = match.start_date + year
        if not scope.start <= anniversary <= scope.end:
            continue  # 29 February
        if match.status == MatchStatus.ENDED and match.end_date and match.end_date < anniversary:
            ended += 1
        else:
            still += 1
    return Retention(still_active=still, ended_before=ended)
