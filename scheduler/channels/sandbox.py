"""A channel that sends nothing, so the embedded default runs without any credentials.

It records nothing itself either: the outbox row, marked sent with the sandbox id, is the
record (the staff chat sandbox reads it from there).
"""

from __future__ import annotations

import asyncio
import random

from scheduler.channels.base import OutgoingMessage, SendResult
from scheduler.sms import segments as count_segments

CHANNEL_NAMES = ("sms", "email", "telegram", "voice")


class SandboxChannel:
    """Accepts every message for channel ``name`` and returns ``sandbox-<hex>`` as its id."""

    def __init__(self, name: str) -> None:
        if name not in CHANNEL_NAMES:
            raise ValueError(
                f"unknown channel {name!r}; expected one of {', '.join(CHANNEL_NAMES)}"
            )
        self.name = name
        # Ids from a generator seeded once: uuid4 reads the system's random source at every
        # call, and each read lets a busy worker thread take the interpreter from the event loop.
        self._ids = random.Random()

    async def send(self, message: OutgoingMessage) -> SendResult:
        # A real send waits for the network; without this a batch of sandbox sends would all
        # finish in one turn of the event loop and hold up everything else on it meanwhile.
        await asyncio.sleep(0)
        segments = max(1, count_segments(message.body).segments) if self.name == "sms" else None
        return SendResult(
            provider_id=f"sandbox-{self._ids.getrandbits(128):032x}", segments=segments
        )

    async def close(self) -> None:
        """Nothing to release."""
