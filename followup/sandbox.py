"""The sandbox's contract, between the web pages that show it and the composition root that
runs it (``venskab.sandbox``): chat as a volunteer family with the real bot, and move the demo
database's clock forward. Plain data and a protocol; nothing here talks to Telegram or ticks.

The sandbox exists only on the embedded default (SQLite, every channel recording instead of
sending); elsewhere :attr:`followup.services.Services.sandbox` is None and its pages are 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True)
class ChatButton:
    """An inline button under a message: pressing it sends ``data`` back to the bot."""

    text: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class ChatMessage:
    """One message in a sandbox chat, as the volunteer family's phone would show it."""

    id: int
    from_bot: bool
    text: str
    at: datetime
    buttons: tuple[tuple[ChatButton, ...], ...] = ()
    edited: bool = False
    toast: bool = False  # a short notice after a button press (answerCallbackQuery)


@dataclass(frozen=True)
class Chat:
    chat_id: int
    messages: list[ChatMessage]
    keyboard: tuple[str, ...] = ()  # the always-visible buttons under the chat


@dataclass(frozen=True)
class Advanced:
    """What a move of the clock did."""

    start: datetime
    end: datetime
    ticks: int
    sent: int = 0
    planned: int = 0


class Sandbox(Protocol):
    """What the sandbox pages can do; ``venskab.sandbox.SandboxControl`` implements it."""

    def chat_id(self, family_id: int) -> int:
        """The sandbox chat a volunteer family is (or will be) linked to."""
        ...

    async def join(self, family_id: int) -> int:
        """Link the family's sandbox chat through the bot (an invite link and ``/start``, as a
        family does); returns the chat id."""
        ...

    async def say(self, chat_id: int, text: str) -> None:
        """The family writes ``text``; returns once the bot has answered."""
        ...

    async def press(self, chat_id: int, message_id: int, data: str) -> None:
        """The family presses the button with ``data`` under message ``message_id``."""
        ...

    def chat(self, chat_id: int) -> Chat:
        """What the chat shows, oldest first."""
        ...

    async def advance(self, delta: timedelta) -> Advanced:
        """Move the clock forward by ``delta``, running a tick at every moment something is due
        in between (and at least every few hours), and at the end."""
        ...

    def now(self) -> datetime:
        """The sandbox's present."""
        ...
