"""The named cast used across tests: a procesleder, a volunteer family, a child, a parent.

Role names only; example numbers and addresses.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy.orm import Session

from followup.matches import sync_programmes
from scheduler.programme import PROGRAMMES_DIR, Programme, load_all
from store.models import (
    Cadence,
    Channel,
    Child,
    ContactPerson,
    Locale,
    Match,
    MatchStatus,
    Staff,
    StaffRole,
    VolunteerFamily,
)

PROGRAMMES: dict[str, Programme] = load_all(PROGRAMMES_DIR)


def make_match(
    session: Session,
    programme: str = "hjem-til-os",
    start: date = date(2026, 3, 2),
    weekday: int = 0,
    created_at: datetime = datetime(2026, 2, 20, tzinfo=UTC),
    telegram_chat_id: int | None = 5001,
    family_email: str | None = "familie@example.org",
    parent_channel: Channel = Channel.SMS,
    parent_locale: Locale = Locale.DA,
    parent_opted_out: bool = False,
    cadence: Cadence | None = None,
) -> Match:
    rows = sync_programmes(session, PROGRAMMES.values())
    procesleder = Staff(
        name="Procesleder",
        role=StaffRole.PROCESLEDER,
        email="procesleder@example.org",
        phone="+4520123401",
        region="Hovedstaden",
    )
    family = VolunteerFamily(
        name="Familien Eksempel",
        contact_name="Kontaktvoksen",
        phone="+4520123411",
        email=family_email,
        telegram_chat_id=telegram_chat_id,
        region="Hovedstaden",
    )
    parent = ContactPerson(
        name="Forælder",
        phone="+4520123421",
        email="foraelder@example.org",
        preferred_channel=parent_channel,
        locale=parent_locale,
        opted_out=parent_opted_out,
    )
    match = Match(
        programme=rows[programme],
        child=Child(first_name="Barn A", birth_year=2018),
        volunteer_family=family,
        staff=procesleder,
        region="Hovedstaden",
        start_date=start,
        visit_weekday=weekday,
        visit_time=time(15, 30),
        cadence=cadence or Cadence(PROGRAMMES[programme].cadence.value),
        status=MatchStatus.ACTIVE,
        contacts=[parent],
        created_at=created_at,
    )
    session.add(match)
    session.flush()
    return match
