"""Demo data for the embedded default: one match per programme, each at another stage of its year.

People are named by role only ("Barn A", "Venskabsfamilie 1"); phone numbers and addresses are
example values. After seeding, the past is replayed through the real planner and dispatcher with
sandbox channels, so the outbox shows what the system would have sent until today.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from followup.matches import sync_programmes
from scheduler.facts import facts_for
from scheduler.programme import Kind
from scheduler.timeline import occurrences
from store.models import (
    Cadence,
    CancelledBy,
    Child,
    ContactPerson,
    Locale,
    Match,
    MatchStatus,
    Staff,
    StaffRole,
    Visit,
    VisitStatus,
    VolunteerFamily,
)
from venskab.cli.common import AppContext

ZONE = ZoneInfo("Europe/Copenhagen")

# (programme, child, weeks since start, weekday, cadence, contact locale)
CAST = [
    ("hjem-til-os", "Barn A", 2018, 17, 0, Cadence.WEEKLY, Locale.DA),
    ("mentorbarn", "Barn B", 2014, 3, 2, Cadence.TWO_THREE_MONTHLY, Locale.EN),
    ("familien-i-fokus", "Barn C", 2019, 46, 3, Cadence.BIWEEKLY, Locale.DA),
]


def seed_if_empty(app: AppContext, now: datetime) -> bool:
    """Seed when the database has no matches; returns whether it did. Replay separately."""
    with app.transaction() as session:
        if session.scalar(select(func.count()).select_from(Match)):
            return False
    seed(app, now)
    return True


def seed(app: AppContext, now: datetime) -> list[int]:
    today = now.astimezone(ZONE).date()
    rng = random.Random(7)
    ids: list[int] = []
    with app.transaction() as session:
        rows = sync_programmes(session, app.programmes.values())
        lead = Staff(
            name="Procesleder (demo)",
            role=StaffRole.PROCESLEDER,
            region="Hovedstaden",
            email="procesleder@example.org",
            phone="+4520123401",
        )
        coordinator = Staff(
            name="Koordinator (demo)",
            role=StaffRole.COORDINATOR,
            region="Hovedstaden",
            email="koordinator@example.org",
            phone="+4520123402",
        )
        session.add_all([lead, coordinator])
        for number, (slug, child_name, birth_year, weeks, weekday, cadence, locale) in enumerate(
            CAST, start=1
        ):
            if slug not in rows:
                continue
            family = VolunteerFamily(
                name=f"Venskabsfamilie {number} (demo)",
                contact_name=f"Kontaktvoksen {number}",
                region="Hovedstaden",
                phone=f"+452012341{number}",
                email=f"familie{number}@example.org",
            )
            contact = ContactPerson(
                name=f"Forælder {number}",
                phone=f"+452012342{number}",
                email=f"foraelder{number}@example.org",
                locale=locale,
            )
            start = today - timedelta(weeks=weeks)
            start -= timedelta(days=(start.weekday() - weekday) % 7)
            match = Match(
                programme=rows[slug],
                child=Child(first_name=child_name, birth_year=birth_year),
                volunteer_family=family,
                staff=lead,
                region="Hovedstaden",
                start_date=start,
                visit_weekday=weekday,
                visit_time=time(15, 30),
                cadence=cadence,
                status=MatchStatus.ACTIVE,
                contacts=[contact],
                created_at=datetime.combine(start, time(8, 0), tzinfo=ZONE).astimezone(UTC),
            )
            session.add(match)
            session.flush()
            ids.append(match.id)
            programme = app.programmes[slug]
            facts = facts_for(session, match, programme)
            # The family answered most visit prompts; one visit fell through to illness.
            for occ in occurrences(programme, facts, now):
                if occ.touchpoint.kind != Kind.VISIT_PROMPT or occ.day >= today - timedelta(days=1):
                    continue
                roll = rng.random()
                if roll < 0.08:
                    visit = Visit(
                        match_id=match.id,
                        planned_date=occ.day,
                        status=VisitStatus.CANCELLED,
                        cancelled_by=CancelledBy.ILLNESS,
                    )
                elif roll < 0.15:
                    continue  # unanswered: the prompt and its reminder went out
                else:
                    visit = Visit(
                        match_id=match.id,
                        planned_date=occ.day,
                        status=VisitStatus.VISITED,
                        times=rng.choice([2, 3]) if cadence == Cadence.TWO_THREE_MONTHLY else None,
                    )
                visit.reported_at = occ.due_utc + timedelta(hours=1)
                session.add(visit)
    return ids


class Ticking(Protocol):
    async def tick(self, now: datetime) -> object: ...
    async def close(self) -> None: ...


async def replay(
    app: AppContext,
    now: datetime,
    runtime_for: Callable[[AppContext], Ticking],
    step: timedelta = timedelta(hours=12),
) -> None:
    """Run planner and dispatcher through the past, as if the system had been running.

    ``runtime_for`` builds the runtime that ticks (``venskab.runtime.Runtime``)."""
    runtime = runtime_for(app)
    with app.transaction() as session:
        first = session.scalar(select(func.min(Match.created_at)))
    if first is None:
        return
    moment = first
    while moment < now:
        await runtime.tick(moment)
        moment += step
    await runtime.tick(now)
    await runtime.close()
