"""Reports an evaluator loads as they are: one row per thing counted, stable column names, ISO
dates, and a codebook that describes every column.

Each report is a :class:`Report` (its columns and a function that yields its rows for a
:class:`Scope`: a period and, optionally, a programme, a staff member and a region). The rows
hold plain values (``int``, ``float``, ``str``, ``date``, ``bool`` or ``None``); writing them as
CSV or ``.xlsx`` is :mod:`followup.report_files`' job. No report carries a name, a phone number
or free text: matches are named by their id and the organisation's own reference.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from itertools import pairwise
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from followup import contacts
from followup.child_voice import voice_surveys
from followup.survey_reports import results
from followup.survey_results import saved_answers
from scheduler.i18n import N_, SOURCE_LANGUAGE, texts
from scheduler.programme import Programme
from store.models import (
    CancelledBy,
    Escalation,
    Match,
    MatchPause,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    Referral,
    Staff,
    StaffContact,
    StaffRole,
    SurveyInvitation,
    Task,
    TaskStatus,
    Visit,
    VisitStatus,
    VolunteerFamily,
    WaitStatus,
)
from store.models import Programme as ProgrammeRow
from store.validation import ascii_digits

Value = int | float | str | date | bool | None
Row = dict[str, Value]

INVOICE_TOUCHPOINT = "invoice-reminder"  # Mentorbarn: "Opkrævning sker tre måneder efter..."


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


def _matches_in(session: Session, scope: Scope) -> list[Match]:
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


def _paused(pauses: Iterable[MatchPause], day: date) -> bool:
    return any(p.start_date <= day and (p.end_date is None or day < p.end_date) for p in pauses)


def _months(start: date, end: date) -> Iterator[date]:
    month = start.replace(day=1)
    while month <= end:
        yield month
        month += relativedelta(months=1)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _hours(later: datetime | None, earlier: datetime) -> float | None:
    return round((later - earlier).total_seconds() / 3600, 1) if later is not None else None


def _match_columns() -> tuple[Column, ...]:
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


def _match_values(match: Match) -> Row:
    return {
        "match_id": match.id,
        "match_ref": match.external_ref or "",
        "programme": match.programme.slug,
        "region": match.region,
        "staff_ref": (match.staff.external_ref or str(match.staff.id)) if match.staff else "",
    }


# -- matches -----------------------------------------------------------------------------------


def _matches_rows(session: Session, scope: Scope) -> Iterator[Row]:
    matches = _matches_in(session, scope)
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
            **_match_values(match),
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
        *_match_columns(),
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
    matches = _matches_in(session, scope)
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
                **_match_values(match),
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
                "share_of_weeks_with_visit": _share(len(with_visit), len(weeks)),
                "longest_gap_days": gap,
            }


STABILITY = Report(
    "stability",
    N_(
        "One row per match and calendar month of the period: visits confirmed, cancelled (by whom), "
        "missed; the share of visit weeks with a visit and the longest gap."
    ),
    (
        *_match_columns(),
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


# -- follow-up ---------------------------------------------------------------------------------


def _contacts_in(session: Session, matches: list[Match], scope: Scope) -> Counter[tuple[int, str]]:
    """Per match and party, the contacts in the period (see :mod:`followup.contacts`)."""
    counted: Counter[tuple[int, str]] = Counter()
    if not matches:
        return counted
    by_id = {m.id: m for m in matches}
    for match_id, recorded_with in session.execute(
        select(StaffContact.match_id, StaffContact.party).where(
            StaffContact.match_id.in_(by_id),
            StaffContact.on_date >= scope.start,
            StaffContact.on_date <= scope.end,
        )
    ):
        counted[(match_id, recorded_with)] += 1
    start, end = scope.bounds()
    for task in session.scalars(
        select(Task).where(
            Task.match_id.in_(by_id),
            Task.status == TaskStatus.DONE,
            Task.completed_at >= start,
            Task.completed_at < end,
            Task.touchpoint_id.is_not(None),
        )
    ):
        party = contacts.counterpart(
            by_id[task.match_id or 0], task.touchpoint_id or "", scope.programmes
        )
        if party is not None:
            counted[(task.match_id or 0, party)] += 1
    return counted


def _on_time(task: Task, scope: Scope) -> bool:
    done_on, due_on = scope.local(task.completed_at), scope.local(task.due_at)
    return done_on is not None and due_on is not None and done_on <= due_on


def _followup_rows(session: Session, scope: Scope) -> Iterator[Row]:
    matches = _matches_in(session, scope)
    ids = [m.id for m in matches]
    start, end = scope.bounds()
    tasks: dict[int, list[Task]] = defaultdict(list)
    cases: dict[int, list[Escalation]] = defaultdict(list)
    if ids:
        for task in session.scalars(
            select(Task).where(Task.match_id.in_(ids), Task.due_at >= start, Task.due_at < end)
        ):
            if task.match_id is not None:
                tasks[task.match_id].append(task)
        for case in session.scalars(
            select(Escalation).where(
                Escalation.match_id.in_(ids),
                Escalation.created_at >= start,
                Escalation.created_at < end,
            )
        ):
            if case.match_id is not None:
                cases[case.match_id].append(case)
    counted = _contacts_in(session, matches, scope)
    last = contacts.last_contacts(session, matches, scope.programmes, scope.zone, scope.end)
    for match in matches:
        due = tasks[match.id]
        programme = scope.programmes.get(match.programme.slug)
        next_due = contacts.next_due(match, programme, last) if programme else {}
        done = [t for t in due if t.status == TaskStatus.DONE and t.completed_at is not None]
        on_time = [t for t in done if _on_time(t, scope)]
        opened = cases[match.id]
        to_ack = [h for c in opened if (h := _hours(c.acknowledged_at, c.created_at)) is not None]
        to_resolve = [h for c in opened if (h := _hours(c.resolved_at, c.created_at)) is not None]
        yield {
            **_match_values(match),
            "contacts_with_family": counted[(match.id, "volunteer_family")],
            "contacts_with_parent": counted[(match.id, "contact_person")],
            "next_contact_with_family_due": next_due.get("volunteer_family"),
            "next_contact_with_parent_due": next_due.get("contact_person"),
            "behind_contact_standard": any(d < scope.end for d in next_due.values())
            if match.status != MatchStatus.ENDED
            else False,
            "tasks_due": len(due),
            "tasks_done": len(done),
            "tasks_done_on_time": len(on_time),
            "tasks_open": sum(t.status == TaskStatus.OPEN for t in due),
            "cases_opened": len(opened),
            "cases_by_rule": " ".join(
                f"{rule}:{n}" for rule, n in sorted(Counter(c.rule for c in opened).items())
            ),
            "median_hours_to_acknowledge": round(median(to_ack), 1) if to_ack else None,
            "median_hours_to_resolve": round(median(to_resolve), 1) if to_resolve else None,
        }


FOLLOWUP = Report(
    "followup",
    N_(
        "One row per match: staff tasks due in the period and done on time; cases opened in the "
        "period, by rule, and how long they took to acknowledge and resolve."
    ),
    (
        *_match_columns(),
        Column(
            "contacts_with_family",
            "integer",
            N_(
                "Contacts staff had with the volunteer family in the period: staff tasks done with "
                "the family as counterpart, and contacts recorded with `venskab contact add`."
            ),
        ),
        Column(
            "contacts_with_parent",
            "integer",
            N_("The same with the parent or contact person."),
        ),
        Column(
            "next_contact_with_family_due",
            "date",
            N_(
                "By when the next contact with the volunteer family is due under the programme's "
                "contact standard, from the contacts up to the period's end; empty without a standard."
            ),
        ),
        Column(
            "next_contact_with_parent_due",
            "date",
            N_("The same for the parent or contact person."),
        ),
        Column(
            "behind_contact_standard",
            "boolean",
            N_(
                "A running match whose next contact with either party was due before the period's "
                "end: the matches staff have not contacted as promised."
            ),
        ),
        Column(
            "tasks_due", "integer", N_("Staff tasks (calls, visits, meetings) due in the period.")
        ),
        Column("tasks_done", "integer", N_("Of those, the ones recorded done.")),
        Column("tasks_done_on_time", "integer", N_("Of those, the ones done by their due day.")),
        Column("tasks_open", "integer", N_("Of those, the ones still open today.")),
        Column("cases_opened", "integer", N_("Cases (escalations) opened in the period.")),
        Column(
            "cases_by_rule",
            "text",
            N_(
                "rule:count pairs, space-separated (worry, missed_visits, unanswered_prompts, ...)."
            ),
        ),
        Column(
            "median_hours_to_acknowledge",
            "decimal",
            N_("Median hours from a case's opening to a staff member's acknowledgement."),
        ),
        Column(
            "median_hours_to_resolve", "decimal", N_("Median hours from opening to resolution.")
        ),
    ),
    _followup_rows,
)


# -- surveys -----------------------------------------------------------------------------------


def _survey_rows(session: Session, scope: Scope) -> Iterator[Row]:
    for wave in results(session):
        steps = max(wave.completed_at_step, default=0)
        completed = 0
        for step in range(steps + 1):
            completed += wave.completed_at_step[step]
            yield {
                "survey": wave.survey_id,
                "wave": wave.wave,
                "reminder_step": step,
                "invited": wave.invited,
                "sent": wave.sent,
                "opened": wave.opened,
                "completed_at_step": wave.completed_at_step[step],
                "completed_by_step": completed,
                "response_rate_by_step": _share(completed, wave.sent),
            }


SURVEYS = Report(
    "surveys",
    N_(
        "The survey funnel: per survey, wave and reminder step, how many were invited, sent, opened, "
        "and completed after that step (all time; the paired answers are `venskab survey export`)."
    ),
    (
        Column("survey", "text", N_("The survey's id (its file in surveys/).")),
        Column("wave", "text", N_("baseline, end or followup.")),
        Column(
            "reminder_step",
            "integer",
            N_(
                "0: the invitation itself; 1, 2...: the reminders of the ladder, then the staff call."
            ),
        ),
        Column("invited", "integer", N_("Invitations made for this wave.")),
        Column("sent", "integer", N_("Of those, the ones that reached the respondent.")),
        Column("opened", "integer", N_("Of those, the ones whose link was opened.")),
        Column("completed_at_step", "integer", N_("Completed after this step, before the next.")),
        Column("completed_by_step", "integer", N_("Completed after this step or an earlier one.")),
        Column("response_rate_by_step", "decimal", N_("completed_by_step / sent, 0 to 1.")),
    ),
    _survey_rows,
)


# -- invoices ----------------------------------------------------------------------------------


def _invoice_rows(session: Session, scope: Scope) -> Iterator[Row]:
    start, end = scope.bounds()
    query = scope.matches(
        select(Match)
        .join(Task, Task.match_id == Match.id)
        .where(Task.touchpoint_id == INVOICE_TOUCHPOINT, Task.due_at >= start, Task.due_at < end)
        .options(selectinload(Match.programme), selectinload(Match.staff))
    ).add_columns(Task)
    for match, task in session.execute(query.order_by(Task.due_at, Match.id)):
        yield {
            **_match_values(match),
            "start_date": match.start_date,
            "invoice_due_on": scope.local(task.due_at),
            "sibling": match.sibling,
            "price": "half" if match.sibling else "full",
            "task_status": task.status.value,
        }


INVOICES = Report(
    "invoices",
    N_(
        "Mentorbarn: the matches whose invoice to the municipality falls due in the period (three "
        "months after the start; half price for a sibling), from the invoice-reminder task."
    ),
    (
        *_match_columns(),
        Column("start_date", "date", N_("The day the match started.")),
        Column("invoice_due_on", "date", N_("The day the invoice is due (the task's due day).")),
        Column("sibling", "boolean", N_("A sibling match.")),
        Column("price", "text", N_("full, or half for a sibling.")),
        Column(
            "task_status", "text", N_("open, or done once a staff member recorded it invoiced.")
        ),
    ),
    _invoice_rows,
)


def _may_see_party(viewer: Any, region: str, staff_id: int | None) -> bool:
    if viewer is None or viewer.role == StaffRole.ADMIN:
        return True
    if viewer.role == StaffRole.COORDINATOR:
        return not viewer.region or region == viewer.region or staff_id == viewer.id
    return staff_id == viewer.id


def _waiting_rows(session: Session, scope: Scope) -> Iterator[Row]:
    """Each volunteer family on the waiting list and each referral, as of the period's end."""
    slugs = {p.id: p.slug for p in session.scalars(select(ProgrammeRow))}
    start, end = scope.bounds()
    sent = Counter(
        (row.audience.value, row.recipient_id, (row.context or {}).get("referral_id"))
        for row in session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "waiting_note",
                OutboxMessage.status.in_((OutboxStatus.SENT, OutboxStatus.DELIVERED)),
                OutboxMessage.sent_at >= start,
                OutboxMessage.sent_at < end,
            )
        )
    )
    staff_refs = {s.id: s.external_ref or str(s.id) for s in session.scalars(select(Staff))}
    parties: list[tuple[str, Any, int | None, str, int]] = []
    for family in session.scalars(
        select(VolunteerFamily)
        .where(VolunteerFamily.status.is_not(None))
        .order_by(VolunteerFamily.id)
    ):
        notes = sent[("volunteer_family", family.id, None)]
        parties.append(("volunteer_family", family, family.programme_id, family.region, notes))
    for referral in session.scalars(select(Referral).order_by(Referral.id)):
        notes = sent[("contact_person", referral.contact_person_id or 0, referral.id)]
        parties.append(("referral", referral, referral.programme_id, referral.region, notes))
    for party, record, programme_id, region, count in parties:
        slug = slugs.get(programme_id or 0)
        staff_id = getattr(record, "staff_id", None)
        if scope.programme is not None and slug != scope.programme:
            continue
        if scope.region is not None and region != scope.region:
            continue
        if scope.staff is not None and staff_refs.get(staff_id or 0) != scope.staff:
            continue
        if not _may_see_party(scope.viewer, region, staff_id):
            continue
        since: date | None = record.status_since
        if since is not None and since > scope.end:
            continue  # not yet in that status at the period's end
        days = (scope.end - since).days if since is not None else None
        programme = scope.programmes.get(slug or "")
        waiting = programme.waiting if programme is not None else None
        over = (
            record.status == WaitStatus.WAITING
            and since is not None
            and waiting is not None
            and waiting.staff_task_after is not None
            and waiting.staff_task_after.add(since) <= scope.end
        )
        yield {
            "party": party,
            "party_id": record.id,
            "party_ref": record.external_ref or "",
            "programme": slug or "",
            "region": region,
            "staff_ref": staff_refs.get(staff_id or 0, ""),
            "status": record.status.value if record.status is not None else "",
            "status_since": since,
            "days_in_status": days,
            "waiting_days": days if record.status == WaitStatus.WAITING else None,
            "over_threshold": over,
            "notes_sent": count,
            "match_id": getattr(record, "match_id", None),
        }


