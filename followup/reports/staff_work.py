"""The reports about the staff's work: follow-up tasks done on time, and Mentorbarn's invoices."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime
from statistics import median

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from followup import contacts
from followup.reports.base import (
    Column,
    Report,
    Row,
    Scope,
    match_columns,
    match_values,
    matches_in,
)
from scheduler.i18n import N_
from store.models import Escalation, Match, MatchStatus, StaffContact, Task, TaskStatus

INVOICE_TOUCHPOINT = "invoice-reminder"  # Mentorbarn: "Opkrævning sker tre måneder efter..."


def _hours(later: datetime | None, earlier: datetime) -> float | None:
    return round((later - earlier).total_seconds() / 3600, 1) if later is not None else None


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
    matches = matches_in(session, scope)
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
            **match_values(match),
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
        *match_columns(),
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
            **match_values(match),
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
        *match_columns(),
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
