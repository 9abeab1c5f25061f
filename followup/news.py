"""Urgent news: a case staff must hear of in seconds, not at the next tick.

A worry, a parent's or family's message or a failure of the bot is recorded in a worker thread, inside a
transaction. :func:`announce` marks that transaction; once it has committed (never before, so
whoever is woken sees the new case) the callback given to :func:`on_news` runs, in that same
thread. The composition root's callback only hands a wake-up to its event loop
(``loop.call_soon_threadsafe``), which then queues and sends the alert at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

_FLAG = "venskab.urgent_news"

# Besides every urgent case: what a parent or a family wrote (they wait for an answer), and the
# bot failing someone. These are never held back to be grouped with others either.
URGENT_RULES = frozenset({"worry", "message_from_parent", "message_from_family", "bot_error"})


def announce(session: Session) -> None:
    """Wake the alerting when this session's transaction commits."""
    session.info[_FLAG] = True


def on_news(factory: sessionmaker[Session], callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after each commit that announced news. Returns a function that stops
    listening."""

    def committed(session: Session) -> None:
        if session.info.pop(_FLAG, False):
            try:
                callback()
            except Exception:  # what was committed stands; the next tick sends the alert
                log.exception("could not wake the alerting")

    def rolled_back(session: Session, previous: object) -> None:
        session.info.pop(_FLAG, None)

    event.listen(factory, "after_commit", committed)
    event.listen(factory, "after_soft_rollback", rolled_back)

    def stop() -> None:
        event.remove(factory, "after_commit", committed)
        event.remove(factory, "after_soft_rollback", rolled_back)

    return stop