WAITING = Report(
    "waiting",
    N_(
        "One row per volunteer family on the waiting list and per referred child, as of the "
        "period's end: status (applied, screening, waiting, matched, paused, left), since when, "
        "how long they have waited, and the waiting notes they were sent in the period."
    ),
    (
        Column(
            "party", "text", N_("volunteer_family, or referral (a child waiting for a family).")
        ),
        Column("party_id", "integer", N_("The family's or the referral's number in venskab.")),
        Column("party_ref", "text", N_("The organisation's own reference (ref in the import).")),
        Column("programme", "text", N_("The programme they wait for (its id).")),
        Column("region", "text", N_("The region.")),
        Column("staff_ref", "text", N_("The referral's staff member (empty for a family).")),
        Column(
            "status",
            "text",
            N_(
                "applied, screening, waiting (approved, waiting for a match), matched, paused or left."
            ),
        ),
        Column("status_since", "date", N_("The day the status began.")),
        Column("days_in_status", "integer", N_("Days from status_since to the period's end.")),
        Column(
            "waiting_days", "integer", N_("For status waiting: days waited so far; else empty.")
        ),
        Column(
            "over_threshold",
            "boolean",
            N_("Waiting longer than the programme's waiting.staff_task_after (staff get a task)."),
        ),
        Column("notes_sent", "integer", N_("Waiting notes sent to them in the period.")),
        Column("match_id", "integer", N_("A matched referral: the match's number.")),
    ),
    _waiting_rows,
)


