"""The bot's Application and CallbackContext: handlers get the database and the clock from here.

Following PTB's ``contexttypesbot`` example, a custom :class:`BotContext` gives every handler
``context.transaction()`` and ``context.now()``. The clock is injectable, so tests (and
``venskab`` runs with a fixed "now") see the same time as the planner and dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy.orm import Session, sessionmaker
from telegram.ext import Application, CallbackContext, ExtBot

from scheduler.programme import Programme
from scheduler.school_calendar import SchoolCalendar, shipped_calendar
from store.db import transaction


@dataclass
class BotServices:
    """What handlers need from the rest of the system."""

    factory: sessionmaker[Session]
    programmes: Mapping[str, Programme]
    clock: Callable[[], datetime]
    # Where the web side is reached (calendar feed links): the public URL or host and port.
    links_base: str = ""
    # Danish school holidays per municipality (calendars/school-holidays.yaml), offered by /pause.
    school_calendar: SchoolCalendar = field(default_factory=shipped_calendar)


class BotApplication(Application):
    """PTB's Application, carrying :class:`BotServices`, and saving conversation state after
    every update (PTB would otherwise write it every ``update_interval`` seconds, and a crash in
    between would forget what the family was in the middle of)."""

    def __init__(self, services: BotServices, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services

    async def process_update(self, update: object) -> None:
        await super().process_update(update)
        await self.update_persistence()


class BotContext(CallbackContext[ExtBot[None], dict[str, Any], dict[str, Any], dict[str, Any]]):
    @property
    def services(self) -> BotServices:
        return cast(BotApplication, self.application).services

    def now(self) -> datetime:
        return self.services.clock()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One short transaction: commit on success, roll back on any error."""
        with transaction(self.services.factory) as session:
            yield session

    @property
    def data(self) -> dict[str, Any]:
        """This chat's persistent data (an empty dict for updates without a chat)."""
        return self.chat_data if self.chat_data is not None else {}
