"""The programme timeline as a pure function.

``occurrences(programme, facts, now)`` answers: which touchpoints happen for this match, on which
local date and time, past and upcoming. It reads no clock, no database and no files: the caller
hands in the match's facts and the moment ``now``. The planner turns the answer into outbox rows
and tasks; ``venskab plan`` prints it as the match's year plan (årshjul).

Calendar rules are computed on the recipient's wall clock (the configured zone by default) and only
then converted to UTC, so a weekly 19:00 prompt stays at 19:00 across both DST changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

from scheduler.offsets import local_rule
from scheduler.programme import CadenceName, Kind, Programme, Touchpoint
from scheduler.school_calendar import SchoolHoliday
from scheduler.working_days import next_working_day

DEFAULT_TIME = time(10, 0)
_STEP_DAYS = {
    CadenceName.WEEKLY: 7,
    CadenceName.BIWEEKLY: 14,
    # "2-3 times a month": one prompt a week on the agreed weekday asks how many times they met.
    CadenceName.TWO_THREE_MONTHLY: 7,
}


@dataclass(frozen=True)
class Pause:
    """No visit prompts from ``start`` up to, not including, ``end`` (the first day back)."""

    start: date
    end: date | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


@dataclass(frozen=True)
class SparringDate:
    key: str  # stable identity: the session's local date
    starts_at: datetime  # aware, local
    session_id: int | None = None


@dataclass(frozen=True)
class MatchFacts:
    """What the timeline needs to know about one match; plain data, no ORM."""

    start_date: date
    visit_weekday: int  # 0 = Monday
    timezone: str  # the volunteer family's, e.g. the configured VENSKAB_TIMEZONE
    cadence: CadenceName | None = None  # None: the programme's cadence
    pauses: tuple[Pause, ...] = ()
    end_date: date | None = None  # set once the match has ended (early or at term)
    # "term", "volunteer_family", "child_family", "organisation", "unreachable"
    ended_by: str | None = None
    sparring: tuple[SparringDate, ...] | None = None  # None: expand the programme's rule
    # The school holidays of the match's municipality (only for a programme that asks about
    # them, see scheduler.school_calendar); the timeline keeps those inside the match.
    school_holidays: tuple[SchoolHoliday, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Occurrence:
    touchpoint: Touchpoint
    key: str  # stable within the touchpoint: "1", a date, a session date
    due: datetime  # aware, in the match's zone
    expires: datetime | None = None
    session: SparringDate | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def due_utc(self) -> datetime:
        return self.due.astimezone(UTC)

    @property
    def day(self) -> date:
        return self.due.date()

    def is_past(self, now: datetime) -> bool:
        return self.due <= now


def localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """Attach ``zone`` to a wall-clock time, moving a time that DST skips forward to a real one."""
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone)


def planned_end(programme: Programme, facts: MatchFacts) -> date | None:
    if programme.duration is None:
        return None
    return facts.start_date + programme.duration.delta


def ended_early(programme: Programme, facts: MatchFacts) -> bool:
    if facts.end_date is None or facts.ended_by == "term":
        return False
    end = planned_end(programme, facts)
    return end is None or facts.end_date < end


def effective_end(programme: Programme, facts: MatchFacts) -> date | None:
    """The day the organisation's follow-up stops: the actual end, else the planned one."""
    if facts.end_date is not None:
        return facts.end_date
    return planned_end(programme, facts)


def sparring_dates(
    programme: Programme, first: date, last: date, zone: ZoneInfo
) -> tuple[SparringDate, ...]:
    """Expand the programme's sparring rule to the sessions between ``first`` and ``last``."""
    if programme.sparring is None:
        return ()
    rule = rrulestr(
        local_rule(programme.sparring.rrule, zone),
        dtstart=datetime.combine(programme.sparring.dtstart, programme.sparring.at),
    )
    start = datetime.combine(first, time(0))
    end = datetime.combine(last, time(23, 59))
    return tuple(
        SparringDate(key=moment.date().isoformat(), starts_at=localize(moment, zone))
        for moment in rule.between(start, end, inc=True)
    )


def occurrences(
    programme: Programme,
    facts: MatchFacts,
    now: datetime,
    horizon: date | None = None,
    since: date | None = None,
) -> list[Occurrence]:
    """Every touchpoint occurrence for the match, past and upcoming, sorted by due time.

    ``horizon`` bounds repetitions of an open-ended programme (default: a year past both the
    start and ``now``). Occurrences are not filtered by ``now``: a plan shows the past too.
    ``since`` lets a caller that only needs recent and upcoming occurrences (the planner) skip
    repetitions before that day; one-off touchpoints are always included.
    """
    return _Timeline(programme, facts, now, horizon, since).build()


