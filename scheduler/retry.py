"""Retry policy as data, and writes that wait for the database to come back.

A transient failure is retried with capped exponential backoff and jitter until the message's
own expiry (``expires_at``, from the touchpoint's ``expiry``), not for a fixed number of tries:
an hour-long provider outage delays messages, it does not give them up. A message without an
expiry is retried for ``window`` after it was due. A provider's ``Retry-After`` is a floor.

The policy is data: each channel has one (:data:`DEFAULT_POLICY` unless the dispatcher is given
another), a programme may change it per channel (``retry: {sms: {max_interval: 10min}}``) and a
touchpoint for itself (``retry: {max_interval: 10min, until: 2h}``); :func:`policy_for` layers
them, the touchpoint last. ``until`` stops the retries that long after the message was due, or
at its expiry if that comes first.

Whether an error is transient or permanent is the channels' decision (their one table of
provider codes, :mod:`scheduler.channels.errors`); an exception no table knows is transient.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from sqlalchemy.exc import DBAPIError, OperationalError

from scheduler.offsets import Offset, parse_offset

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a message again after a transient failure."""

    first: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=30)
    jitter: float = 0.2
    window: timedelta = timedelta(hours=24)
    """How long a message without an expiry is retried after it was due."""
    until: timedelta | None = None
    """Stop retrying this long after the message was due, even before its expiry."""

    def backoff(self, attempts: int, rng: random.Random, retry_after: float | None) -> timedelta:
        """The wait before try ``attempts + 1``: doubled each time, capped, jittered."""
        exponent = min(max(attempts - 1, 0), 30)
        base = min(self.first.total_seconds() * 2**exponent, self.cap.total_seconds())
        seconds = base * rng.uniform(1 - self.jitter, 1 + self.jitter)
        if retry_after is not None:
            seconds = max(seconds, retry_after)
        return timedelta(seconds=seconds)

    def deadline(self, due_at: datetime, expires_at: datetime | None) -> datetime:
        end = expires_at if expires_at is not None else due_at + self.window
        if self.until is not None:
            end = min(end, due_at + self.until)
        return end

    def overridden(self, spec: RetrySpec | None) -> RetryPolicy:
        """This policy with what ``spec`` (from a programme file) sets."""
        if spec is None:
            return self
        return replace(
            self,
            first=_or(spec.first, self.first),
            cap=_or(spec.max_interval, self.cap),
            window=_or(spec.window, self.window),
            until=_or(spec.until, self.until) if spec.until is not None else self.until,
            jitter=spec.jitter if spec.jitter is not None else self.jitter,
        )


DEFAULT_POLICY = RetryPolicy()


def _or(value: Offset | None, default: timedelta | None) -> timedelta:
    if value is not None and value.fixed is not None:
        return value.fixed
    assert default is not None
    return default


def _fixed(value: Offset | None) -> Offset | None:
    if value is None:
        return None
    if value.fixed is None or value.fixed <= timedelta(0):
        raise ValueError("must be a positive duration in min, h, d or w, e.g. 10min or 2h")
    return value


_Duration = Annotated[
    Offset | None, BeforeValidator(lambda v: None if v is None else parse_offset(v))
]


class RetrySpec(BaseModel):
    """A retry policy as a programme file writes it; what is left out keeps the channel's."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    first: _Duration = None
    """The wait after the first failed try (doubled after each further one)."""
    max_interval: _Duration = None
    """The longest wait between two tries."""
    jitter: float | None = Field(default=None, ge=0, le=0.9)
    until: _Duration = None
    """Give up this long after the message was due (or at its expiry, if sooner)."""
    window: _Duration = None
    """How long a message without an expiry is retried."""

    @field_validator("first", "max_interval", "until", "window")
    @classmethod
    def _positive(cls, value: Offset | None) -> Offset | None:
        return _fixed(value)


def policy_for(
    base: RetryPolicy,
    programme_spec: RetrySpec | None,
    touchpoint_spec: RetrySpec | None,
) -> RetryPolicy:
    """The channel's policy, changed by the programme's for that channel, then the touchpoint's."""
    return base.overridden(programme_spec).overridden(touchpoint_spec)


def is_database_down(exc: BaseException) -> bool:
    """An error that says the database cannot be reached or written (not a bug of ours)."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def until_written(
    write: Callable[[], T],
    what: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    first: float = 0.5,
    cap: float = 10.0,
    give_up_after: float | None = None,
) -> T:
    """Run ``write`` (one transaction) until the database takes it.

    Only errors that mean the database is unreachable or full are retried, with capped
    backoff; anything else is raised at once. The outcome of a send must never be lost, so
    by default this waits as long as the outage lasts.
    """
    wait, started = first, time.monotonic()
    while True:
        try:
            return write()
        except Exception as exc:
            if not is_database_down(exc):
                raise
            if give_up_after is not None and time.monotonic() - started > give_up_after:
                raise
            log.warning("database unavailable while %s (%s); retrying", what, type(exc).__name__)
        sleep(wait)
        wait = min(wait * 2, cap)
