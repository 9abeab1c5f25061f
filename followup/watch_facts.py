"""What the watch rules (:mod:`followup.watch`) read about the active matches: loaded once per
evaluation, in one query per kind of fact."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from followup import contacts
from scheduler.programme import Programme
from store.models import (
    CheckIn,
    Escalation,
    Match,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    Visit,
    VisitStatus,
)

RECENT_VISITS = 20  # how far back a streak of missed visits is looked for
# Cases raised by what the volunteer family itself did: each is a sign the family is reachable.
FAMILY_RULES = ("message_from_family", "worry", "wants_to_stop")


class Known:
    """What the rules read about the active matches, loaded in one query per kind of fact."""

    def __init__(
        self,
        session: Session,
        matches: list[Match],
        programmes: Mapping[str, Programme],
        now: datetime,
    ) -> None:
        self.matches = {m.id: m for m in matches}
        ids = select(Match.id).where(Match.status == MatchStatus.ACTIVE).scalar_subquery()
        rules = [p.escalation for p in programmes.values()]
        longest = max((r.unanswered_prompt_weeks or 0 for r in rules), default=0)
        # The earliest day any prompt window can start (a day of slack for time zones).
        since = (now - timedelta(weeks=longest, days=1)).date()
        mood_times = max((r.low_mood_times for r in rules), default=1)

        self.recent_visits: dict[int, list[Row[Any]]] = defaultdict(list)
        numbered = (
            select(
                Visit.match_id,
                Visit.planned_date,
                Visit.status,
                Visit.cancelled_by,
                func.row_number()
                .over(partition_by=Visit.match_id, order_by=Visit.planned_date.desc())
                .label("n"),
            )
            .where(Visit.match_id.in_(ids))
            .subquery()
        )
        for row in session.execute(
            select(numbered)
            .where(numbered.c.n <= RECENT_VISITS)
            .order_by(numbered.c.match_id, numbered.c.n)
        ):
            self.recent_visits[row.match_id].append(row)

        self.last_visit: dict[int, date] = {
            match_id: day
            for match_id, day in session.execute(
                select(Visit.match_id, func.max(Visit.planned_date))
                .where(Visit.match_id.in_(ids), Visit.status == VisitStatus.VISITED)
                .group_by(Visit.match_id)
            )
        }

        self.prompt_days: dict[int, set[date]] = defaultdict(set)
        for match_id, key in session.execute(
            select(OutboxMessage.match_id, OutboxMessage.occurrence_key).where(
                OutboxMessage.match_id.in_(ids),
                OutboxMessage.kind == "visit_prompt",
                OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.DELIVERED]),
                OutboxMessage.occurrence_key.not_like("%:%"),
                OutboxMessage.occurrence_key >= since.isoformat(),  # ISO dates sort as text
            )
        ):
            if match_id is not None:  # always, given the filter; the column allows NULL
                self.prompt_days[match_id].add(date.fromisoformat(key))

        self.visit_days: dict[int, set[date]] = defaultdict(set)
        for match_id, day in session.execute(
            select(Visit.match_id, Visit.planned_date).where(
                Visit.match_id.in_(ids), Visit.planned_date >= since
            )
        ):
            self.visit_days[match_id].add(day)

        self.last_checkin: dict[int, datetime] = {
            match_id: at
            for match_id, at in session.execute(
                select(CheckIn.match_id, func.max(CheckIn.created_at))
                .where(CheckIn.match_id.in_(ids))
                .group_by(CheckIn.match_id)
            )
        }

        # The family's last sign of life: a visit answered, a check-in, a message or a worry.
        self.last_heard: dict[int, date] = {}
        zone_of = {m.id: ZoneInfo(m.volunteer_family.timezone) for m in matches}

        def heard(match_id: int | None, at: datetime | None) -> None:
            if match_id is None or at is None or match_id not in zone_of:
                return
            day = at.astimezone(zone_of[match_id]).date()
            if self.last_heard.get(match_id, day) <= day:
                self.last_heard[match_id] = day

        for match_id, at in session.execute(
            select(Visit.match_id, func.max(Visit.reported_at))
            .where(Visit.match_id.in_(ids), Visit.status != VisitStatus.MISSED)
            .group_by(Visit.match_id)
        ):
            heard(match_id, at)
        for match_id, at in session.execute(
            select(Escalation.match_id, func.max(Escalation.updated_at))
            .where(Escalation.match_id.in_(ids), Escalation.rule.in_(FAMILY_RULES))
            .group_by(Escalation.match_id)
        ):
            heard(match_id, at)

        self.moods: dict[int, list[Row[Any]]] = defaultdict(list)
        numbered_moods = (
            select(
                CheckIn.id,
                CheckIn.match_id,
                CheckIn.mood,
                func.row_number()
                .over(
                    partition_by=CheckIn.match_id,
                    order_by=(CheckIn.created_at.desc(), CheckIn.id.desc()),
                )
                .label("n"),
            )
            .where(CheckIn.match_id.in_(ids), CheckIn.mood.is_not(None))
            .subquery()
        )
        for row in session.execute(
            select(numbered_moods)
            .where(numbered_moods.c.n <= mood_times)
            .order_by(numbered_moods.c.match_id, numbered_moods.c.n)
        ):
            self.moods[row.match_id].append(row)

        zone = matches[0].volunteer_family.timezone if matches else "UTC"
        self.last_contacts = contacts.last_contacts(session, matches, programmes, zone)

        # The newest escalation of each match and rule: the one whose evidence is compared.
        newest = (
            select(func.max(Escalation.id))
            .where(Escalation.match_id.in_(ids))
            .group_by(Escalation.match_id, Escalation.rule)
        )
        self.latest: dict[tuple[int, str], Escalation] = {
            (e.match_id, e.rule): e
            for e in session.scalars(select(Escalation).where(Escalation.id.in_(newest)))
            if e.match_id is not None
        }
