"""What a timeline asks for within a planning window, before anyone's address or time zone is
known: staff tasks, and messages to each recipient of an audience (:class:`Step`). Pure: no
database, no clock (the planner caches these per distinct timeline, see
:class:`scheduler.plan_rows.PassCache`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from scheduler.programme import AudienceName, Kind, Programme, Touchpoint
from scheduler.timeline import MatchFacts, Occurrence, localize, occurrences

DAY = timedelta(days=1)
# Reminders and call announcements lie at most this far from their touchpoint's occurrence.
REMINDER_REACH = timedelta(days=35)
ANNOUNCE_CHANNELS = ("sms", "email", "telegram")


@dataclass(frozen=True, eq=False, slots=True)
class Send:
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
    # The touchpoint's channels in their listed order, whatever the person prefers (the farewell
    # goes by email first, as the programme's leaflet says).
    in_order: bool = False


@dataclass(frozen=True, eq=False, slots=True)
class Step:
    """What one occurrence asks for within the window: a staff task, and messages to each
    recipient in an audience."""

    touchpoint: Touchpoint
    occurrence: Occurrence
    task: bool
    audience: AudienceName | None
    skip_opted_out: bool
    sends: tuple[Send, ...]


def timeline_steps(
    programme: Programme, facts: MatchFacts, now: datetime, start: datetime, until: datetime
) -> tuple[Step, ...]:
    """The steps of one timeline whose tasks or messages fall between ``start`` and ``until``."""
    zone = ZoneInfo(facts.timezone)
    since = (start - REMINDER_REACH).astimezone(zone).date()
    steps: list[Step] = []
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
            sends: list[Send] = []
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
            steps.append(Step(tp, occ, task, audience, skip_opted_out, tuple(sends)))
    return tuple(steps)


def _announcement(tp: Touchpoint, occ: Occurrence, zone: ZoneInfo) -> Send:
    """Tell the person who will be called when: unannounced calls felt "artificial" (001:1437)."""
    assert tp.announce is not None
    due = localize(occ.due.replace(tzinfo=None) - tp.announce.delta, zone)
    return Send(
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
) -> list[Send]:
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
    if occ.extra.get("short_notice"):
        context["short_notice"] = True
    for name in ("holiday_kind", "holiday_first", "holiday_last"):
        if occ.extra.get(name):
            context[name] = occ.extra[name]
    channels = tuple(str(c) for c in tp.channels)
    sends = [
        Send(
            tp.id,
            occ.key,
            tp.template_name,
            tp.kind.value,
            occ.due.astimezone(UTC),
            occ.expires.astimezone(UTC) if occ.expires is not None else None,
            channels,
            tp.essential,
            context,
            in_order=tp.channel_order == "as_listed",
        )
    ]
    for number, reminder in enumerate(tp.reminders, start=1):
        if reminder.staff_task:
            continue  # created when due, only if still unanswered (see followup.survey_calls)
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
            Send(
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
