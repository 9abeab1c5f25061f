"""Updates from different chats at once, each chat's in order.

PTB handles one update at a time by default, so a stranger writing 25 messages (each reply
waiting for Telegram's per-chat limit) would hold up a family's worry behind them.
:class:`PerChatProcessor` lets PTB run updates concurrently but keeps one chat's updates in
the order they arrived: each waits for the chat's previous one. Updates without a chat (inline
queries, polls) run at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# Updates handled (or waiting for their chat's turn) at the same time. Waiting costs nothing,
# the database work runs in the worker threads' pool, so this is only an upper bound.
MAX_CONCURRENT = 256


class _Turn:
    """One chat's lock and how many of its updates hold or wait for it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class PerChatProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT) -> None:
        super().__init__(max_concurrent_updates)
        self._chats: dict[int, _Turn] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        turn = self._chats.get(chat.id)
        if turn is None:
            turn = self._chats[chat.id] = _Turn()
        turn.users += 1
        try:
            # asyncio.Lock wakes its waiters first come, first served: the chat's order is kept.
            async with turn.lock:
                await coroutine
        finally:
            turn.users -= 1
            if not turn.users:
                del self._chats[chat.id]  # nobody else holds or waits: forget the chat

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
