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

Staff get a task when someone has waited ``waiting.staff_task_after`` (once per spell), and for
each household member of a volunteer family (``certificates`` of the family's programme): a task
``renew_before`` each certificate runs out (``valid_for`` after its date), and a task when a
member reaches ``required_from_age`` by birth year (the year they turn 15) without both
certificates. Tasks go to the staff member of the family's running match (and belong to that
match), else to the referral's staff member, else to a coordinator of the family's region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from scheduler import outbox
from scheduler.i18n import N_, texts
from scheduler.programme import Programme, Waiting
from scheduler.recipients import Recipient, contact_recipient, family_recipient
from scheduler.timeline import localize
from scheduler.working_days import next_working_day
from store.models import (
    Audience,
    ContactPerson,
    HouseholdMember,
    Match,
    MatchStatus,
    Referral,
    Staff,
    StaffRole,
    Task,
    VolunteerFamily,
    WaitStatus,
)
from store.models import Programme as ProgrammeRow
from store.queries import insert_ignore

TOUCHPOINT = "waiting-note"
KIND = "waiting_note"
TEMPLATE = "waiting_note"
TASK_AT = time(9, 0)
ACTIVE = (WaitStatus.APPLIED, WaitStatus.SCREENING, WaitStatus.WAITING, WaitStatus.MATCHED)
CERTIFICATES = ("child_certificate_on", "criminal_record_on")
NOT_WAITING = N_("no longer waiting for a match")

# Staff task titles (English ids; the catalogs have the other languages).
_TITLES: dict[str, str] = {
    "family_waited": N_(
        "%(family)s has waited %(weeks)s weeks for a match: call them and hear how they are"
    ),
    "referral_waited": N_(
        "%(child)s has waited %(weeks)s weeks for a volunteer family: call the parent or contact "
        "person"
    ),
    "child_certificate_on": N_(
        "Renew the child record certificate of %(name)s (%(family)s): it runs out on %(date)s"
    ),
    "criminal_record_on": N_(
        "Renew the criminal record certificate of %(name)s (%(family)s): it runs out on %(date)s"
    ),
    "turns_of_age": N_(
        "%(name)s (%(family)s) turns %(age)s in %(year)s: obtain a child and a criminal record "
        "certificate"
    ),
}


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


