"""The bot without Telegram, for the sandbox: the real application (every handler, our
persistence), with the Bot API answered in process by :class:`LocalBotApi`, which records what
the bot sent into each chat's log. Updates are made here from what the sandbox page's user
typed or pressed and fed through ``Application.process_update``, as a webhook would.

Scheduled messages (visit prompts, sparring invitations) go through the same ``Bot`` from the
outbox, so they appear in the chat with their buttons. A chat's log is kept in ``bot_state``
(namespace ``sandbox``), so it survives a restart; it keeps the last :data:`KEEP` messages.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker
from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.app import build_application
from bot.context import BotApplication
from bot.persistence import recall, remember
from followup.sandbox import Chat, ChatButton, ChatMessage

if TYPE_CHECKING:
    from followup.services import Services

NAMESPACE = "sandbox"
KEEP = 300
TOKEN = "1000000001:SANDBOX-local-bot-api-no-network-00"
BOT_USER = {"id": 1000000001, "is_bot": True, "first_name": "venskab", "username": "venskab_bot"}


def _markup_rows(markup: Any) -> list[list[dict[str, Any]]]:
    if isinstance(markup, str):
        markup = json.loads(markup)
    if not isinstance(markup, dict):
        return []
    return [
        [{k: b[k] for k in ("text", "callback_data", "url") if b.get(k) is not None} for b in row]
        for row in markup.get("inline_keyboard", [])
    ]


def _keyboard(markup: Any) -> list[str] | None:
    """The reply keyboard's button texts (the worry button), or None when not a reply keyboard."""
    if isinstance(markup, str):
        markup = json.loads(markup)
    if not isinstance(markup, dict) or "keyboard" not in markup:
        return None
    return [b["text"] if isinstance(b, dict) else str(b) for row in markup["keyboard"] for b in row]


