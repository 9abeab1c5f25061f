"""Urgent news in seconds: alerts sent the moment a worry, a parent's message or a failure of
the bot is committed, instead of at the runtime's next tick (see :mod:`followup.news`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from followup.news import on_news
from scheduler.dispatcher import DispatchStats


class Alerting(Protocol):
    """What the listener needs of the runtime (``venskab.runtime.Runtime``)."""

    app: Any

    async def alert_now(self, now: datetime) -> DispatchStats: ...


log = logging.getLogger("venskab")


def _wake(loop: asyncio.AbstractEventLoop, news: asyncio.Event) -> None:
    """From any thread: set ``news`` on its loop (asyncio objects are not thread-safe)."""
    loop.call_soon_threadsafe(news.set)


class UrgentNews:
    """Sends alerts the moment urgent news is committed (see :mod:`followup.news`).

    The news is committed in a worker thread (a bot handler, a web route); the listener only
    hands a wake-up to the event loop, thread-safely, and the loop's waiter queues and sends the
    alerts. News arriving while it works is not lost: the waiter runs once more.
    """

    def __init__(
        self, runtime: Alerting, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stop_listening: Callable[[], None] | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        news = asyncio.Event()
        self._stop_listening = on_news(self.runtime.app.session_factory, lambda: _wake(loop, news))
        self._task = loop.create_task(self._wait(news), name="urgent-news")

    async def _wait(self, news: asyncio.Event) -> None:
        while True:
            await news.wait()
            news.clear()
            try:
                result = await self.runtime.alert_now(self.clock())
                log.info("urgent news: %s alerts sent", result.sent)
            except Exception:
                log.exception("sending urgent news failed; the next tick will try again")

    async def stop(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