# -- the child's voice -------------------------------------------------------------------------

VOICE_SMILEYS = ("feel_at_family", "doing_things", "look_forward")


def _child_voice_rows(session: Session, scope: Scope) -> Iterator[Row]:
    start, end = scope.bounds()
    surveys = voice_surveys()
    query = scope.matches(
        select(Match)
        .join(SurveyInvitation, SurveyInvitation.match_id == Match.id)
        .where(
            SurveyInvitation.survey_id.in_(list(surveys)),
            SurveyInvitation.completed_at >= start,
            SurveyInvitation.completed_at < end,
        )
        .options(selectinload(Match.programme), selectinload(Match.staff))
    ).add_columns(SurveyInvitation)
    for match, invitation in session.execute(
        query.order_by(SurveyInvitation.completed_at, Match.id)
    ):
        answers = saved_answers(session, invitation.id)
        smileys = [int(answers[q]) for q in VOICE_SMILEYS if ascii_digits(answers.get(q, ""))]
        yield {
            **_match_values(match),
            "moment": invitation.wave,
            "relayed_by": "volunteer_family" if invitation.volunteer_family_id else "parent",
            "answered_on": scope.local(invitation.completed_at),
            **{
                q: int(answers[q]) if ascii_digits(answers.get(q, "")) else None
                for q in VOICE_SMILEYS
            },
            "smiley_mean": round(sum(smileys) / len(smileys), 2) if smileys else None,
            "own_words": bool(answers.get("like_best")),
        }


