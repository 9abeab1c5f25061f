"""Telegram through python-telegram-bot: text with an optional inline keyboard."""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import BaseRequest
from telegram.warnings import PTBDeprecationWarning

from scheduler.channels.base import ChannelError, OutgoingMessage, SendResult
from scheduler.channels.errors import BODY_REFUSED, permanent_telegram_error
from scheduler.i18n import N_

# Telegram's limit on a message's text, counted after entity parsing.
TEXT_MAX = 4096
# Bad requests about this body, not the chat: the same text would be refused again.
BODY_REFUSALS = ("message is too long", "can't parse entities")


def utf16_length(text: str) -> int:
    """How long Telegram counts ``text``: in UTF-16 code units (an emoji such as 😊 is two)."""
    return len(text.encode("utf-16-le")) // 2


def shorten(text: str, limit: int = TEXT_MAX) -> str:
    """``text`` cut to ``limit`` UTF-16 units, ending with "…" where it was cut."""
    if utf16_length(text) <= limit:
        return text
    # A cut in the middle of a surrogate pair leaves half an emoji: drop that half.
    head = text.encode("utf-16-le")[: (limit - 1) * 2].decode("utf-16-le", errors="ignore")
    return head.rstrip() + "…"


def _refuses_body(exc: BaseException) -> bool:
    return isinstance(exc, BadRequest) and any(
        phrase in exc.message.lower() for phrase in BODY_REFUSALS
    )


class ChatRateLimiter(AIORateLimiter):
    """PTB's AIORateLimiter (30 requests/s overall, 20/min per group) plus a private-chat limit.

    AIORateLimiter only throttles groups and channels (negative ids). Telegram also asks bots
    not to send more than about one message per second to one private chat; this adds that,
    as a small bucket (``per_chat_burst`` messages, refilled at ``per_chat_rate`` per second) so
    a reply followed by an edit is not delayed.
    """

    def __init__(
        self,
        *,
        per_chat_rate: float = 1.0,
        per_chat_burst: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._per_chat_rate = per_chat_rate
        self._per_chat_burst = per_chat_burst
        self._chat_limiters: dict[int, AsyncLimiter] = {}

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        if len(self._chat_limiters) > 1024:
            # Forget idle chats (a full bucket means nothing is owed).
            for key, idle in list(self._chat_limiters.items()):
                if key != chat_id and idle.has_capacity(idle.max_rate):
                    del self._chat_limiters[key]
        found = self._chat_limiters.get(chat_id)
        if found is None:
            found = AsyncLimiter(self._per_chat_burst, self._per_chat_burst / self._per_chat_rate)
            self._chat_limiters[chat_id] = found
        return found

    async def process_request(
        self,
        callback: Any,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        chat_id: Any = data.get("chat_id")
        try:
            chat_id = int(chat_id)
        except (TypeError, ValueError):
            chat_id = None
        if chat_id is None or chat_id < 0 or not self._per_chat_rate:
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )
        async with self._chat_limiter(chat_id):
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )


def make_bot(
    token: str,
    api_url: str | None = None,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limiter: AIORateLimiter | None = None,
) -> ExtBot[Any]:
    """An ExtBot with rate limiting, talking to ``api_url`` (a fake or a local Bot API server).

    ``get_updates_request`` stays separate from ``request``: PTB gives long polling its own
    one-connection pool, so a pending ``getUpdates`` never blocks a send. The rate limiter
    does not retry on RetryAfter (``max_retries=0``): the error reaches the caller, and the
    dispatcher reschedules the send with ``retry_after``.
    """
    base: dict[str, Any] = {}
    if api_url:
        api_url = api_url.rstrip("/")
        base = {"base_url": f"{api_url}/bot", "base_file_url": f"{api_url}/file/bot"}
    return ExtBot(
        token,
        request=request,
        get_updates_request=get_updates_request,
        rate_limiter=rate_limiter if rate_limiter is not None else ChatRateLimiter(),
        **base,
    )


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _retry_after(exc: RetryAfter) -> float:
    # PTB 22 warns when retry_after is read as a number; both forms are handled here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return _seconds(exc.retry_after)


