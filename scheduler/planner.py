"""The planner: turns each match's timeline into outbox rows and staff tasks.

It plans a rolling horizon (default 14 days). Every row has an idempotency key (match,
touchpoint, occurrence, recipient), so planning twice, or on two replicas at once, inserts
nothing twice. When a match's plan version changed (start date corrected, paused, resumed,
ended, a contact changed), pending rows that are no longer in the plan are cancelled and their
replacements added; rows already sent are history and never touched.

Nothing before ``match.created_at`` is planned: a match imported in its seventh month does not
receive the welcome message of its first day.

A pass over many matches is mostly the same work again: matches of one programme that started
on the same day, with the same visit weekday, have the same timeline. So the planner works in
two steps. What a timeline asks for within the window, before anyone's address or time zone
is known (:class:`_Step`), is computed once per programme, match facts and window start
(:class:`_PassCache`); then each match turns it into rows for its own recipients.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import groupby
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

from jinja2 import Environment, StrictUndefined, Template
from sqlalchemy import (
    Dialect,
    Engine,
    Row,
    RowMapping,
    String,
    Table,
    bindparam,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, sessionmaker

from scheduler.escalations import raise_escalation
from scheduler.matches import facts_for, sparring_window
from scheduler.programme import AudienceName, Kind, Programme, Touchpoint
from scheduler.recipients import Recipient, recipients_for
from scheduler.rules import next_allowed
from scheduler.timeline import MatchFacts, Occurrence, SparringDate, localize, occurrences
from store.models import (
    Audience,
    Base,
    Child,
    ContactPerson,
    Match,
    MatchPause,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    Staff,
    Task,
    TaskStatus,
    VolunteerFamily,
    match_contact,
    utcnow,
)
from store.models import Programme as ProgrammeRow
from store.queries import RowInserter, advisory_lock, insert_ignore, select_for_ids

log = logging.getLogger(__name__)
_TITLES = Environment(undefined=StrictUndefined, autoescape=False)

HORIZON = timedelta(days=14)
PLANNER_LOCK = 0x76656E73  # "vens": one planner at a time across replicas (PostgreSQL)
CHUNK = 1000
DAY = timedelta(days=1)
NOT_IN_PLAN = "no longer in the plan"
# How far back a pass looks for what is not yet planned (catch-up after downtime): older sends
# would have expired, and older tasks are overdue history rather than work to create now.
LOOKBACK = timedelta(days=60)
# Reminders and call announcements lie at most this far from their touchpoint's occurrence.
REMINDER_REACH = timedelta(days=35)
# Distinct timelines remembered during a pass (about 10 kB each): matches that share one are
# usually planned close together, and memory stays bounded however varied the matches are.
REMEMBERED = 4096
NO_ADDRESS = "no usable address for any of the touchpoint's channels"
ANNOUNCE_CHANNELS = ("sms", "email", "telegram")


@dataclass
class PlanStats:
    matches: int = 0
    skipped: int = 0
    added: int = 0
    updated: int = 0
    cancelled: int = 0
    tasks_added: int = 0
    tasks_cancelled: int = 0
    locked_out: bool = False

    def __iadd__(self, other: PlanStats) -> PlanStats:
        for name in (
            "matches",
            "skipped",
            "added",
            "updated",
            "cancelled",
            "tasks_added",
            "tasks_cancelled",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


class _Template(NamedTuple):
    """An outbox row as it is for every recipient with the same profile: its values, and the
    same converted for the database (see :class:`RowInserter`)."""

    values: dict[str, Any]
    converted: tuple[Any, ...]


class _Want(NamedTuple):
    """A message the plan wants: a template and what is the match's and recipient's own."""

    template: _Template
    match_id: int
    recipient_id: int
    plan_version: int

    def values(self) -> dict[str, Any]:
        return {
            **self.template.values,
            "match_id": self.match_id,
            "recipient_id": self.recipient_id,
            "plan_version": self.plan_version,
        }


# The columns of a new outbox row that are the match's and recipient's own, in the order
# desired_for's rows give them after the template's values.
_PER_ROW = [
    "idempotency_key",
    "match_id",
    "recipient_id",
    "plan_version",
    "created_at",
    "updated_at",
]
_SHARED = [
    "touchpoint_id",
    "occurrence_key",
    "kind",
    "template",
    "audience",
    "channel",
    "locale",
    "essential",
    "due_at",
    "expires_at",
    "status",
    "context",
    "last_error",
]


@dataclass
class _Desired:
    messages: dict[str, _Want] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)


def message_key(
    match_id: int, touchpoint_id: str, occurrence: str, audience: str, recipient_id: int
) -> str:
    return f"m{match_id}:{touchpoint_id}:{occurrence}:{audience[0]}{recipient_id}"


def task_key(match_id: int, touchpoint_id: str, occurrence: str) -> str:
    return f"m{match_id}:{touchpoint_id}:{occurrence}"


# -- what a timeline asks for, for anyone -------------------------------------------------------


@dataclass(frozen=True, eq=False, slots=True)
class _Send:
    """One message of a step as it is for every recipient; the recipient's addresses and time
    zone decide the channel and the moment it may go out."""

    touchpoint_id: str
    occurrence_key: str  # with ":r1" for a reminder, ":announce" for a call announcement
    template: str
    kind: str
    due_utc: datetime
    expires_utc: datetime | None
    channels: tuple[str, ...]
    essential: bool
    context: dict[str, Any]  # shared by every row made from it: never changed in place
    # A reminder step that names its channel (the ladder's "email after 2 weeks") uses it when
    # the person has that address, before their own preferred channel.
    first_channel_wins: bool = False


@dataclass(frozen=True, eq=False, slots=True)
class _Step:
    """What one occurrence asks for within the window: a staff task, and messages to each
    recipient in an audience."""

    touchpoint: Touchpoint
    occurrence: Occurrence
    task: bool
    audience: AudienceName | None
    skip_opted_out: bool
    sends: tuple[_Send, ...]


def _steps(
    programme: Programme, facts: MatchFacts, now: datetime, start: datetime, until: datetime
) -> tuple[_Step, ...]:
    """The steps of one timeline whose tasks or messages fall between ``start`` and ``until``."""
    zone = ZoneInfo(facts.timezone)
    since = (start - REMINDER_REACH).astimezone(zone).date()
    steps: list[_Step] = []
    for occ in occurrences(
        programme,
        facts,
        now,
        horizon=until.astimezone(zone).date() + timedelta(days=1),
        since=since,
    ):
        tp = occ.touchpoint
        due_utc = occ.due_utc
        if due_utc > until or due_utc < start - REMINDER_REACH:
            continue  # neither it nor any of its reminders or announcements falls in the window
        if tp.is_task:
            sends: list[_Send] = []
            if tp.announce is not None and tp.counterpart is not None:
                sends.append(_announcement(tp, occ, zone))
            task = start <= due_utc <= until
            audience, skip_opted_out = tp.counterpart, False
        else:
            sends = _messages(tp, occ, zone, start, until)
            task = False
            audience, skip_opted_out = tp.audience, not tp.essential
        sends = [s for s in sends if start <= s.due_utc <= until]
        if task or sends:
            steps.append(_Step(tp, occ, task, audience, skip_opted_out, tuple(sends)))
    return tuple(steps)


def _announcement(tp: Touchpoint, occ: Occurrence, zone: ZoneInfo) -> _Send:
    """Tell the person who will be called when: unannounced calls felt "artificial" (001:1437)."""
    assert tp.announce is not None
    due = localize(occ.due.replace(tzinfo=None) - tp.announce.delta, zone)
    return _Send(
        tp.id,
        occ.key + ":announce",
        "call_announcement",
        Kind.MESSAGE.value,
        due.astimezone(UTC),
        occ.due.astimezone(UTC),
        ANNOUNCE_CHANNELS,
        True,
        {"call_at": occ.due.isoformat()},
    )


def _messages(
    tp: Touchpoint, occ: Occurrence, zone: ZoneInfo, start: datetime, until: datetime
) -> list[_Send]:
    """A touchpoint's message and its reminders (those not outside the window for sure)."""
    context: dict[str, Any] = {"reminder": 0}
    if occ.session is not None:
        context["session_key"] = occ.session.key
        context["session_starts_at"] = occ.session.starts_at.isoformat()
        if occ.session.session_id is not None:
            context["session_id"] = occ.session.session_id
    if tp.wave:
        context["wave"] = tp.wave
        context["survey"] = tp.survey
    if occ.extra.get("cadence"):
        context["cadence"] = occ.extra["cadence"]
    channels = tuple(str(c) for c in tp.channels)
    sends = [
        _Send(
            tp.id,
            occ.key,
            tp.template_name,
            tp.kind.value,
            occ.due.astimezone(UTC),
            occ.expires.astimezone(UTC) if occ.expires is not None else None,
            channels,
            tp.essential,
            context,
        )
    ]
    for number, reminder in enumerate(tp.reminders, start=1):
        if reminder.staff_task:
            continue  # created when due, only if still unanswered (see scheduler.followup)
        fixed = reminder.after.fixed
        if fixed is not None and not start - DAY <= occ.due_utc + fixed <= until + DAY:
            continue  # far outside the window whatever DST does: skip the time-zone work
        due = localize(reminder.after.add(occ.due.replace(tzinfo=None)), zone)
        expires = None
        if tp.expiry is not None:
            expires = localize(tp.expiry.add(due.replace(tzinfo=None)), zone)
        # The reminder's own channel first; without that address, the touchpoint's channels.
        reminder_channels = tuple(
            dict.fromkeys([*([str(reminder.channel)] if reminder.channel else []), *channels])
        )
        sends.append(
            _Send(
                tp.id,
                f"{occ.key}:r{number}",
                tp.template_name,
                tp.kind.value,
                due.astimezone(UTC),
                expires.astimezone(UTC) if expires is not None else None,
                reminder_channels,
                tp.essential,
                {**context, "reminder": number},
                first_channel_wins=reminder.channel is not None,
            )
        )
    return sends


