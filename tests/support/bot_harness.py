"""The bot under test: the real application, long-polling the fake Bot API from its own loop.

:class:`BotHarness` runs ``bot.app.build_application`` and ``start_bot`` in a background event
loop (as ``venskab run`` does), with a clock the test sets. ``say`` and ``press`` queue an
update on the fake server, wait until the bot has fetched it by ``getUpdates`` and finished
handling it, and return the Bot API calls it made meanwhile. ``tick`` runs the planner and
dispatcher (the outbox) through the same bot, so visit prompts arrive as they do in production.

Fixtures here (``bot``; ``webhook``, the bot behind the web app in webhook mode) are imported by
the ``test_bot_*`` modules.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, MetaData, select
from sqlalchemy.orm import Session, sessionmaker
from telegram.request import HTTPXRequest

from bot.app import build_application, start_bot, stop_bot
from bot.context import BotApplication
from bot.webhook import telegram_route
from scheduler.channels.sandbox import SandboxChannel
from scheduler.channels.telegram import ChatRateLimiter, TelegramChannel
from store.models import Base
from tests.conftest import free_port
from tests.fakes.telegram import FakeTelegram, TelegramCall
from venskab.cli.common import AppContext
from venskab.runtime import Runtime
from venskab.urgent import UrgentNews
from web.app import create_app

T = TypeVar("T")

# Monday 9 March 2026, 19:10 in Copenhagen: a week after the cast's match started (Monday
# 2 March), ten minutes after the first weekly visit prompt was due.
VISIT_EVENING = datetime(2026, 3, 9, 18, 10, tzinfo=UTC)
FAMILY_CHAT = 5001
STAFF_CHAT = 7001


class Clock:
    """The time the bot and the runtime see; tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def app_context(db_url: str, engine: Engine, fake: FakeTelegram, **env: str) -> AppContext:
    settings = {
        "VENSKAB_DATABASE_URL": db_url,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_URL": fake.url,
        **env,
    }
    return AppContext(env=settings, _engine=engine)


@dataclass
class Sent:
    """What the bot did in answer to one update."""

    calls: list[TelegramCall]

    def of(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method.lower() == method.lower()]

    @property
    def texts(self) -> list[str]:
        """Texts the person sees: new messages, edited messages and button toasts."""
        found = []
        for call in self.calls:
            if call.method in ("sendMessage", "editMessageText") or (
                call.method == "answerCallbackQuery" and call.params.get("text")
            ):
                found.append(str(call.params["text"]))
        return found

    @property
    def text(self) -> str:
        return "\n---\n".join(self.texts)

    def buttons(self) -> list[list[str]]:
        """The inline buttons' labels, row by row, of the last message shown."""
        for call in reversed(self.calls):
            if call.method in ("sendMessage", "editMessageText"):
                markup = call.params.get("reply_markup") or {}
                return [[b["text"] for b in row] for row in markup.get("inline_keyboard", [])]
        return []

    def data(self, label: str) -> str:
        """The callback data of the button labelled ``label`` (exactly, or starting with it)."""
        for call in reversed(self.calls):
            markup = call.params.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if button["text"] == label or button["text"].startswith(label):
                        return str(button["callback_data"])
        raise AssertionError(f"no button {label!r} in {self.buttons()}")


