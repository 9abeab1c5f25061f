"""Retry policy as data, and writes that wait for the database to come back.

A transient failure is retried with capped exponential backoff and jitter until the message's
own expiry (``expires_at``, from the touchpoint's ``expiry``), not for a fixed number of tries:
an hour-long provider outage delays messages, it does not give them up. A message without an
expiry is retried for ``window`` after it was due. A provider's ``Retry-After`` is a floor.

Whether an error is transient or permanent is the channels' decision (their one table of
provider codes, :mod:`scheduler.channels.errors`); an exception no table knows is transient.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

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

    def backoff(self, attempts: int, rng: random.Random, retry_after: float | None) -> timedelta:
        """The wait before try ``attempts + 1``: doubled each time, capped, jittered."""
        exponent = min(max(attempts - 1, 0), 30)
        base = min(self.first.total_seconds() * 2**exponent, self.cap.total_seconds())
        seconds = base * rng.uniform(1 - self.jitter, 1 + self.jitter)
        if retry_after is not None:
            seconds = max(seconds, retry_after)
        return timedelta(seconds=seconds)

    def deadline(self, due_at: datetime, expires_at: datetime | None) -> datetime:
        return expires_at if expires_at is not None else due_at + self.window


DEFAULT_POLICY = RetryPolicy()


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
