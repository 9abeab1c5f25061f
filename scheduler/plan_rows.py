"""What the plan wants for one match: outbox rows (as templates shared by every recipient of a
profile, plus the match's and recipient's own values) and staff tasks.

A pass over many matches is mostly the same work again: matches of one programme that started
on the same day, with the same visit weekday, have the same timeline. What a timeline asks for
(:mod:`scheduler.steps`) is computed once per programme, match facts and window start
(:class:`PassCache`); then each match turns it into rows for its own recipients. The rows'
first status and their keys come from :mod:`scheduler.outbox`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Dialect
from sqlalchemy.orm import Session

from scheduler import outbox
from scheduler.facts import facts_for
from scheduler.i18n import N_
from scheduler.plan_load import MatchRow
from scheduler.programme import AudienceName, Kind, Programme, Touchpoint
from scheduler.recipients import Recipient, recipients_for
from scheduler.render import render_title
from scheduler.rules import allowed_on_the_day, next_allowed
from scheduler.steps import Send, Step, timeline_steps
from scheduler.timeline import MatchFacts, Occurrence, SparringDate
from store.models import Audience, Match, TaskStatus, utcnow

# How far back a pass looks for what is not yet planned (catch-up after downtime): older sends
# would have expired, and older tasks are overdue history rather than work to create now.
LOOKBACK = timedelta(days=60)
VISIT_PROMPT = Kind.VISIT_PROMPT.value
# Distinct timelines remembered during a pass (about 10 kB each): matches that share one are
# usually planned close together, and memory stays bounded however varied the matches are.
REMEMBERED = 4096
NO_ADDRESS = N_("no usable address for any of the touchpoint's channels")


class RowTemplate(NamedTuple):
    """An outbox row as it is for every recipient with the same profile: its values, and the
    same converted for the database (see :class:`scheduler.outbox.PlannedRows`)."""

    values: dict[str, Any]
    converted: tuple[Any, ...]


class Want(NamedTuple):
    """A message the plan wants: a template and what is the match's and recipient's own."""

    template: RowTemplate
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


@dataclass
class Desired:
    messages: dict[str, Want] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)


def task_key(match_id: int, touchpoint_id: str, occurrence: str) -> str:
    return f"m{match_id}:{touchpoint_id}:{occurrence}"


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


# Keyed apart (by a number per distinct tuple), see PassCache.steps.
_LISTS = ("sparring", "school_holidays")
_FACTS = tuple(f.name for f in fields(MatchFacts) if f.name not in _LISTS)
_SEND_FIELDS = tuple(f.name for f in fields(Send) if f.name != "context")


class PassCache:
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
        self.rows = outbox.PlannedRows(dialect)
        self.plans = _Memo(REMEMBERED)
        self.templates: dict[tuple[Send, Profile], RowTemplate] = {}
        self.sends: dict[Hashable, Send] = {}
        self.contexts: dict[Hashable, dict[str, Any]] = {}
        self.lists: dict[int, tuple[Hashable, int]] = {}
        self.list_numbers: dict[Hashable, int] = {}

    def steps(self, programme: Programme, facts: MatchFacts, start: datetime) -> tuple[Step, ...]:
        # Keyed by the facts, but with a number for the list of sparring sessions and the one
        # of school holidays: hashing a dozen aware datetimes for every match cost more than the
        # rest of the key, and matches of one programme, region and zone share the very same
        # list (see plan_batch; school_holidays_for gives one tuple per municipality).
        numbers = tuple(self._number(getattr(facts, name)) for name in _LISTS)
        key = (programme.id, start, numbers, *[getattr(facts, name) for name in _FACTS])
        return cast(
            tuple[Step, ...],
            self.plans.get(key, self._steps, programme, facts, start),
        )

    def _number(self, items: Hashable) -> int:
        known = self.lists.get(id(items))
        if known is None or known[0] is not items:
            number = self.list_numbers.setdefault(items, len(self.list_numbers))
            known = self.lists[id(items)] = (items, number)  # holds it: no id reuse
        return known[1]

    def _steps(self, programme: Programme, facts: MatchFacts, start: datetime) -> tuple[Step, ...]:
        return tuple(
            replace(step, sends=tuple(self._canonical(programme, send) for send in step.sends))
            for step in timeline_steps(programme, facts, self.now, start, self.until)
        )

    def _canonical(self, programme: Programme, send: Send) -> Send:
        """An equal send seen before in this pass, or this one."""
        try:
            context = tuple((k, type(v), v) for k, v in send.context.items())
            key = (programme.id, *(getattr(send, name) for name in _SEND_FIELDS), context)
            return self.sends.setdefault(key, send)
        except TypeError:  # a context value that is not hashable: not shared
            return send

    def template(
        self, programme: Programme, send: Send, recipient: Recipient, profile: Profile
    ) -> RowTemplate:
        """The row for this send to this recipient, but for the match's and the recipient's
        own values: the same for every recipient with the same profile."""
        key = (send, profile)  # the send by identity: the dict holds it
        try:
            return self.templates[key]
        except KeyError:
            values = _resolve(programme, send, recipient, profile.zone, self.now, self.shared)
            template = self.templates[key] = RowTemplate(values, self.rows.template(values))
            return template

    def shared(self, context: dict[str, Any]) -> dict[str, Any]:
        """One dict for equal contexts (there are a few dozen in a pass), so that the insert
        converts each to JSON once. Told apart by types too: 1 and True are equal."""
        key = tuple((k, type(v), v) for k, v in context.items())
        try:
            return self.contexts.setdefault(key, context)
        except TypeError:  # a value that is not hashable
            return context


class Profile(NamedTuple):
    """What :func:`_resolve` reads of a recipient, and the time zone their rows are planned in."""

    audience: AudienceName
    key: str  # the audience as in message keys
    channels: tuple[str, ...]  # those with a usable address
    preferred: str | None
    locale: str
    zone: str


def _profile(recipient: Recipient, zone: str) -> Profile:
    return Profile(
        recipient.audience,
        recipient.audience.value,
        tuple(recipient.addresses),
        recipient.preferred,
        recipient.locale,
        zone,
    )


def _resolve(
    programme: Programme,
    send: Send,
    recipient: Recipient,
    zone: str,
    now: datetime,
    shared: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """The outbox row for one send to one recipient, without the match's and recipient's own
    values (``PlannedRows.PER_ROW``). It reads no more of the recipient than their :class:`Profile`
    holds."""
    channel = None
    if send.first_channel_wins:
        channel = recipient.choose(send.channels[:1])
    channel = channel or recipient.choose(send.channels, in_order=send.in_order)
    unreachable = None
    if channel is None:
        channel = send.channels[0]
        unreachable = NO_ADDRESS
    values = {
        "touchpoint_id": send.touchpoint_id,
        "occurrence_key": send.occurrence_key,
        "kind": send.kind,
        "template": send.template,
        "audience": Audience(recipient.audience.value),
        "channel": channel,
        "locale": recipient.locale,
        "essential": send.essential,
        "due_at": (allowed_on_the_day if send.kind == VISIT_PROMPT else next_allowed)(
            send.due_utc, channel, programme, ZoneInfo(zone)
        ),
        "expires_at": send.expires_utc,
        "context": shared(send.context),
    }
    expired = send.expires_utc is not None and send.expires_utc <= now
    return outbox.new_row(values, unreachable=unreachable, expired=expired)


def desired_for(
    session: Session,
    match: MatchRow,
    programme: Programme,
    now: datetime,
    horizon: timedelta,
    sparring: tuple[SparringDate, ...] | None = None,
    cache: PassCache | None = None,
    created: datetime | None = None,
) -> Desired:
    """What the plan wants to exist for this match between its creation and ``now + horizon``,
    as rows to insert (``created``: their creation time)."""
    cache = cache or PassCache(now, now + horizon, session.get_bind().dialect)
    created = created or utcnow()
    facts = facts_for(session, cast(Match, match), programme, sparring)
    start = max(match.created_at or now, now - LOOKBACK)
    desired = Desired()
    messages, templates = desired.messages, cache.templates
    people: dict[AudienceName, list[tuple[Recipient, Profile]]] = {}
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
            # The hot loop of a pass (a row per send): outbox.key_for_touchpoint, with its
            # fixed parts built once per recipient.
            key = outbox.touchpoint_keys(match.id, profile.key, recipient.id)
            for send in step.sends:
                template = templates.get((send, profile)) or cache.template(
                    programme, send, recipient, profile
                )
                messages[key(send.touchpoint_id, send.occurrence_key)] = Want(
                    template, match.id, recipient.id, match.plan_version
                )
    return desired


def _plan_task(
    desired: Desired, match: MatchRow, tp: Touchpoint, occ: Occurrence, created: datetime
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


def _title(text: str, match: MatchRow) -> str:
    """Task titles may use {{ sibling }} and {{ child }} (e.g. the half-price invoice)."""
    if "{" not in text:
        return text
    assert match.child is not None
    return render_title(text, {"sibling": match.sibling, "child": match.child.first_name})