class BotHarness:
    """``rate_limited``: Telegram's limits as in production (``ChatRateLimiter``), not off;
    ``urgent_news``: alerts for urgent news sent at once, as ``venskab run`` does."""

    def __init__(
        self,
        fake: FakeTelegram,
        app: AppContext,
        clock: Clock,
        *,
        rate_limited: bool = False,
        urgent_news: bool = False,
    ) -> None:
        self.fake = fake
        self.app = app
        self.clock = clock
        self.rate_limited = rate_limited
        self.urgent_news = urgent_news
        self.urgent: UrgentNews | None = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.application: BotApplication | None = None
        self.runtime: Runtime | None = None

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> BotHarness:
        if not self.thread.is_alive():
            self.thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        application = build_application(
            self.app.services,
            clock=self.clock,
            rate_limiter=ChatRateLimiter() if self.rate_limited else None,
            get_updates_request=HTTPXRequest(connection_pool_size=1, read_timeout=5),
        )
        await start_bot(application, self.app.settings, poll_timeout=1)
        self.application = application
        channels = {name: SandboxChannel(name) for name in ("sms", "email", "voice")}
        self.runtime = Runtime(
            self.app,
            channels={**channels, "telegram": TelegramChannel(application.bot)},
            sandbox=frozenset(channels),
        )
        if self.urgent_news:
            self.urgent = UrgentNews(self.runtime, self.clock)
            self.urgent.start()

    def stop(self) -> None:
        """Stop the bot (as on shutdown); the loop stays for a :meth:`start` again."""
        if self.urgent is not None:
            self.call(self.urgent.stop())
            self.urgent = None
        if self.application is not None:
            self.call(stop_bot(self.application))
            self.application = None

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    # -- talking to the bot ----------------------------------------------------------------

    def process(self, update: dict[str, Any]) -> Sent:
        """Queue ``update`` for getUpdates and wait until the bot has handled it."""
        assert self.application is not None, "the bot is not running"
        before = len(self.fake.calls)
        pushed = self.fake.push_update(update)
        deadline = time.monotonic() + 10
        while any(u["update_id"] == pushed["update_id"] for u in self.fake.pending_updates()):
            if time.monotonic() > deadline:
                raise AssertionError("the bot did not fetch the update")
            time.sleep(0.002)
        self.call(self.application.update_queue.join())
        return Sent([c for c in self.fake.calls[before:] if c.method != "getUpdates"])

    def process_many(self, updates: list[dict[str, Any]]) -> Sent:
        """Queue several updates at once; wait until every one is handled."""
        assert self.application is not None
        before = len(self.fake.calls)
        ids = {self.fake.push_update(u)["update_id"] for u in updates}
        deadline = time.monotonic() + 5
        while any(u["update_id"] in ids for u in self.fake.pending_updates()):
            if time.monotonic() > deadline:
                raise AssertionError("the bot did not fetch the updates")
            time.sleep(0.002)
        self.call(self.application.update_queue.join())
        return Sent([c for c in self.fake.calls[before:] if c.method != "getUpdates"])

    def say(self, chat_id: int, text: str, language: str = "da") -> Sent:
        user = {**self.fake.user(chat_id), "language_code": language}
        return self.process(self.fake.message_update(chat_id, text, user=user, push=False))

    def press(self, chat_id: int, data: str, message_id: int | None = None) -> Sent:
        return self.process(
            self.fake.callback_update(
                chat_id, data, message_id or self.last_message_id(chat_id), push=False
            )
        )

    def last_message_id(self, chat_id: int) -> int:
        for call in reversed(self.fake.calls):
            if (
                call.method == "sendMessage"
                and call.status == 200
                and call.params["chat_id"] == chat_id
            ):
                return int(call.result["message_id"])
        raise AssertionError(f"the bot sent nothing to chat {chat_id}")

    def tick(self, now: datetime) -> Sent:
        """One planning and dispatch cycle at ``now`` (the bot's clock moves there too)."""
        assert self.runtime is not None
        self.clock.now = now
        before = len(self.fake.calls)
        self.call(self.runtime.tick(now))
        return Sent([c for c in self.fake.calls[before:] if c.method != "getUpdates"])

    def prompt_to(self, chat_id: int, sent: Sent, action: str = "v") -> tuple[int, dict[str, Any]]:
        """The (message id, params) of the last message to ``chat_id`` whose first button's
        callback data has ``action`` (visit prompt "v"/"vn", sparring invite "rs", ack "ack")."""
        for call in reversed(sent.calls):
            if call.method != "sendMessage" or call.params["chat_id"] != chat_id:
                continue
            data = callback_data(call.params)
            if data and data[0].split("|")[1] == action:
                return int(call.result["message_id"]), call.params
        raise AssertionError(f"no {action!r} buttons sent to {chat_id}: {sent.texts}")


def labels(params: dict[str, Any]) -> list[list[str]]:
    markup = params.get("reply_markup") or {}
    return [[b["text"] for b in row] for row in markup.get("inline_keyboard", [])]


def callback_data(params: dict[str, Any]) -> list[str]:
    markup = params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def snapshot(factory: sessionmaker[Session]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: equal snapshots mean nothing was written."""
    metadata: MetaData = Base.metadata
    with factory() as session:
        return {
            table.name: sorted(
                (tuple(repr(v) for v in row) for row in session.execute(select(table))), key=repr
            )
            for table in metadata.sorted_tables
        }


# Webhook mode: the public URL and the secret Telegram sends with each update.
PUBLIC = "https://venskab.example.org"
SECRET = "s3cret-Webhook_token"


def post(url: str, update: dict[str, Any], secret: str | None) -> httpx.Response:
    """An update posted to the webhook as Telegram does, with ``secret`` in its header."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return httpx.post(url, content=json.dumps(update), headers=headers, timeout=5)


TOKEN_IN_LINK = re.compile(r"https://t\.me/venskab_test_bot\?start=([A-Za-z0-9_-]{1,64})$")


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server
        server.assert_no_violations()


@pytest.fixture
def app(db_url: str, engine: Engine, fake: FakeTelegram) -> AppContext:
    """The command line's context, on the test database, at the bot's starting time."""
    context = app_context(db_url, engine, fake)
    context.now_override = VISIT_EVENING
    return context


@pytest.fixture
def bot(
    fake: FakeTelegram, app: AppContext, session_factory: sessionmaker[Session]
) -> Iterator[BotHarness]:
    harness = BotHarness(fake, app, Clock(VISIT_EVENING)).start()
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture
def webhook(
    fake: FakeTelegram, db_url: str, engine: Engine, session_factory: sessionmaker[Session]
) -> Iterator[tuple[BotHarness, str]]:
    """The bot in webhook mode: the web app, in the bot's event loop as in `venskab run`, takes
    the updates; yields the harness and the webhook's URL."""
    app = app_context(
        db_url, engine, fake, VENSKAB_PUBLIC_URL=PUBLIC, TELEGRAM_WEBHOOK_SECRET=SECRET
    )
    harness = BotHarness(fake, app, Clock(VISIT_EVENING)).start()
    assert harness.application is not None
    port = free_port()
    web = create_app(app.services, extra_routes=[telegram_route(app.services, harness.application)])
    server = uvicorn.Server(
        uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )

    async def serve() -> asyncio.Task[None]:
        # The web server runs in the bot's event loop, as in `venskab run`.
        return asyncio.get_running_loop().create_task(server.serve())

    task = harness.call(serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.01)
    try:
        yield harness, f"http://127.0.0.1:{port}/telegram/webhook"
    finally:
        server.should_exit = True

        async def finish() -> None:
            await task

        harness.call(finish())
        harness.close()
