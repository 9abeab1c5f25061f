"""The waiting list's own touchpoints, and the certificate tasks of volunteer families.

A volunteer family approved and waiting for a match (``status = waiting``), and a child referred
to a programme and waiting for a family (a :class:`~store.models.Referral`), hear from us every
``waiting.note_every`` of their programme, counted from the day they began waiting, at
``waiting.note_at`` on their own wall clock: a short, warm note on the first channel they can be
reached on (the family by ``family_channels``, a referred child's parent or contact person by
``contact_channels``). The notes are outbox rows like every message: one idempotency key per
party, spell of waiting and number, so they never go twice; the dispatcher keeps SMS to its
sending hours and cancels a note whose party is no longer waiting (:func:`recipient_for`).
A note more than its ``expiry`` overdue when first planned (a party imported after months of
waiting) is not sent late; the next one is.

Staff get a task when someone has waited too long, and tasks about household members'
certificates (:mod:`followup.waiting_tasks`). What a note says is decided when it is sent
(:mod:`scheduler.waiting_notes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from followup.waiting_tasks import certificate_tasks, waited_task
from scheduler import outbox
from scheduler.i18n import N_
from scheduler.programme import Programme, Waiting
from scheduler.recipients import Recipient, contact_recipient, family_recipient
from scheduler.timeline import localize
from scheduler.waiting_notes import KIND, TEMPLATE, TOUCHPOINT, Owners
from store.models import Audience, Referral, Task, VolunteerFamily, WaitStatus
from store.models import Programme as ProgrammeRow
from store.queries import insert_ignore


@dataclass
class WaitingStats:
    notes: int = 0
    tasks: int = 0


def note_times(
    since: date, waiting: Waiting, zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[int, datetime]]:
    """The notes of a spell of waiting that began on ``since`` due in ``[start, end]``: their
    number (1 for the first) and when (UTC), at ``note_at`` on the party's wall clock."""
    found: list[tuple[int, datetime]] = []
    for number in range(1, 521):
        day = since + waiting.note_every.delta * number
        moment = localize(datetime.combine(day, waiting.note_at), zone).astimezone(UTC)
        if moment > end:
            break
        if moment >= start:
            found.append((number, moment))
    return found


def plan_waiting(
    session: Session,
    programmes: Mapping[str, Programme],
    now: datetime,
    zone: ZoneInfo,
    horizon: timedelta = timedelta(days=14),
) -> WaitingStats:
    """Plan the waiting notes due up to ``now + horizon`` and the waiting and certificate tasks
    due by today. Idempotent: planning again adds nothing."""
    stats = WaitingStats()
    rows: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    slugs = {p.id: p.slug for p in session.scalars(select(ProgrammeRow))}
    owners = Owners(session)
    families = session.scalars(
        select(VolunteerFamily).where(
            VolunteerFamily.status == WaitStatus.WAITING,
            VolunteerFamily.status_since.is_not(None),
            VolunteerFamily.programme_id.is_not(None),
        )
    )
    for family in families:
        programme = programmes.get(slugs.get(family.programme_id or 0, ""))
        if programme is None or programme.waiting is None or family.status_since is None:
            continue
        recipient = family_recipient(family)
        party = f"f{family.id}"
        found = _notes(programme.waiting, recipient, party, family.status_since, now, horizon)
        for row in found:
            row["context"] = {"programme": programme.id}
        rows += found
        owner = owners.for_family(family)
        task = waited_task(
            programme.waiting,
            party,
            family.status_since,
            now,
            zone,
            owner,
            "family_waited",
            {"family": family.name},
        )
        if task is not None:
            tasks.append(task)
    referrals = session.scalars(
        select(Referral)
        .where(Referral.status == WaitStatus.WAITING)
        .options(selectinload(Referral.child), selectinload(Referral.contact_person))
    )
    for referral in referrals:
        programme = programmes.get(slugs.get(referral.programme_id, ""))
        if programme is None or programme.waiting is None:
            continue
        context = {"programme": programme.id, "referral_id": referral.id}
        contact = referral.contact_person
        if contact is not None and not contact.opted_out:
            party = f"r{referral.id}c{contact.id}"
            found = _notes(
                programme.waiting,
                contact_recipient(contact),
                party,
                referral.status_since,
                now,
                horizon,
            )
            for row in found:
                row["context"] = context
            rows += found
        owner = owners.for_referral(referral)
        task = waited_task(
            programme.waiting,
            f"r{referral.id}",
            referral.status_since,
            now,
            zone,
            owner,
            "referral_waited",
            {"child": referral.child.first_name},
        )
        if task is not None:
            tasks.append(task)
    tasks += certificate_tasks(session, programmes, slugs, owners, now, zone)
    stats.notes = outbox.insert(session, rows)
    stats.tasks = insert_ignore(session, Task, tasks, "idempotency_key")
    return stats


def _notes(
    waiting: Waiting,
    recipient: Recipient,
    party: str,
    since: date,
    now: datetime,
    horizon: timedelta,
) -> list[dict[str, Any]]:
    zone = ZoneInfo(recipient.timezone)
    channels = [
        str(c)
        for c in (
            waiting.family_channels
            if recipient.audience.value == Audience.VOLUNTEER_FAMILY.value
            else waiting.contact_channels
        )
    ]
    channel = recipient.choose(channels)
    wall = now.replace(tzinfo=None)
    start = now - (waiting.expiry.add(wall) - wall)  # older notes are not sent late
    found = []
    for number, due in note_times(since, waiting, zone, start, now + horizon):
        values = {
            "idempotency_key": outbox.key_for_waiting_note(party, since, number),
            "match_id": None,
            "touchpoint_id": TOUCHPOINT,
            "occurrence_key": f"{since.isoformat()}:{number}",
            "kind": KIND,
            "template": TEMPLATE,
            "audience": Audience(recipient.audience.value),
            "recipient_id": recipient.id,
            "channel": channel or channels[0],
            "locale": recipient.locale,
            "essential": False,
            "due_at": due,
            "expires_at": waiting.expiry.add(due.replace(tzinfo=None)).replace(tzinfo=UTC),
            "plan_version": 1,
            "created_at": now,
            "updated_at": now,
        }
        unreachable = None if channel is not None else N_("no usable address for the waiting note")
        found.append(outbox.new_row(values, unreachable=unreachable))
    return found


__all__ = ["WaitingStats", "note_times", "plan_waiting"]