def weeks_since(since: date, day: date) -> int:
    return max((day - since).days // 7, 0)


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
    owners = _Owners(session)
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
        task = _waited_task(
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
        task = _waited_task(
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
    tasks += _certificate_tasks(session, programmes, slugs, owners, now, zone)
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


def _waited_task(
    waiting: Waiting,
    party: str,
    since: date,
    now: datetime,
    zone: ZoneInfo,
    owner: Staff | None,
    title: str,
    names: dict[str, str],
) -> dict[str, Any] | None:
    if waiting.staff_task_after is None:
        return None
    due_day = waiting.staff_task_after.add(since)
    if now.astimezone(zone).date() < due_day:
        return None
    weeks = weeks_since(since, due_day)
    return _task(
        f"wait:{party}:{since.isoformat()}:long",
        None,
        owner,
        _title(title, owner, weeks=weeks, **names),
        due_day,
        now,
        zone,
    )


def _certificate_tasks(
    session: Session,
    programmes: Mapping[str, Programme],
    slugs: Mapping[int, str],
    owners: _Owners,
    now: datetime,
    zone: ZoneInfo,
) -> list[dict[str, Any]]:
    today = now.astimezone(zone).date()
    tasks: list[dict[str, Any]] = []
    members = session.execute(
        select(HouseholdMember, VolunteerFamily)
        .join(VolunteerFamily, VolunteerFamily.id == HouseholdMember.volunteer_family_id)
        .order_by(HouseholdMember.id)
    ).all()
    for member, family in members:
        running = owners.running_match(family.id)
        if running is None and family.status not in ACTIVE:
            continue  # neither matched nor on the way to a match: nothing to renew
        programme_id = running.programme_id if running is not None else family.programme_id
        programme = programmes.get(slugs.get(programme_id or 0, ""))
        rules = programme.certificates if programme is not None else None
        if rules is None:
            continue
        owner = owners.for_family(family)
        match_id = running.id if running is not None else None
        for kind in CERTIFICATES:
            issued: date | None = getattr(member, kind)
            if issued is None:
                continue
            expires = rules.valid_for.add(issued)
            due_day = expires - (rules.renew_before.add(expires) - expires)
            if today < due_day:
                continue
            tasks.append(
                _task(
                    f"cert:h{member.id}:{kind}:{issued.isoformat()}",
                    match_id,
                    owner,
                    _title(kind, owner, name=member.first_name, family=family.name, date=expires),
                    due_day,
                    now,
                    zone,
                )
            )
        of_age = member.birth_year + rules.required_from_age
        missing = member.child_certificate_on is None or member.criminal_record_on is None
        if missing and today.year >= of_age:
            tasks.append(
                _task(
                    f"cert:h{member.id}:of-age",
                    match_id,
                    owner,
                    _title(
                        "turns_of_age",
                        owner,
                        name=member.first_name,
                        family=family.name,
                        age=rules.required_from_age,
                        year=of_age,
                    ),
                    today,
                    now,
                    zone,
                )
            )
    return tasks


def _task(
    key: str,
    match_id: int | None,
    owner: Staff | None,
    title: str,
    day: date,
    now: datetime,
    zone: ZoneInfo,
) -> dict[str, Any]:
    """A task due at 09:00 on ``day`` (the next working day), but not before today."""
    today = now.astimezone(zone).date()
    due_day = next_working_day(max(day, today))
    due = localize(datetime.combine(due_day, TASK_AT), zone).astimezone(UTC)
    return {
        "idempotency_key": key,
        "match_id": match_id,
        "touchpoint_id": "certificate" if key.startswith("cert:") else "waiting",
        "kind": "certificate" if key.startswith("cert:") else "call",
        "title": title[:200],
        "owner_id": owner.id if owner is not None else None,
        "due_at": due,
        "created_at": now,
        "updated_at": now,
    }


def _title(which: str, owner: Staff | None, **values: Any) -> str:
    locale = owner.locale.value if owner is not None else "da"
    shown = {
        k: (v.strftime("%d.%m.%Y") if locale == "da" else v.isoformat())
        if isinstance(v, date)
        else v
        for k, v in values.items()
    }
    return texts(locale).gettext(_TITLES[which], **shown)


class _Owners:
    """Who a waiting party's or a household's task goes to (looked up once per pass)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._running: dict[int, Match | None] = {}
        self._coordinators: list[Staff] | None = None

    def running_match(self, family_id: int) -> Match | None:
        """The family's running match (the oldest), looked up once per family and pass."""
        if family_id not in self._running:
            self._running[family_id] = self.session.scalars(
                select(Match)
                .where(Match.volunteer_family_id == family_id, Match.status != MatchStatus.ENDED)
                .order_by(Match.id)
                .limit(1)
            ).first()
        return self._running.get(family_id)

    def coordinator(self, region: str) -> Staff | None:
        if self._coordinators is None:
            self._coordinators = list(
                self.session.scalars(
                    select(Staff)
                    .where(
                        Staff.active.is_(True),
                        Staff.role.in_((StaffRole.COORDINATOR, StaffRole.ADMIN)),
                    )
                    .order_by(Staff.role, Staff.id)
                )
            )
        ranked = sorted(
            self._coordinators,
            key=lambda s: (s.region != region, s.role != StaffRole.COORDINATOR, s.id),
        )
        return ranked[0] if ranked else None

    def for_family(self, family: VolunteerFamily) -> Staff | None:
        running = self.running_match(family.id)
        if running is not None and running.staff is not None:
            return running.staff
        return self.coordinator(family.region)

    def for_referral(self, referral: Referral) -> Staff | None:
        if referral.staff is not None and referral.staff.active:
            return referral.staff
        return self.coordinator(referral.region)


# -- at send time ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteParty:
    """Who a waiting note is for, as they are now, and what its template needs."""

    programme: Programme
    recipient: Recipient
    since: date
    child: str | None
    staff: Staff | None
    channels: tuple[str, ...] = ()
    contact: ContactPerson | None = None  # a referred child's parent (for the unsubscribe link)


def recipient_for(
    session: Session, row: Any, programmes: Mapping[str, Programme]
) -> NoteParty | str:
    """The party of a waiting note, or why it must not go (no longer waiting, gone)."""
    context = row.context or {}
    programme = programmes.get(str(context.get("programme")))
    if programme is None:
        return N_("programme or recipient no longer exists")
    referral_id = context.get("referral_id")
    if referral_id is None:
        family = session.get(VolunteerFamily, row.recipient_id)
        if family is None or family.status_since is None:
            return N_("programme or recipient no longer exists")
        if family.status != WaitStatus.WAITING or row.occurrence_key.split(":")[0] != (
            family.status_since.isoformat()
        ):
            return NOT_WAITING
        staff = _Owners(session).coordinator(family.region)
        channels = programme.waiting.family_channels if programme.waiting else ()
        return NoteParty(
            programme,
            family_recipient(family),
            family.status_since,
            None,
            staff,
            tuple(str(c) for c in channels),
        )
    referral = session.get(Referral, int(referral_id))
    if referral is None or referral.contact_person is None:
        return N_("programme or recipient no longer exists")
    if referral.status != WaitStatus.WAITING or referral.contact_person.id != row.recipient_id:
        return NOT_WAITING
    return NoteParty(
        programme,
        contact_recipient(referral.contact_person),
        referral.status_since,
        referral.child.first_name,
        referral.staff,
        tuple(str(c) for c in (programme.waiting.contact_channels if programme.waiting else ())),
        referral.contact_person,
    )


def note_context(
    party: NoteParty, now: datetime, unsubscribe_url: str | None = None
) -> dict[str, Any]:
    zone = ZoneInfo(party.recipient.timezone)
    staff = party.staff
    return {
        "locale": party.recipient.locale,
        "programme": {
            "name": party.programme.name,
            "organisation": party.programme.organisation,
        },
        "recipient": {"name": party.recipient.name, "kind": party.recipient.audience.value},
        "child": {"first_name": party.child} if party.child else None,
        "staff": (
            {"name": staff.name, "phone": staff.phone, "email": staff.email} if staff else None
        ),
        "weeks": weeks_since(party.since, now.astimezone(zone).date()),
        "reminder": False,
        "unsubscribe_url": unsubscribe_url,
    }


__all__ = [
    "KIND",
    "NOT_WAITING",
    "TOUCHPOINT",
    "NoteParty",
    "WaitingStats",
    "note_context",
    "note_times",
    "plan_waiting",
    "recipient_for",
]