class _Timeline:
    def __init__(
        self,
        programme: Programme,
        facts: MatchFacts,
        now: datetime,
        horizon: date | None,
        since: date | None = None,
    ) -> None:
        self.since = since
        self.programme = programme
        self.facts = facts
        self.zone = facts.zone
        self.cadence = facts.cadence or programme.cadence
        self.planned_end = planned_end(programme, facts)
        self.end = effective_end(programme, facts)
        self.ended_early = ended_early(programme, facts)
        today = now.astimezone(self.zone).date()
        if horizon is None:
            if self.end is not None:
                horizon = self.end + timedelta(days=90)
            else:
                horizon = max(
                    facts.start_date + relativedelta(years=1), today + relativedelta(years=1)
                )
        self.horizon = horizon
        # Follow-up happens inside the match's life: up to, not including, the end day.
        self.cutoff = self.end if self.end is not None else horizon + timedelta(days=1)
        self._cache: dict[str, list[Occurrence]] = {}

    def build(self) -> list[Occurrence]:
        result: list[Occurrence] = []
        for tp in self.programme.touchpoints:
            result.extend(self._for(tp))
        result.sort(key=lambda o: (o.due_utc, o.touchpoint.id, o.key))
        return result

    def _for(self, tp: Touchpoint) -> list[Occurrence]:
        if tp.id not in self._cache:
            self._cache[tp.id] = list(self._generate(tp))
        return self._cache[tp.id]

    def _first(self, tp: Touchpoint) -> Occurrence | None:
        """The very first occurrence, ignoring ``since`` (an anchor for other touchpoints)."""
        since, self.since = self.since, None
        try:
            return next(iter(self._generate(tp)), None)
        finally:
            self.since = since

    # -- anchors ---------------------------------------------------------------------------

    def _generate(self, tp: Touchpoint) -> Iterator[Occurrence]:
        anchor = tp.anchor
        if anchor == "match_start":
            yield from self._from_base(tp, self.facts.start_date, bounded=True)
        elif anchor == "match_end":
            if self.end is None or (self.ended_early and tp.skip_if_ended_early):
                return
            if (
                tp.min_match_days is not None
                and (self.end - self.facts.start_date).days < tp.min_match_days
            ):
                return
            yield from self._from_base(tp, self.end, bounded=False)
        elif anchor == "early_end":
            if not self.ended_early or self.facts.end_date is None:
                return
            if tp.ended_by and self.facts.ended_by not in tp.ended_by:
                return
            yield from self._from_base(tp, self.facts.end_date, bounded=False)
        elif anchor == "sparring_session":
            yield from self._sparring(tp)
        elif anchor == "school_holiday":
            yield from self._school_holidays(tp)
        else:
            target = self.programme.touchpoint(anchor.split(":", 1)[1])
            first = self._first(target)
            if first is not None:
                yield from self._from_base(tp, first.day, bounded=True)

    def _sparring(self, tp: Touchpoint) -> Iterator[Occurrence]:
        # A session past the horizon counts when its invitation (due before it) falls inside:
        # otherwise the invitation would be planned only once it is already late.
        base = datetime(2000, 1, 1)
        lead = max(base - tp.offset.add(base), timedelta(0)) + timedelta(days=1)
        last = self.horizon + lead
        if self.end is not None:  # an open-ended match (Mentorbarn) has no cutoff but the horizon
            last = min(self.end - timedelta(days=1), last)
        sessions = self.facts.sparring
        if sessions is None:
            sessions = sparring_dates(self.programme, self.facts.start_date, last, self.zone)
        start_moment = datetime.combine(self.facts.start_date, tp.at or DEFAULT_TIME)
        for session in sessions:
            day = session.starts_at.astimezone(self.zone).date()
            if not self.facts.start_date <= day <= last:
                continue
            base = session.starts_at.astimezone(self.zone).replace(tzinfo=None)
            due = self._apply(tp, base)
            # A family matched shortly before a session is invited on its first day, and the
            # invitation says it comes at short notice.
            extra = {"short_notice": "1"} if due < start_moment else None
            due = max(due, start_moment)
            yield self._occurrence(tp, session.key, due, session=session, extra=extra)

    def _school_holidays(self, tp: Touchpoint) -> Iterator[Occurrence]:
        """Before each school holiday that starts after the match's first week and before its
        end, and that no pause covers already: asked at least on the match's first day."""
        first_visit = self.facts.start_date + timedelta(days=7)
        last = self.cutoff - timedelta(days=1)
        at = tp.at or DEFAULT_TIME
        for holiday in self.facts.school_holidays:
            if not first_visit <= holiday.first <= last:
                continue
            if any(p.covers(holiday.first) for p in self.facts.pauses):
                continue
            # The question comes ahead of the holiday: its own day counts against the horizon.
            due = max(
                tp.offset.add(datetime.combine(holiday.first, at)),
                datetime.combine(self.facts.start_date, at),
            )
            if due.date() > self.horizon:
                continue
            extra = {
                "holiday_kind": holiday.kind,
                "holiday_first": holiday.first.isoformat(),
                "holiday_last": holiday.last.isoformat(),
            }
            yield self._occurrence(tp, holiday.key, due, extra=extra)

    # -- dates -----------------------------------------------------------------------------

    def _from_base(self, tp: Touchpoint, base_day: date, *, bounded: bool) -> Iterator[Occurrence]:
        at = self._time(tp)
        base = datetime.combine(base_day, at)
        if tp.repeat == "visits":
            yield from self._visits(tp, self._apply(tp, base).date())
            return
        first = self._apply(tp, base)
        if tp.repeat is None:
            if self.since is not None and not self.since <= first.date() <= self.horizon:
                return  # outside the caller's window: skip the time-zone work
            if not bounded or first.date() < self.cutoff:
                yield self._occurrence(tp, "1", self._shift(tp, first))
            return
        repeat = tp.repeat
        last = self.cutoff - timedelta(days=1) if bounded else self.horizon
        last = min(last, self.horizon)
        if repeat.until is not None:
            last = min(last, first.date() + repeat.until.delta)
        index = 0
        while repeat.count is None or index < repeat.count:
            moment = first
            if index:
                # Multiply from the first occurrence, never add step by step: 31 Jan + 1 month
                # is 28 Feb, and 28 Feb + 1 month would drift to 28 Mar instead of 31 Mar.
                moment = datetime.combine(
                    first.date() + _times(repeat.every.delta, index), first.time()
                )
            if moment.date() > last:
                break
            yield self._occurrence(tp, str(index + 1), self._shift(tp, moment))
            index += 1

    def _visits(self, tp: Touchpoint, earliest: date) -> Iterator[Occurrence]:
        day = earliest + timedelta(days=(self.facts.visit_weekday - earliest.weekday()) % 7)
        step = timedelta(days=_STEP_DAYS[self.cadence])
        if self.since is not None and day < self.since:
            # Jump ahead by whole steps, so the visit rhythm (e.g. every other week) is kept.
            skipped = (self.since - day).days // step.days
            day += step * skipped
        at = self._time(tp)
        last = min(self.cutoff - timedelta(days=1), self.horizon)
        while day <= last:
            if not any(p.covers(day) for p in self.facts.pauses):
                yield self._occurrence(
                    tp,
                    day.isoformat(),
                    datetime.combine(day, at),
                    extra={"cadence": self.cadence.value},
                )
            day += step

    def _time(self, tp: Touchpoint) -> time:
        if tp.at is not None:
            return tp.at
        if tp.kind == Kind.VISIT_PROMPT:
            return self.programme.visit_prompt_at
        return DEFAULT_TIME

    def _apply(self, tp: Touchpoint, base: datetime) -> datetime:
        moment = tp.offset.add(base)
        if tp.at is not None and tp.anchor == "sparring_session":
            moment = datetime.combine(moment.date(), tp.at)
        return moment

    def _shift(self, tp: Touchpoint, moment: datetime) -> datetime:
        if not tp.on_working_day:
            return moment
        return datetime.combine(next_working_day(moment.date()), moment.time())

    def _occurrence(
        self,
        tp: Touchpoint,
        key: str,
        naive_or_aware: datetime,
        session: SparringDate | None = None,
        extra: dict[str, str] | None = None,
    ) -> Occurrence:
        if naive_or_aware.tzinfo is None:
            due = localize(naive_or_aware, self.zone)
        else:
            due = naive_or_aware.astimezone(self.zone)
        expires = None
        if tp.expiry is not None:
            expires = localize(tp.expiry.add(due.replace(tzinfo=None)), self.zone)
        return Occurrence(tp, key, due, expires, session, extra or {})


def _times(delta: relativedelta, n: int) -> relativedelta:
    return relativedelta(
        years=delta.years * n,
        months=delta.months * n,
        days=delta.days * n,
        hours=delta.hours * n,
        minutes=delta.minutes * n,
    )