class ChatLog:
    """Each sandbox chat's messages in ``bot_state``; read and written in worker threads."""

    def __init__(self, factory: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.factory = factory
        self.clock = clock
        self._lock = asyncio.Lock()

    def load(self, chat_id: int) -> dict[str, Any]:
        data = recall(self.factory, NAMESPACE, str(chat_id)) or {}
        data.setdefault("messages", [])
        data.setdefault("next_id", 1)
        data.setdefault("keyboard", [])
        return data

    def _save(self, chat_id: int, data: dict[str, Any]) -> None:
        data["messages"] = data["messages"][-KEEP:]
        remember(self.factory, NAMESPACE, str(chat_id), data)

    async def change(self, chat_id: int, change: Callable[[dict[str, Any]], Any]) -> Any:
        """Apply ``change`` to the chat's log and store it; returns what ``change`` returned."""
        async with self._lock:
            data = await asyncio.to_thread(self.load, chat_id)
            result = change(data)
            await asyncio.to_thread(self._save, chat_id, data)
            return result

    def add(self, data: dict[str, Any], from_bot: bool, text: str, **extra: Any) -> int:
        message_id = int(data["next_id"])
        data["next_id"] = message_id + 1
        data["messages"].append(
            {
                "id": message_id,
                "from_bot": from_bot,
                "text": text,
                "at": self.clock().astimezone(UTC).isoformat(),
                **extra,
            }
        )
        return message_id

    def chat(self, chat_id: int) -> Chat:
        data = self.load(chat_id)
        messages = [
            ChatMessage(
                id=int(m["id"]),
                from_bot=bool(m["from_bot"]),
                text=str(m["text"]),
                at=datetime.fromisoformat(m["at"]),
                buttons=tuple(
                    tuple(ChatButton(b["text"], b.get("callback_data"), b.get("url")) for b in row)
                    for row in m.get("buttons", [])
                ),
                edited=bool(m.get("edited")),
                toast=bool(m.get("toast")),
            )
            for m in data["messages"]
        ]
        return Chat(chat_id, messages, tuple(data.get("keyboard") or ()))


class LocalBotApi(BaseRequest):
    """Answers the Bot API in process, as Telegram would, and writes what the bot sends into
    the chat's :class:`ChatLog`. Nothing leaves the machine."""

    def __init__(self, log: ChatLog) -> None:
        self.log = log

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data is not None else {}
        result: Any = True
        if endpoint == "getMe":
            result = BOT_USER
        elif endpoint in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            result = await self._message(endpoint, params)
        elif endpoint == "answerCallbackQuery" and params.get("text"):
            chat_id = int(str(params["callback_query_id"]).split(":", 1)[0])
            text = str(params["text"])
            await self.log.change(chat_id, lambda data: self.log.add(data, True, text, toast=True))
        return 200, json.dumps({"ok": True, "result": result}).encode()

    async def _message(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        text = str(params.get("text", ""))
        markup = params.get("reply_markup")
        buttons = _markup_rows(markup)

        def change(data: dict[str, Any]) -> int:
            keyboard = _keyboard(markup)
            if keyboard is not None:
                data["keyboard"] = keyboard
            if endpoint == "sendMessage":
                return self.log.add(data, True, text, buttons=buttons)
            wanted = int(params.get("message_id", 0))
            for message in data["messages"]:
                if message["id"] == wanted:
                    if endpoint == "editMessageText":
                        message["text"] = text
                        message["edited"] = True
                    message["buttons"] = buttons
                    return wanted
            return self.log.add(data, True, text, buttons=buttons)

        message_id = await self.log.change(chat_id, change)
        return {
            "message_id": message_id,
            "date": int(self.log.clock().timestamp()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Familie"},
            "text": text or "…",
        }


class SandboxBot:
    """The bot application over :class:`LocalBotApi`, and the updates a family would send."""

    def __init__(self, services: Services) -> None:
        self.log = ChatLog(services.session_factory, services.now)
        self.application: BotApplication = build_application(
            services,
            token=TOKEN,
            request=LocalBotApi(self.log),
            get_updates_request=LocalBotApi(self.log),
            rate_limiter=None,
            api_url="http://sandbox.invalid",
        )
        self._update_id = int(services.now().timestamp())

    async def start(self) -> None:
        # Only initialised: updates are handed to process_update, so no fetcher is needed.
        await self.application.initialize()

    async def stop(self) -> None:
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    def _user(self, chat_id: int) -> dict[str, Any]:
        return {"id": chat_id, "is_bot": False, "first_name": "Familie", "language_code": "da"}

    def _next_update_id(self) -> int:
        self._update_id += 1
        return self._update_id

    async def say(self, chat_id: int, text: str, shown: str | None = None) -> None:
        """The family writes ``text`` (the chat shows ``shown`` instead, e.g. ``/start``
        without the invite's token)."""
        text = text.strip()[:4096]
        if not text:
            return
        logged = shown or text
        message_id = await self.log.change(chat_id, lambda d: self.log.add(d, False, logged))
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(self.log.clock().timestamp()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Familie"},
            "from": self._user(chat_id),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        await self._process({"update_id": self._next_update_id(), "message": message})

    async def press(self, chat_id: int, message_id: int, data: str) -> None:
        chat = await asyncio.to_thread(self.log.chat, chat_id)
        shown = next((m for m in chat.messages if m.id == message_id), None)
        text = shown.text if shown is not None else ""
        update = {
            "update_id": self._next_update_id(),
            "callback_query": {
                "id": f"{chat_id}:{self._update_id}",
                "from": self._user(chat_id),
                "chat_instance": str(chat_id),
                "data": data[:64],
                "message": {
                    "message_id": message_id,
                    "date": int(self.log.clock().timestamp()),
                    "chat": {"id": chat_id, "type": "private", "first_name": "Familie"},
                    "from": BOT_USER,
                    "text": text or "…",
                },
            },
        }
        await self._process(update)

    async def _process(self, data: dict[str, Any]) -> None:
        update = Update.de_json(data, self.application.bot)
        await self.application.process_update(update)

    def chat(self, chat_id: int) -> Chat:
        return self.log.chat(chat_id)
