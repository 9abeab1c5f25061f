"""Pacing of sends at a provider's rate, without the provider's library (the dispatcher's lanes
use it too)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


class SegmentPacer:
    """Spaces sends so that on average at most ``rate`` segments leave per second.

    A message of *n* segments takes the next free slot and pushes the slot after it by
    ``n / rate`` seconds. Unlike a token bucket (e.g. aiolimiter, whose capacity equals its
    rate) there is no initial burst, and a message may have more segments than the rate. The
    slot is taken before the wait, so concurrent senders queue up fairly without a lock.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("the segment rate must be positive")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next_free = float("-inf")

    async def ready(self) -> None:
        """Wait until the next slot is free, without taking it (a sender claims its message
        only then: nothing waits for its turn while claimed)."""
        delay = self._next_free - self._clock()
        if delay > 0:
            await self._sleep(delay)

    async def wait(self, segments: int) -> None:
        now = self._clock()
        start = max(now, self._next_free)
        self._next_free = start + max(1, segments) / self.rate
        if start > now:
            await self._sleep(start - now)