CHILD_VOICE = Report(
    "child-voice",
    N_(
        "The child's voice: per match, each moment (3 or 9 months into the match) whose child-friendly "
        "check-in was answered in the period, relayed by the volunteer family or the parent. The "
        "child's own words stay on the match page (they may name people)."
    ),
    (
        *_match_columns(),
        Column("moment", "text", N_("How far into the match: 3mo, 9mo.")),
        Column(
            "relayed_by", "text", N_("volunteer_family or parent: the adult who asked the child.")
        ),
        Column("answered_on", "date", N_("The day the answers were completed.")),
        Column(
            "feel_at_family", "integer", N_("How the child feels at the family, 1 (😟) to 5 (😄).")
        ),
        Column("doing_things", "integer", N_("Doing things together with them, 1 (😟) to 5 (😄).")),
        Column("look_forward", "integer", N_("Looking forward to next time, 1 (😟) to 5 (😄).")),
        Column("smiley_mean", "decimal", N_("The mean of the smiley answers given, 1 to 5.")),
        Column("own_words", "boolean", N_("The child's own words were written down too.")),
    ),
    _child_voice_rows,
)


REPORTS: dict[str, Report] = {
    r.name: r for r in (MATCHES, STABILITY, FOLLOWUP, SURVEYS, INVOICES, WAITING, CHILD_VOICE)
}


