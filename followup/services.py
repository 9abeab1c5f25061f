"""What the bot and the web app are handed: the database, the programmes, the clock and the
few settings they read. Built by the composition root (:mod:`venskab`) and passed down, so
nothing below it reads the environment or the wall clock itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from followup.sandbox import Sandbox
from scheduler.programme import Programme
from store.db import transaction


class ServiceSettings(Protocol):
    """The settings the bot and the web app read (``venskab.settings.Settings`` has them)."""

    @property
    def public_url(self) -> str | None: ...
    @property
    def http_host(self) -> str: ...
    @property
    def http_port(self) -> int: ...
    @property
    def telegram_bot_token(self) -> str | None: ...
    @property
    def telegram_api_url(self) -> str | None: ...
    @property
    def telegram_webhook_secret(self) -> str | None: ...
    @property
    def twilio_auth_token(self) -> str | None: ...
    @property
    def webhook_mode(self) -> bool: ...
    @property
    def max_form_bytes(self) -> int: ...
    @property
    def max_webhook_bytes(self) -> int: ...

    def describe_channels(self) -> dict[str, str]: ...

    @property
    def links_url(self) -> str: ...
    @property
    def enabled_languages(self) -> tuple[str, ...]: ...


@dataclass
class Services:
    settings: ServiceSettings
    engine: Engine
    session_factory: sessionmaker[Session]
    programmes: Mapping[str, Programme]
    clock: Callable[[], datetime]
    zone: ZoneInfo
    # The key that signs links in messages, when it is not the one kept in the database (tests).
    link_secret: str | None = None
    # The sandbox (chat as a family, move the clock) on the embedded default; None elsewhere.
    sandbox: Sandbox | None = None
    # The real time, for what must not move with the sandbox's clock (staff sessions); None:
    # the clock above.
    wall_clock: Callable[[], datetime] | None = None

    def wall_now(self) -> datetime:
        return self.wall_clock() if self.wall_clock is not None else self.clock()

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One short transaction: commit on success, roll back on any error."""
        with transaction(self.session_factory) as session:
            yield session