def telegram_error(exc: BaseException) -> ChannelError | None:
    """Translate a PTB exception; None for exceptions that are not about Telegram."""
    if isinstance(exc, RetryAfter):
        seconds = _retry_after(exc)
        return ChannelError(
            f"Telegram flood control: retry after {seconds:g} s",
            permanent=False,
            code="retry_after",
            retry_after=seconds,
        )
    if isinstance(exc, Forbidden):
        return ChannelError(
            N_("Telegram refused: the bot is blocked or cannot write to this chat"),
            permanent=True,
            code="forbidden",
        )
    if isinstance(exc, ChatMigrated):
        return ChannelError(
            N_("Telegram: the chat has moved"), permanent=True, code="chat_migrated"
        )
    if isinstance(exc, BadRequest):
        permanent = permanent_telegram_error(exc.message)
        if permanent is not None:
            return permanent
        # Anything else is about the request (markup, length, entities), not the address.
        return ChannelError(
            N_("Telegram refused the request (bad request)"), permanent=False, code="bad_request"
        )
    if isinstance(exc, InvalidToken):
        return ChannelError(
            N_("Telegram rejected the bot token"), permanent=False, code="invalid_token"
        )
    if isinstance(exc, TimedOut):
        return ChannelError(N_("timed out talking to Telegram"), permanent=False, code="timeout")
    if isinstance(exc, NetworkError):
        return ChannelError(N_("could not reach Telegram"), permanent=False, code="network")
    if isinstance(exc, TelegramError):
        return ChannelError(
            f"Telegram error ({type(exc).__name__})", permanent=False, code="telegram"
        )
    return None


def _chat_id(to: str) -> int | str:
    try:
        return int(to)
    except ValueError:
        return to  # "@channelname"


class TelegramChannel:
    """Sends a text message, with the inline keyboard from ``message.buttons``, via ``bot``.

    The bot is usually shared with the PTB Application. ``close()`` shuts it down only when
    ``owns_bot`` is true; otherwise the Application's shutdown does that.
    """

    name = "telegram"

    def __init__(self, bot: Bot, *, owns_bot: bool = False) -> None:
        self.bot = bot
        self.owns_bot = owns_bot

    async def send(self, message: OutgoingMessage) -> SendResult:
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(b.text, callback_data=b.callback_data, url=b.url)
                        for b in row
                    ]
                    for row in message.buttons
                ]
            )
        # initialize() is idempotent: it fetches getMe once and sets up the HTTP pools.
        try:
            await self.bot.initialize()
            sent = await self._send_text(message.to, shorten(message.body), markup)
        except Exception as exc:
            error = telegram_error(exc)
            if error is None:
                raise
            raise error from exc
        return SendResult(provider_id=str(sent.message_id))

    async def _send_text(self, to: str, body: str, markup: InlineKeyboardMarkup | None) -> Any:
        """Send ``body``; if Telegram refuses the text itself (too long once its entities are
        parsed, or entities it cannot parse), once more as plain text, shortened by the excess."""
        try:
            return await self.bot.send_message(_chat_id(to), body, reply_markup=markup)
        except BadRequest as exc:
            if not _refuses_body(exc):
                raise
            first = exc.message
        # Plain text (no parse mode, so no entities to parse), with room to spare.
        try:
            return await self.bot.send_message(
                _chat_id(to), shorten(body, TEXT_MAX - 96), reply_markup=markup, parse_mode=None
            )
        except BadRequest as exc:
            if not _refuses_body(exc):
                raise
            raise ChannelError(
                f"Telegram refused the text, shortened too ({first}; then {exc.message})",
                permanent=False,
                code=BODY_REFUSED,
            ) from exc

    async def close(self) -> None:
        if self.owns_bot:
            await self.bot.shutdown()
