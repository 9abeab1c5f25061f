"""The report of the volunteer families on the waiting list."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.reports.base import Column, Report, Row, Scope
from scheduler.i18n import N_
from store.models import (
    OutboxMessage,
    OutboxStatus,
    Referral,
    Staff,
    StaffRole,
    VolunteerFamily,
    WaitStatus,
)
from store.models import Programme as ProgrammeRow


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
