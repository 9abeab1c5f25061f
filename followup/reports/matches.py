"""The reports about matches themselves: one row per match, and one per match and month."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from itertools import pairwise

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.reports.base import (
    Column,
    Report,
    Row,
    Scope,
    match_columns,
    match_values,
    matches_in,
    share_of,
)
from scheduler.i18n import N_
from store.models import CancelledBy, Match, MatchPause, MatchStatus, Visit, VisitStatus


def _paused(pauses: Iterable[MatchPause], day: date) -> bool:
    return any(p.start_date <= day and (p.end_date is None or day < p.end_date) for p in pauses)


def _months(start: date, end: date) -> Iterator[date]:
    month = start.replace(day=1)
    while month <= end:
        yield month
        month += relativedelta(months=1)


# -- matches -----------------------------------------------------------------------------------


def _matches_rows(session: Session, scope: Scope) -> Iterator[Row]:
    matches = matches_in(session, scope)
    first_match: dict[int, int] = {}
    for child_id, match_id in session.execute(
        select(Match.child_id, Match.id).order_by(Match.start_date, Match.id)
    ):
        first_match.setdefault(child_id, match_id)
    next_match: dict[int, int] = {
        previous: match_id
        for match_id, previous in session.execute(
            select(Match.id, Match.previous_match_id).where(Match.previous_match_id.is_not(None))
        )
        if previous is not None
    }
    for match in matches:
        anniversary = match.start_date + relativedelta(years=1)
        ended = match.status == MatchStatus.ENDED and match.end_date is not None
        if ended and match.end_date is not None and match.end_date < anniversary:
            at_one_year: str = "no"
        elif anniversary <= scope.end:
            at_one_year = "yes"
        else:
            at_one_year = "not_yet"
        last_day = min(match.end_date, scope.end) if ended and match.end_date else scope.end
        yield {
            **match_values(match),
            "start_date": match.start_date,
            "status": match.status.value,
            "end_date": match.end_date if ended else None,
            "ended_by": match.ended_by.value if ended and match.ended_by else None,
            "days_running": max((last_day - match.start_date).days, 0),
            "active_at_one_year": at_one_year,
            "end_reason": match.end_reason_code.value if ended and match.end_reason_code else None,
            "rematch": match.previous_match_id is not None
            or first_match.get(match.child_id) != match.id,
            "previous_match_id": match.previous_match_id,
            "rematched_as": next_match.get(match.id),
            "sibling": match.sibling,
        }


MATCHES = Report(
    "matches",
    N_(
        "One row per match running on some day of the period: started, active, ended (by whom "
        "and why), still active at one year, re-matched."
    ),
    (
        *match_columns(),
        Column("start_date", "date", N_("The day the match started.")),
        Column("status", "text", N_("active, paused or ended, today.")),
        Column("end_date", "date", N_("The day the match ended; empty while it runs.")),
        Column(
            "ended_by",
            "text",
            N_(
                "Who ended it: term (the natural end: the year ran out as planned), "
                "volunteer_family, child_family (the parent, the child or its institution), "
                "organisation, unreachable (the family could not be reached; staff confirmed it); "
                "empty while it runs."
            ),
        ),
        Column(
            "end_reason",
            "text",
            N_(
                "Why it ended, from a short list: completed, no_time, moved, relation (the relation "
                "did not work), child_situation (e.g. a placement), concern (for the child), "
                "no_contact, other; empty while it runs or when no reason was given."
            ),
        ),
        Column(
            "days_running",
            "integer",
            N_("Days from the start to the end of the match or of the period, whichever is first."),
        ),
        Column(
            "active_at_one_year",
            "text",
            N_(
                "yes: still running on its first anniversary (by the end of the period); no: ended "
                "before it; not_yet: the anniversary is after the period."
            ),
        ),
        Column(
            "rematch",
            "boolean",
            N_(
                "A re-match: the child had an earlier match (named in previous_match_id when it "
                "was made as a re-match of it)."
            ),
        ),
        Column(
            "previous_match_id",
            "integer",
            N_(
                "The match this one re-matches (the child's earlier match that ended); empty "
                "otherwise."
            ),
        ),
        Column(
            "rematched_as",
            "integer",
            N_("The match that re-matched this one's child after it ended; empty otherwise."),
        ),
        Column("sibling", "boolean", N_("A sibling match (Mentorbarn: half price).")),
    ),
    _matches_rows,
)


# -- stability ---------------------------------------------------------------------------------


def _stability_rows(session: Session, scope: Scope) -> Iterator[Row]:
    matches = matches_in(session, scope)
    visits: dict[int, list[Visit]] = defaultdict(list)
    if matches:
        for visit in session.scalars(
            select(Visit)
            .where(
                Visit.match_id.in_([m.id for m in matches]),
                Visit.planned_date >= scope.start,
                Visit.planned_date <= scope.end,
            )
            .order_by(Visit.planned_date)
        ):
            visits[visit.match_id].append(visit)
    for match in matches:
        first = max(scope.start, match.start_date)
        last = min(scope.end, match.end_date or scope.end)
        for month in _months(first, last):
            month_end = month + relativedelta(months=1) - timedelta(days=1)
            lo, hi = max(first, month), min(last, month_end)
            in_month = [v for v in visits[match.id] if lo <= v.planned_date <= hi]
            counts = Counter(v.status for v in in_month)
            cancelled = Counter(
                v.cancelled_by for v in in_month if v.status == VisitStatus.CANCELLED
            )
            visit_days = [v.planned_date for v in in_month if v.status == VisitStatus.VISITED]
            # The match's visit weeks in the month (Monday to Sunday), paused weeks left out.
            weeks = {
                d - timedelta(days=d.weekday())
                for d in (lo + timedelta(days=n) for n in range((hi - lo).days + 1))
                if d.weekday() == match.visit_weekday and not _paused(match.pauses, d)
            }
            with_visit = {d - timedelta(days=d.weekday()) for d in visit_days} & weeks
            days = [lo - timedelta(days=1), *visit_days, hi + timedelta(days=1)]
            gap = max(b - a for a, b in pairwise(days)).days - 1
            yield {
                **match_values(match),
                "month": month.strftime("%Y-%m"),
                "visits_confirmed": counts[VisitStatus.VISITED],
                "meetings": sum(v.times or 1 for v in in_month if v.status == VisitStatus.VISITED),
                "cancelled_by_volunteer_family": cancelled[CancelledBy.VOLUNTEER_FAMILY],
                "cancelled_by_child_family": cancelled[CancelledBy.CHILD_FAMILY],
                "cancelled_illness": cancelled[CancelledBy.ILLNESS],
                "cancelled_other": cancelled[CancelledBy.OTHER] + cancelled[None],
                "missed": counts[VisitStatus.MISSED],
                "visit_weeks": len(weeks),
                "weeks_with_visit": len(with_visit),
                "share_of_weeks_with_visit": share_of(len(with_visit), len(weeks)),
                "longest_gap_days": gap,
            }


STABILITY = Report(
    "stability",
    N_(
        "One row per match and calendar month of the period: visits confirmed, cancelled (by whom), "
        "missed; the share of visit weeks with a visit and the longest gap."
    ),
    (
        *match_columns(),
        Column("month", "text", N_("The calendar month, YYYY-MM (only the days the match ran).")),
        Column("visits_confirmed", "integer", N_("Visits the volunteer family confirmed.")),
        Column(
            "meetings",
            "integer",
            N_(
                "Times the child and the family met: a confirmed visit counts once, or as many times "
                "as the family reported (the programmes that meet 2-3 times a month)."
            ),
        ),
        Column(
            "cancelled_by_volunteer_family", "integer", N_("Visits the volunteer family cancelled.")
        ),
        Column("cancelled_by_child_family", "integer", N_("Visits the child's family cancelled.")),
        Column("cancelled_illness", "integer", N_("Visits cancelled because of illness.")),
        Column(
            "cancelled_other", "integer", N_("Visits cancelled for another or no given reason.")
        ),
        Column("missed", "integer", N_("Visits that did not happen without being cancelled.")),
        Column(
            "visit_weeks",
            "integer",
            N_(
                "Weeks (Monday to Sunday) whose visit day falls in the month, paused weeks left out."
            ),
        ),
        Column(
            "weeks_with_visit", "integer", N_("Of those weeks, the ones with a confirmed visit.")
        ),
        Column(
            "share_of_weeks_with_visit",
            "decimal",
            N_("weeks_with_visit / visit_weeks, 0 to 1; empty when there was no visit week."),
        ),
        Column(
            "longest_gap_days",
            "integer",
            N_("The longest run of days in the month without a confirmed visit."),
        ),
    ),
    _stability_rows,
)
