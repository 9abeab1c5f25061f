"""Worry-to-staff latency: how long a family's worry takes to reach its staff member.

Part of ``bench/bot_updates.py`` (run last; ``--rounds`` sets how many worries). The real bot
runs as in production: updates arrive through PTB's update queue, Telegram's rate limits are on
(``ChatRateLimiter``: about one message a second per private chat), and the runtime's
:class:`~venskab.runtime.UrgentNews` sends alerts the moment a worry is committed. In each round
a stranger's chat first floods the bot with 25 messages, then a linked family presses "I'm
worried" (one worry every ``GAP`` seconds, while earlier strangers' answers are still going
out); the time is taken from putting the worry on the queue until the staff member's alert
is handed to the Bot API (the in-process one from ``bot_updates``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import update

from bench.bot_updates import NOW, TOKEN, LocalBotApi, _message, percentile, seed
from bot.app import build_application
from bot.buttons import worry_label
from scheduler.channels.sandbox import SandboxChannel
from scheduler.channels.telegram import TelegramChannel
from store.db import transaction
from store.models import Base, Staff
from venskab.cli.common import AppContext
from venskab.runtime import Runtime
from venskab.urgent import UrgentNews

STAFF_CHAT = 90_000
FLOOD = 25
FIRST_STRANGER = 50_000_000
GAP = 1.1  # seconds between worries


class TimedBotApi(LocalBotApi):
    """Answers at once, and notes when each chat was last sent a message."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: dict[int, float] = {}

    async def do_request(
        self, url: str, method: str, request_data: Any = None, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        if url.endswith("/sendMessage") and request_data is not None:
            self.sent_at[int(request_data.parameters["chat_id"])] = time.perf_counter()
        return await super().do_request(url, method, request_data, *args, **kwargs)


async def _until_sent(api: TimedBotApi, chat_id: int, since: float, timeout: float = 60) -> float:
    deadline = since + timeout
    while api.sent_at.get(chat_id, 0.0) < since:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"nothing reached chat {chat_id} within {timeout:g} s")
        await asyncio.sleep(0.002)
    return api.sent_at[chat_id] - since


async def measure(database: str, rounds: int, flood: int) -> tuple[list[float], list[float]]:
    """(worry answered, staff alerted) latencies in seconds, one of each per round."""
    app = AppContext(env={"VENSKAB_DATABASE_URL": database, "TELEGRAM_BOT_TOKEN": TOKEN})
    with app.engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    app.upgrade()
    pairs = seed(app, rounds)
    with transaction(app.session_factory) as session:
        session.execute(update(Staff).values(telegram_chat_id=STAFF_CHAT))
    api = TimedBotApi()
    # The default rate limiter: Telegram's limits, as in production.
    application = build_application(
        app.services, clock=lambda: NOW, request=api, get_updates_request=LocalBotApi()
    )
    await application.initialize()
    await application.start()  # handles what is put on the update queue, as polling would
    sandbox = {name: SandboxChannel(name) for name in ("sms", "email", "voice")}
    runtime = Runtime(
        app,
        channels={**sandbox, "telegram": TelegramChannel(application.bot)},
        sandbox=frozenset(sandbox),
    )
    urgent = UrgentNews(runtime, lambda: NOW)
    urgent.start()
    answered: list[float] = []
    alerted: list[float] = []
    worry = worry_label("da")
    try:
        for n, (chat_id, _) in enumerate(pairs):
            for k in range(flood):
                await application.update_queue.put(
                    _update(application, _message(FIRST_STRANGER + n, f"hej {k}"))
                )
            pressed = time.perf_counter()
            await application.update_queue.put(_update(application, _message(chat_id, worry)))
            alerted.append(await _until_sent(api, STAFF_CHAT, pressed))
            answered.append(await _until_sent(api, chat_id, pressed))
            # The next worry a little later: one staff member's chat takes about a message a
            # second (Telegram's limit), which back-to-back rounds would measure instead.
            await asyncio.sleep(GAP)
        await application.update_queue.join()  # the strangers' answers, at their own pace
    finally:
        await urgent.stop()
        await application.stop()
        await application.shutdown()
        app.close()
    return answered, alerted


def _update(application: Any, data: dict[str, Any]) -> Any:
    from telegram import Update

    return Update.de_json(data, application.bot)


def report(database: str, rounds: int, flood: int = FLOOD) -> None:
    answered, alerted = asyncio.run(measure(database, rounds, flood))
    print()
    print(
        f"worry to staff: {rounds} worries, each after a stranger's flood of {flood} messages, "
        "Telegram's rate limits on"
    )
    print(f"{'':<18}{'count':>7}{'p50 s':>9}{'p99 s':>9}{'max s':>9}")
    for name, values in (("family answered", answered), ("staff alerted", alerted)):
        print(
            f"{name:<18}{len(values):>7}{percentile(values, 0.5):>9.3f}"
            f"{percentile(values, 0.99):>9.3f}{max(values):>9.3f}"
        )