class _Memo:
    """A dict that forgets its oldest entries beyond ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: dict[Hashable, Any] = {}

    def get(self, key: Hashable, compute: Callable[..., Any], *args: Any) -> Any:
        """The value for ``key``, from ``compute(*args)`` the first time."""
        try:
            return self.values[key]
        except KeyError:
            if len(self.values) >= self.size:
                del self.values[next(iter(self.values))]
            value = self.values[key] = compute(*args)
            return value


_FACTS = tuple(f.name for f in fields(MatchFacts) if f.name != "sparring")
_SEND_FIELDS = tuple(f.name for f in fields(_Send) if f.name != "context")


class _PassCache:
    """What one pass computes once and uses for many matches: timelines, and rows as they are
    for every recipient of a profile. Both are pure functions of their keys; ``now`` and the
    window's end are the same for the whole pass.

    Timelines that differ (another start date, say) still ask for many of the same sends: the
    weekly prompt of one Monday is the same for every Monday match of a programme. Each send is
    therefore replaced by an equal one seen before, so that rows are resolved once per send and
    profile rather than once per timeline.
    """

    def __init__(self, now: datetime, until: datetime, dialect: Dialect) -> None:
        self.now = now
        self.until = until
        self.inserter = RowInserter(
            dialect, cast(Table, OutboxMessage.__table__), _SHARED, _PER_ROW, "idempotency_key"
        )
        # Keys, ids and versions go to the driver as they are (see plan_batch).
        assert not any(map(self.inserter.needs_conversion, _PER_ROW[:4]))
        self.plans = _Memo(REMEMBERED)
        self.templates: dict[tuple[_Send, _Profile], _Template] = {}
        self.sends: dict[Hashable, _Send] = {}
        self.contexts: dict[Hashable, dict[str, Any]] = {}
        self.sessions: dict[int, tuple[tuple[SparringDate, ...] | None, int]] = {}
        self.session_numbers: dict[tuple[SparringDate, ...] | None, int] = {}

    def steps(self, programme: Programme, facts: MatchFacts, start: datetime) -> tuple[_Step, ...]:
        # Keyed by the facts, but with a number for the list of sparring sessions: hashing a
        # dozen aware datetimes for every match cost more than the rest of the key, and matches
        # of one programme, region and zone share the very same list (see plan_batch).
        sessions = facts.sparring
        known = self.sessions.get(id(sessions))
        if known is None or known[0] is not sessions:
            number = self.session_numbers.setdefault(sessions, len(self.session_numbers))
            known = self.sessions[id(sessions)] = (sessions, number)  # holds it: no id reuse
        key = (programme.id, start, known[1], *[getattr(facts, name) for name in _FACTS])
        return cast(
            tuple[_Step, ...],
            self.plans.get(key, self._steps, programme, facts, start),
        )

    def _steps(self, programme: Programme, facts: MatchFacts, start: datetime) -> tuple[_Step, ...]:
        return tuple(
            replace(step, sends=tuple(self._canonical(programme, send) for send in step.sends))
            for step in _steps(programme, facts, self.now, start, self.until)
        )

    def _canonical(self, programme: Programme, send: _Send) -> _Send:
        """An equal send seen before in this pass, or this one."""
        try:
            context = tuple((k, type(v), v) for k, v in send.context.items())
            key = (programme.id, *(getattr(send, name) for name in _SEND_FIELDS), context)
            return self.sends.setdefault(key, send)
        except TypeError:  # a context value that is not hashable: not shared
            return send

    def template(
        self, programme: Programme, send: _Send, recipient: Recipient, profile: _Profile
    ) -> _Template:
        """The row for this send to this recipient, but for the match's and the recipient's
        own values: the same for every recipient with the same profile."""
        key = (send, profile)  # the send by identity: the dict holds it
        try:
            return self.templates[key]
        except KeyError:
            values = _resolve(programme, send, recipient, profile.zone, self.now, self.shared)
            template = self.templates[key] = _Template(values, self.inserter.template(values))
            return template

    def shared(self, context: dict[str, Any]) -> dict[str, Any]:
        """One dict for equal contexts (there are a few dozen in a pass), so that the insert
        converts each to JSON once. Told apart by types too: 1 and True are equal."""
        key = tuple((k, type(v), v) for k, v in context.items())
        try:
            return self.contexts.setdefault(key, context)
        except TypeError:  # a value that is not hashable
            return context


class _Profile(NamedTuple):
    """What :func:`_resolve` reads of a recipient, and the time zone their rows are planned in."""

    audience: AudienceName
    key: str  # the audience as in message keys
    channels: tuple[str, ...]  # those with a usable address
    preferred: str | None
    locale: str
    zone: str


def _profile(recipient: Recipient, zone: str) -> _Profile:
    return _Profile(
        recipient.audience,
        recipient.audience.value,
        tuple(recipient.addresses),
        recipient.preferred,
        recipient.locale,
        zone,
    )


def _resolve(
    programme: Programme,
    send: _Send,
    recipient: Recipient,
    zone: str,
    now: datetime,
    shared: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """The outbox row for one send to one recipient, without the match's and recipient's own
    values (:data:`_PER_ROW`). It reads no more of the recipient than their :class:`_Profile`
    holds."""
    channel = None
    if send.first_channel_wins:
        channel = recipient.choose(send.channels[:1])
    channel = channel or recipient.choose(send.channels)
    status = OutboxStatus.PLANNED
    error = None
    if channel is None:
        channel = send.channels[0]
        status = OutboxStatus.FAILED
        error = NO_ADDRESS
    elif send.expires_utc is not None and send.expires_utc <= now:
        status = OutboxStatus.EXPIRED
        error = "expired before it could be sent"
    return {
        "touchpoint_id": send.touchpoint_id,
        "occurrence_key": send.occurrence_key,
        "kind": send.kind,
        "template": send.template,
        "audience": Audience(recipient.audience.value),
        "channel": channel,
        "locale": recipient.locale,
        "essential": send.essential,
        "due_at": next_allowed(send.due_utc, channel, programme, ZoneInfo(zone)),
        "expires_at": send.expires_utc,
        "status": status,
        "context": shared(send.context),
        "last_error": error,
    }


# -- matches as the planner reads them ----------------------------------------------------------


class _Child(NamedTuple):
    first_name: str


class _MatchRow:
    """A match with its family, contacts, pauses, staff member and child, as plain rows.

    The attributes have the ORM's names, so ``facts_for``, ``recipients_for`` and
    ``raise_escalation`` read it like a :class:`Match`. It is loaded with a few Core queries per
    chunk: building ORM objects for every match and its relations was a third of a pass, and
    the planner only reads them (its own bookkeeping is one UPDATE per chunk).
    """

    id: int
    programme_id: int
    programme_slug: str | None
    region: str
    created_at: datetime | None
    plan_version: int
    planned_version: int
    planned_until: datetime | None
    staff_id: int | None
    volunteer_family_id: int
    child_first_name: str | None
    sibling: bool

    def __init__(self, columns: RowMapping) -> None:
        self.__dict__.update(columns)
        self.volunteer_family: Any = None
        self.staff: Any = None
        self.contacts: list[Any] = []
        self.pauses: list[Any] = []
        self.child: _Child | None = None


def _columns(model: type[Base], *, timestamps: bool = True) -> list[Any]:
    """Every column of a model, labelled with its attribute name; without its creation and
    update times unless ``timestamps`` (converting them for every row is not free)."""
    return [
        column.label(name)
        for name, column in inspect(model).columns.items()
        if timestamps or name not in ("created_at", "updated_at")
    ]


def _load_matches(
    session: Session, after: int, now: datetime, match_ids: list[int] | None
) -> list[_MatchRow]:
    """The next chunk of live matches after id ``after``, with what planning them reads."""
    query = (
        select(
            *_columns(Match),
            ProgrammeRow.slug.label("programme_slug"),
            Child.first_name.label("child_first_name"),
        )
        .outerjoin(ProgrammeRow, ProgrammeRow.id == Match.programme_id)
        .outerjoin(Child, Child.id == Match.child_id)
        .where(Match.id > after)
        .where(
            or_(
                Match.status != MatchStatus.ENDED,
                # ended matches still have end touchpoints and reminders to plan
                Match.end_date >= (now - timedelta(days=120)).date(),
                Match.planned_version != Match.plan_version,
            )
        )
        .order_by(Match.id)
        .limit(CHUNK)
    )
    if match_ids is not None:
        query = query.where(Match.id.in_(match_ids))
    # Plain Core results (session.connection()): the ORM's result machinery is not needed.
    connection = session.connection()
    matches = [_MatchRow(row._mapping) for row in connection.execute(query)]
    if not matches:
        return matches
    by_id = {m.id: m for m in matches}
    families = {
        row.id: row
        for row in connection.execute(
            select(*_columns(VolunteerFamily, timestamps=False)).where(
                VolunteerFamily.id.in_({m.volunteer_family_id for m in matches})
            )
        )
    }
    staff = {
        row.id: row
        for row in connection.execute(
            select(*_columns(Staff, timestamps=False)).where(
                Staff.id.in_({m.staff_id for m in matches if m.staff_id is not None})
            )
        )
    }
    for match in matches:
        match.volunteer_family = families.get(match.volunteer_family_id)
        match.staff = staff.get(match.staff_id) if match.staff_id is not None else None
        if match.child_first_name is not None:
            match.child = _Child(match.child_first_name)
    # In the order of the relationships (Match.contacts, Match.pauses).
    for row in connection.execute(
        select(match_contact.c.match_id, *_columns(ContactPerson, timestamps=False))
        .join(match_contact, match_contact.c.contact_person_id == ContactPerson.id)
        .where(match_contact.c.match_id.in_(by_id))
        .order_by(ContactPerson.id)
    ):
        by_id[row.match_id].contacts.append(row)
    for row in connection.execute(
        select(*_columns(MatchPause, timestamps=False))
        .where(MatchPause.match_id.in_(by_id))
        .order_by(MatchPause.start_date)
    ):
        by_id[row.match_id].pauses.append(row)
    return matches


def _mark_planned(session: Session, matches: list[_MatchRow], until: datetime) -> None:
    """Record which plan version each match was planned for, and up to when: one UPDATE per
    version (usually one or two per chunk), each with the version as it was read."""
    by_version: dict[int, list[int]] = {}
    for match in matches:
        if (match.planned_version, match.planned_until) != (match.plan_version, until):
            by_version.setdefault(match.plan_version, []).append(match.id)
    table = cast(Table, Match.__table__)
    for version, ids in by_version.items():
        session.execute(
            update(table)
            .where(table.c.id.in_(ids))
            .values(planned_version=version, planned_until=until)
        )


# -- the pass -----------------------------------------------------------------------------------


def plan_all(
    engine: Engine,
    factory: sessionmaker[Session],
    programmes: Mapping[str, Programme],
    now: datetime,
    horizon: timedelta = HORIZON,
    force: bool = False,
    match_ids: list[int] | None = None,
) -> PlanStats:
    """One planning pass over every live match, in chunks, under the planner lock."""
    total = PlanStats()
    with advisory_lock(engine, PLANNER_LOCK) as got:
        if not got:
            total.locked_out = True
            return total
        cache = _PassCache(now, now + horizon, engine.dialect)
        last_id = 0
        while True:
            with _collector_paused(), factory() as session, session.begin():
                batch = _load_matches(session, last_id, now, match_ids)
                if not batch:
                    break
                last_id = batch[-1].id
                with session.no_autoflush:
                    total += plan_batch(session, batch, programmes, now, horizon, force, cache)
    return total


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a chunk is planned.

    A chunk builds tens of thousands of rows that all live until they are inserted; each
    collection of the oldest generation walks every live object, and the rows made it run
    dozens of times per pass (a third of the time at 100,000 matches). Planning creates no
    reference cycles: what a chunk leaves is freed by reference counting when it ends, and
    the collector runs as usual between chunks.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def plan_batch(
    session: Session,
    matches: list[_MatchRow],
    programmes: Mapping[str, Programme],
    now: datetime,
    horizon: timedelta,
    force: bool = False,
    cache: _PassCache | None = None,
) -> PlanStats:
    stats = PlanStats()
    cache = cache or _PassCache(now, now + horizon, session.get_bind().dialect)
    todo = [
        m
        for m in matches
        if force
        or m.planned_version != m.plan_version
        or m.planned_until is None
        or m.planned_until < now + horizon / 2
    ]
    stats.skipped = len(matches) - len(todo)
    if not todo:
        return stats
    ids = [m.id for m in todo]
    # Pending rows, and rows the planner itself cancelled earlier: a resumed pause or a date
    # corrected back must bring those back, and their idempotency keys are taken.
    # As plain rows, with the columns planning compares and changes: a re-planned match has a
    # dozen or two, and ORM objects for all of them cost more than planning the match.
    pending: dict[int, dict[str, Row[Any]]] = {i: {} for i in ids}
    revivable: dict[int, dict[str, Row[Any]]] = {i: {} for i in ids}
    # The status compared as text: SQLite has no statistics to go by and would walk the
    # (status, due_at) index, every planned row of every match once per chunk, instead of
    # looking up these matches' rows by match_id. On PostgreSQL select_for_ids probes the
    # match_id index per match, whatever the statistics say: during a first pass the table
    # grows by a million rows that no ANALYZE has seen yet.
    status = sql_cast(OutboxMessage.status, String)
    for row in select_for_ids(
        session.connection(),
        select(
            OutboxMessage.id,
            OutboxMessage.match_id,
            OutboxMessage.idempotency_key,
            *(getattr(OutboxMessage, name) for name in _APPLIED),
        ).where(
            or_(
                status == OutboxStatus.PLANNED.value,
                (status == OutboxStatus.CANCELLED.value)
                & (OutboxMessage.last_error == NOT_IN_PLAN),
            ),
        ),
        OutboxMessage.match_id,
        ids,
    ):
        target = pending if row.status == OutboxStatus.PLANNED else revivable
        target[row.match_id or 0][row.idempotency_key] = row
    open_tasks: dict[int, dict[str, Task]] = {i: {} for i in ids}
    for task in session.scalars(
        select(Task).where(Task.match_id.in_(ids), Task.status == TaskStatus.OPEN)
    ):
        if task.idempotency_key:
            open_tasks[task.match_id or 0][task.idempotency_key] = task

    new_messages: list[tuple[Any, ...]] = []
    unreachable: list[tuple[str, _Want]] = []
    new_tasks: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []  # pending rows' id and new values
    planned: list[_MatchRow] = []
    # One creation time for the chunk's new rows: with every column given, the insert takes
    # its fast path (see insert_ignore).
    created = utcnow()
    inserter = cache.inserter
    stored_created = inserter.convert("created_at", created)
    sparring: dict[tuple[int, str, str], tuple[SparringDate, ...]] = {}
    for match in todo:
        programme = programmes.get(match.programme_slug or "")
        if programme is None:
            log.warning(
                "match %s: programme %r has no file; not planned", match.id, match.programme_slug
            )
            continue
        zone = match.volunteer_family.timezone or "Europe/Copenhagen"
        group = (match.programme_id, match.region, zone)
        if group not in sparring:
            # One look-up per programme, region and zone, wide enough for every match in it.
            sparring[group] = sparring_window(
                session,
                match.programme_id,
                match.region,
                programme,
                ZoneInfo(zone),
                now.date() - timedelta(days=400),
                now.date() + timedelta(days=400),
            )
        desired = desired_for(
            session, match, programme, now, horizon, sparring[group], cache, created
        )
        stats.matches += 1
        for key, row in pending[match.id].items():
            want = desired.messages.pop(key, None)
            if want is None:
                changed.append(
                    _changes(row, {"status": OutboxStatus.CANCELLED, "last_error": NOT_IN_PLAN})
                )
                stats.cancelled += 1
            elif (row.due_at, row.channel, row.expires_at) != (
                want.template.values["due_at"],
                want.template.values["channel"],
                want.template.values["expires_at"],
            ):
                changed.append(_changes(row, want.values()))
                stats.updated += 1
        for key, row in revivable[match.id].items():
            want = desired.messages.pop(key, None)
            if want is not None:
                changed.append(_changes(row, want.values()))
                stats.added += 1
        for key, want in desired.messages.items():
            new_messages.append(
                (
                    want.template.converted,
                    key,
                    want.match_id,
                    want.recipient_id,
                    want.plan_version,
                    stored_created,
                    stored_created,
                )
            )
            if want.template.values["status"] is OutboxStatus.FAILED:
                unreachable.append((key, want))
        for key, task in open_tasks[match.id].items():
            wanted = desired.tasks.pop(key, None)
            if wanted is None:
                if task.due_at > now:
                    task.status = TaskStatus.CANCELLED
                    task.outcome_note = NOT_IN_PLAN
                    stats.tasks_cancelled += 1
            elif task.due_at != wanted["due_at"]:
                task.due_at = wanted["due_at"]
        new_tasks.extend(desired.tasks.values())
        planned.append(match)
    _update_outbox(session, changed)
    _escalate_unreachable(session, todo, unreachable, now)
    stats.added += inserter.run(session.connection(), new_messages)
    stats.tasks_added += insert_ignore(session, Task, new_tasks, "idempotency_key")
    _mark_planned(session, planned, now + horizon)
    return stats


# What re-planning may change in a pending row.
_APPLIED = ("due_at", "expires_at", "channel", "status", "plan_version", "context", "last_error")


def _changes(row: Row[Any], want: Mapping[str, Any]) -> dict[str, Any]:
    """The row's id and status as read, and the values in ``want`` that differ from the row's
    (as the ORM would write them: only what changed)."""
    changes = {name: want[name] for name in _APPLIED if name in want}
    return {
        "id": row.id,
        "was": row.status,
        **{name: value for name, value in changes.items() if getattr(row, name) != value},
    }


def _update_outbox(session: Session, changed: list[dict[str, Any]]) -> None:
    """Write the changes to pending rows: one executemany per set of changed columns.

    Only rows still in the status they were read in: a dispatcher may have claimed one since
    (PostgreSQL reads without locks), and what it is sending is not the planner's to change.
    """
    table = cast(Table, OutboxMessage.__table__)
    for names, group in groupby(sorted(changed, key=_changed_names), key=_changed_names):
        if not names:
            continue
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.status == bindparam("b_was"))
            .values({name: bindparam(f"b_{name}") for name in names}),
            [{f"b_{name}": value for name, value in change.items()} for change in group],
        )


def _changed_names(change: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(name for name in change if name not in ("id", "was")))


def _escalate_unreachable(
    session: Session, matches: list[_MatchRow], wants: list[tuple[str, _Want]], now: datetime
) -> None:
    """A message with no usable address reaches staff once, when its row is first created."""
    failed = {key: want.values() for key, want in wants}
    if not failed:
        return
    existing = set(
        session.scalars(
            select(OutboxMessage.idempotency_key).where(
                OutboxMessage.idempotency_key.in_(list(failed))
            )
        )
    )
    by_id = {m.id: m for m in matches}
    for key, row in failed.items():
        if key in existing:
            continue
        match = by_id.get(row["match_id"])
        raise_escalation(
            session,
            cast(Match | None, match),  # it has the attributes read (id, staff_id)
            "delivery_failed",
            now=now,
            evidence={
                "touchpoint": row["touchpoint_id"],
                "audience": row["audience"].value,
                "error": "no usable address",
            },
            suggested_action="Add a phone number or an email address, or link Telegram.",
        )


def desired_for(
    session: Session,
    match: _MatchRow,
    programme: Programme,
    now: datetime,
    horizon: timedelta,
    sparring: tuple[SparringDate, ...] | None = None,
    cache: _PassCache | None = None,
    created: datetime | None = None,
) -> _Desired:
    """What the plan wants to exist for this match between its creation and ``now + horizon``,
    as rows to insert (``created``: their creation time)."""
    cache = cache or _PassCache(now, now + horizon, session.get_bind().dialect)
    created = created or utcnow()
    facts = facts_for(session, cast(Match, match), programme, sparring)
    start = max(match.created_at or now, now - LOOKBACK)
    desired = _Desired()
    messages, templates = desired.messages, cache.templates
    people: dict[AudienceName, list[tuple[Recipient, _Profile]]] = {}
    for step in cache.steps(programme, facts, start):
        if step.task:
            _plan_task(desired, match, step.touchpoint, step.occurrence, created)
        if not step.sends or step.audience is None:
            continue
        if step.audience not in people:
            people[step.audience] = [
                (recipient, _profile(recipient, recipient.timezone or facts.timezone))
                for recipient in recipients_for(cast(Match, match), step.audience)
            ]
        for recipient, profile in people[step.audience]:
            if step.skip_opted_out and recipient.opted_out:
                continue
            # The hot loop of a pass (a row per send): what message_key writes, with its parts
            # taken out of the loop.
            head, tail = f"m{match.id}:", f":{profile.key[0]}{recipient.id}"
            for send in step.sends:
                template = templates.get((send, profile)) or cache.template(
                    programme, send, recipient, profile
                )
                messages[f"{head}{send.touchpoint_id}:{send.occurrence_key}{tail}"] = _Want(
                    template, match.id, recipient.id, match.plan_version
                )
    return desired


def _plan_task(
    desired: _Desired, match: _MatchRow, tp: Touchpoint, occ: Occurrence, created: datetime
) -> None:
    locale = match.staff.locale.value if match.staff else "da"
    title = _title(tp.title.get(locale) or tp.title.get("da") or tp.id, match)
    key = task_key(match.id, tp.id, occ.key)
    desired.tasks[key] = {
        "idempotency_key": key,
        "match_id": match.id,
        "touchpoint_id": tp.id,
        "kind": tp.kind.value,
        "title": title[:200],
        "owner_id": match.staff_id,
        "due_at": occ.due_utc,
        "status": TaskStatus.OPEN,
        "created_at": created,
        "updated_at": created,
    }


@lru_cache(maxsize=256)
def _title_template(text: str) -> Template:
    return _TITLES.from_string(text)


def _title(text: str, match: _MatchRow) -> str:
    """Task titles may use {{ sibling }} and {{ child }} (e.g. the half-price invoice)."""
    if "{" not in text:
        return text
    assert match.child is not None
    return _title_template(text).render(sibling=match.sibling, child=match.child.first_name)
