"""The sections of a programme file beside its timeline: escalations and their policy,
sparring, the contact standard, the waiting list, certificates and the greetings (moments)."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr
from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from scheduler.offsets import Offset, local_rule, parse_offset
from scheduler.programme_fields import ChannelName, OffsetField, Strict, TimeField


class PolicyStep(Strict):
    """One push of a case: how long after the case opened, and to whom.

    ``after`` is a duration (``0h``, ``2h``, ``4h``) or a number of working days (``1wd``: the
    same time on the next working day). ``to: staff`` is the match's staff member;
    ``to: coordinators`` is the programme's coordinators, and the staff member too."""

    after: str = "0h"
    to: Literal["staff", "coordinators"] = "staff"

    @field_validator("after")
    @classmethod
    def _after(cls, value: str) -> str:
        value = str(value).strip()
        if re.fullmatch(r"\d+wd", value):
            return value
        offset = parse_offset(value)
        if offset.fixed is None or offset.fixed < timedelta(0):
            raise ValueError("expected a duration such as 0h, 2h or 30min, or working days: 1wd")
        return value

    @property
    def working_days(self) -> int | None:
        return int(self.after[:-2]) if self.after.endswith("wd") else None

    @property
    def delay(self) -> timedelta:
        fixed = parse_offset(self.after).fixed if self.working_days is None else None
        return fixed or timedelta(0)

    @property
    def order(self) -> timedelta:
        """For ordering steps: a working day counts as a day."""
        return timedelta(days=self.working_days) if self.working_days is not None else self.delay


def _steps(*steps: tuple[str, str]) -> tuple[PolicyStep, ...]:
    return tuple(PolicyStep(after=after, to=to) for after, to in steps)  # type: ignore[arg-type]


class EscalationPolicy(Strict):
    """Who hears of a case and when: a bounded list of pushes per severity. When the last step
    has gone out nothing more is pushed; the case stays open in the digest and the case list."""

    urgent: tuple[PolicyStep, ...] = Field(
        default_factory=lambda: _steps(
            ("0h", "staff"), ("2h", "coordinators"), ("4h", "coordinators")
        ),
        min_length=1,
        max_length=5,
    )
    normal: tuple[PolicyStep, ...] = Field(
        default_factory=lambda: _steps(("0h", "staff"), ("1wd", "staff")),
        min_length=1,
        max_length=5,
    )

    @model_validator(mode="after")
    def _first_at_once(self) -> EscalationPolicy:
        for name in ("urgent", "normal"):
            steps = getattr(self, name)
            if steps[0].after not in ("0h", "0min", "0d", "0wd"):
                raise ValueError(f"{name}: the first step must be at once (after: 0h)")
            for before, step in pairwise(steps):
                if step.order < before.order:
                    raise ValueError(
                        f"{name}: each step is counted from the first push, so they must be in "
                        f"order ({step.after} comes after {before.after})"
                    )
        return self


class Escalations(Strict):
    consecutive_missed_visits: int | None = Field(default=2, ge=1)
    days_without_visit: int | None = Field(default=None, ge=1)
    unanswered_prompt_weeks: int | None = Field(default=3, ge=1)
    low_mood_at_or_below: int = Field(default=2, ge=1, le=5)
    low_mood_times: int = Field(default=2, ge=1)
    # Nothing heard from the volunteer family (no visit answered, no check-in, no message, no
    # contact with staff) for this many weeks: a case proposes to mark the match unreachable.
    unreachable_after_weeks: int | None = Field(default=6, ge=1)
    policy: EscalationPolicy = Field(default_factory=lambda: EscalationPolicy())


class Sparring(Strict):
    """Recurring sparring sessions as an RFC 5545 rule (the first Tuesday every other month...)."""

    rrule: str
    dtstart: date
    at: TimeField
    duration: OffsetField = Offset("90min", relativedelta(minutes=90))

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, value: str) -> str:
        try:
            rrulestr(local_rule(value, ZoneInfo("UTC")), dtstart=date(2026, 1, 1))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not an RFC 5545 rule ({exc})") from exc
        return value


class ContactRhythm(Strict):
    """How often staff promise to be in touch with one party of a match."""

    first: OffsetField | None = None
    """The first contact at the latest this long after the start (default: ``every``)."""
    every: OffsetField
    """Then at most this long between two contacts."""


class ContactStandard(Strict):
    """The contact rhythm staff promise each party (a finished staff task with that party as
    its counterpart counts, and so does a contact recorded with ``venskab contact add``)."""

    volunteer_family: ContactRhythm | None = None
    contact_person: ContactRhythm | None = None

    def rhythms(self) -> dict[str, ContactRhythm]:
        found = {"volunteer_family": self.volunteer_family, "contact_person": self.contact_person}
        return {party: rhythm for party, rhythm in found.items() if rhythm is not None}


class Waiting(Strict):
    """How the programme keeps volunteer families and referred children warm while they wait
    for a match: a short note every ``note_every`` from the day they started waiting, at
    ``note_at`` on their wall clock, by the first channel they can be reached on; and a staff
    task when someone has waited ``staff_task_after``."""

    note_every: OffsetField
    note_at: TimeField = time(10, 0)
    family_channels: tuple[ChannelName, ...] = (
        ChannelName.TELEGRAM,
        ChannelName.EMAIL,
        ChannelName.SMS,
    )
    contact_channels: tuple[ChannelName, ...] = (ChannelName.SMS, ChannelName.EMAIL)
    expiry: OffsetField = Offset("7d", relativedelta(days=7))
    staff_task_after: OffsetField | None = None

    @field_validator("note_every")
    @classmethod
    def _positive(cls, value: Offset) -> Offset:
        probe = date(2026, 1, 1)
        if probe + value.delta <= probe + timedelta(days=6):
            raise ValueError("must be at least a week, such as 6w or 2mo")
        return value

    @field_validator("family_channels", "contact_channels")
    @classmethod
    def _some(cls, value: tuple[ChannelName, ...]) -> tuple[ChannelName, ...]:
        if not value or ChannelName.VOICE in value:
            raise ValueError("list one or more of telegram, email and sms")
        return value


class Certificates(Strict):
    """The child and criminal record certificates every volunteer from ``required_from_age``
    delivers: valid for ``valid_for`` from their date; staff get a task ``renew_before`` that."""

    valid_for: OffsetField = Offset("2y", relativedelta(years=2))
    renew_before: OffsetField = Offset("60d", relativedelta(days=60))
    required_from_age: int = Field(default=15, ge=0, le=30)


class Moments(Strict):
    """Moments shared with the parent (``followup.moments``): whether a volunteer family may send
    the parent a greeting through the bot, and whether it may carry a photo (still only to a
    parent whose consent staff have recorded)."""

    enabled: bool = True
    photos: bool = True