def described(columns: Iterable[Column], locale: str) -> tuple[Column, ...]:
    """The columns with their descriptions in language ``locale`` (the names stay: they are
    the data format)."""
    words = texts(locale)
    return tuple(replace(c, description=words.gettext(c.description)) for c in columns)


def codebook_rows(locale: str = SOURCE_LANGUAGE) -> Iterator[Row]:
    """Every column of every report: what an evaluator needs to load the files as they are,
    described in language ``locale``."""
    for report in REPORTS.values():
        for column in described(report.columns, locale):
            yield {
                "report": report.name,
                "column": column.name,
                "type": column.type,
                "description": column.description,
            }


CODEBOOK_COLUMNS = (
    Column("report", "text", N_("The report's name.")),
    Column("column", "text", N_("The column's name, as in the report's header.")),
    Column("type", "text", N_("integer, decimal (a dot), text, date (YYYY-MM-DD) or boolean.")),
    Column("description", "text", N_("What the column counts or holds.")),
)


def run(
    session: Session, name: str, scope: Scope, locale: str = SOURCE_LANGUAGE
) -> tuple[tuple[Column, ...], list[Row]]:
    """The report's columns, described in language ``locale``, and its rows (``codebook`` is
    the codebook)."""
    if name == "codebook":
        return described(CODEBOOK_COLUMNS, locale), list(codebook_rows(locale))
    report = REPORTS[name]
    return described(report.columns, locale), list(report.rows(session, scope))


def summary(columns: tuple[Column, ...], rows: list[Row]) -> dict[str, int]:
    """Totals of the counting columns, for the line printed after a report."""
    totals: dict[str, int] = {}
    for column in columns:
        if (
            column.type != "integer"
            or column.name.endswith("_id")
            or column.name == "reminder_step"
        ):
            continue
        totals[column.name] = sum(v for r in rows if isinstance(v := r.get(column.name), int))
    return totals


# -- the figures behind the reports page's pictures -------------------------------------------


def visits_per_week(session: Session, scope: Scope) -> list[tuple[date, int]]:
    """Confirmed visits per week (Monday to Sunday) of the period, over the matches in scope;
    every week of the period is there, also one without a visit."""
    ids = [m.id for m in _matches_in(session, scope)]
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
        return _share(self.still_active, self.still_active + self.ended_before)


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
