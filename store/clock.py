"""The clock that stamps rows (``created_at``, ``updated_at``, audit entries) and the time zone
new people get.

The store never reads the wall clock or the configuration itself: the composition root installs
them with :func:`install` (``venskab tick --now`` installs the tick's moment), so every
timestamp written during a tick is the tick's own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

Clock = Callable[[], datetime]

_clock: Clock | None = None
_zone: Callable[[], str] | None = None


def install(clock: Clock, zone: Callable[[], str]) -> None:
    """Use ``clock`` for timestamps and ``zone()`` (an IANA name) for new people's time zone."""
    global _clock, _zone
    _clock, _zone = clock, zone


def now() -> datetime:
    """The installed clock's time; a process that installed none has a bug, said at once."""
    if _clock is None:
        raise RuntimeError("no clock installed: call store.clock.install() at start-up")
    return _clock()


def default_zone() -> str:
    """The configured time zone, for a person created without one."""
    if _zone is None:
        raise RuntimeError("no time zone installed: call store.clock.install() at start-up")
    return _zone()
