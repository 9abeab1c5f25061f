"""Staff tasks about the waiting list and about volunteer families' certificates.

A task when someone has waited ``waiting.staff_task_after`` (once per spell), and for each
household member of a volunteer family (``certificates`` of the family's programme): a task
``renew_before`` each certificate runs out (``valid_for`` after its date), and a task when a
member reaches ``required_from_age`` by birth year (the year they turn 15) without both
certificates. Tasks go to the staff member of the family's running match (and belong to that
match), else to the referral's staff member, else to a coordinator of the family's region.
Planned by :func:`followup.waiting.plan_waiting`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.i18n import N_, texts
from scheduler.programme import Programme, Waiting
from scheduler.timeline import localize
from scheduler.waiting_notes import Owners, weeks_since
from scheduler.working_days import next_working_day
from store.models import HouseholdMember, Staff, VolunteerFamily, WaitStatus

TASK_AT = time(9, 0)
ACTIVE = (WaitStatus.APPLIED, WaitStatus.SCREENING, WaitStatus.WAITING, WaitStatus.MATCHED)
CERTIFICATES = ("child_certificate_on", "criminal_record_on")

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


def waited_task(
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


def certificate_tasks(
    session: Session,
    programmes: Mapping[str, Programme],
    slugs: Mapping[int, str],
    owners: Owners,
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
