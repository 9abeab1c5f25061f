"""All of the bot's wiring: :func:`build_application` registers every handler in one place.

Updates arrive by long polling (the default) or by webhook through the web app (when
``VENSKAB_PUBLIC_URL`` and ``TELEGRAM_WEBHOOK_SECRET`` are set; see :mod:`bot.webhook`).
Only private chats are served; group chats, channels and edited messages are ignored. Visit
prompts and other scheduled messages do not come from here: the dispatcher sends them from the
outbox, with buttons from :func:`bot.buttons.buttons_for`; this module answers what people do.

Nothing here blocks the event loop: each handler is a small synchronous function that does its
database work in one transaction, and runs in a worker thread (``asyncio.to_thread``); what it
decided (an :class:`~bot.common.Outcome`) is then sent from the loop.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from telegram import BotCommand, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot import answers, calendar, callbacks, family, moments, presses, staff, staff_cases
from bot.common import Outcome, Reply, deliver, expired_text, send, user_locale, who_is
from bot.context import BotApplication, BotContext, BotServices
from bot.persistence import DbPersistence, remember
from bot.updates import PerChatProcessor
from followup.calendar_feed import base_url
from followup.escalations import raise_escalation
from scheduler import i18n
from scheduler.channels.telegram import ChatRateLimiter
from scheduler.i18n import N_
from store.db import transaction

if TYPE_CHECKING:
    from followup.services import Services, ServiceSettings

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
_DEFAULT: Final = object()

# The command menu (Telegram shows it in the user's app language, English for the rest).
COMMANDS = (
    ("checkin", N_("Tell us how it is going")),
    ("plan", N_("Your year plan")),
    ("next", N_("What happens next")),
    ("calendar", N_("Visits and dates in your calendar")),
    ("greeting", N_("Send a greeting to the child's parent")),
    ("pause", N_("Pause the visit messages")),
    ("stop", N_("End the match")),
    ("language", N_("Language / sprog")),
    ("help", N_("Help")),
)


def command_menu(locale: str) -> list[BotCommand]:
    texts = i18n.texts(locale)
    return [BotCommand(name, texts.gettext(text)) for name, text in COMMANDS]


Handler = Callable[[BotContext, Update], Outcome]


def build_application(
    app: Services,
    *,
    clock: Callable[[], datetime] | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limiter: BaseRateLimiter[Any] | object | None = _DEFAULT,
    api_url: str | None = None,
    token: str | None = None,
) -> BotApplication:
    """The bot, wired: handlers, our database persistence, the clock and the rate limiter.

    ``clock`` defaults to the services' (``Services.now``); ``request`` and
    ``get_updates_request`` replace PTB's HTTP clients (long polling keeps its own, so a
    pending ``getUpdates`` never blocks a reply); ``rate_limiter=None`` turns off throttling
    (tests, benchmarks). ``api_url`` defaults to ``TELEGRAM_API_URL``; ``token`` to
    ``TELEGRAM_BOT_TOKEN`` (the sandbox's bot, :mod:`bot.sandbox`, has its own).
    """
    settings = app.settings
    token = token or settings.telegram_bot_token
    if not token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    services = BotServices(
        app.session_factory, app.programmes, clock or app.now, base_url(settings)
    )
    builder = (
        ApplicationBuilder()
        .application_class(BotApplication, {"services": services})
        .token(token)
        .context_types(ContextTypes(context=BotContext))
        .persistence(DbPersistence(app.session_factory))
        .job_queue(None)  # schedules live in our tables and the outbox, never in PTB's JobQueue
        .concurrent_updates(PerChatProcessor())  # chats at once, each chat's updates in order
    )
    base = api_url or settings.telegram_api_url
    if base:
        builder = builder.base_url(f"{base.rstrip('/')}/bot").base_file_url(
            f"{base.rstrip('/')}/file/bot"
        )
    if request is not None:
        builder = builder.request(request)
    # Long polling gets its own HTTP client with two connections: on shutdown PTB confirms the
    # last updates with one more getUpdates while the cancelled long poll may still hold one.
    builder = builder.get_updates_request(
        get_updates_request or HTTPXRequest(connection_pool_size=2)
    )
    limiter = ChatRateLimiter() if rate_limiter is _DEFAULT else rate_limiter
    if isinstance(limiter, BaseRateLimiter):
        builder = builder.rate_limiter(limiter)
    application: BotApplication = builder.build()  # type: ignore[assignment]
    register(application)
    return application


def register(application: BotApplication) -> None:
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    commands: dict[str, Handler] = {
        "start": family.start,
        "help": family.on_help,
        "checkin": family.with_match("ci"),
        "plan": family.with_match("pl"),
        "next": family.with_match("nx"),
        "calendar": calendar.on_calendar,
        "pause": family.with_match("pa"),
        "stop": family.with_match("st"),
        "greeting": family.with_match("gr"),
        "language": family.on_language,
        "cancel": family.on_cancel,
        "today": staff.today,
        "match": staff.match_summary,
    }
    for name, handler in commands.items():
        application.add_handler(CommandHandler(name, run(handler), filters=private))
    application.add_handler(CallbackQueryHandler(on_callback))
    application.add_handler(MessageHandler(private & filters.COMMAND, run(family.on_help)))
    application.add_handler(MessageHandler(private & filters.TEXT, run(answers.on_text)))
    photos = filters.PHOTO | filters.Document.IMAGE
    application.add_handler(MessageHandler(private & photos, moments.on_photo))
    application.add_handler(MessageHandler(private, run(family.on_other)))
    application.add_error_handler(on_error)


def run(handler: Handler) -> Callable[[Update, BotContext], Coroutine[Any, Any, None]]:
    """A PTB callback: run the (synchronous, transactional) handler in a worker thread, then
    send its outcome from the loop."""

    async def callback(update: Update, context: BotContext) -> None:
        await _deliver(context, update, await asyncio.to_thread(handler, context, update))

    callback.__name__ = getattr(handler, "__name__", "handler")
    return callback


async def _deliver(context: BotContext, update: Update, outcome: Outcome) -> None:
    await deliver(context.bot, update.callback_query, outcome)


async def on_callback(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    chat = update.effective_chat
    data = callbacks.parse(query.data)
    if data is None or chat is None or chat.type != ChatType.PRIVATE:
        await query.answer(expired_text(user_locale(update.effective_user)))
        return
    press = staff_cases.on_press if data.action in callbacks.STAFF_ACTIONS else presses.on_button
    outcome = await asyncio.to_thread(press, context, update, data)
    await _deliver(context, update, outcome)


def _transient(error: BaseException | None) -> bool:
    if isinstance(error, RetryAfter):
        return True
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure (its type and where, never the data), then tell staff and the person.

    Staff hear of it through a ``bot_error`` escalation, which the staff follow-up sends to the
    coordinators like any other alert.
    """
    error = context.error
    update_id = getattr(update, "update_id", None)
    name = type(error).__name__
    if _transient(error):
        log.warning("update %s: Telegram was not reachable (%s)", update_id, name)
        return
    # Only the stack, not the exception's message: messages can carry what a family wrote.
    stack = "".join(traceback.format_tb(error.__traceback__)) if error else ""
    log.error("update %s failed with %s\n%s", update_id, name, stack)
    reply = await asyncio.to_thread(_record_error, context, update, update_id, name)
    if reply is not None:
        try:
            await send(context.bot, reply)
        except TelegramError as exc:
            log.warning("could not tell the chat about the failure (%s)", type(exc).__name__)


def _record_error(
    context: BotContext, update: object, update_id: int | None, name: str
) -> Reply | None:
    """The ``bot_error`` escalation, and what to tell the chat (None: nobody to tell)."""
    try:
        with transaction(context.services.factory) as session:
            raise_escalation(
                session,
                None,
                "bot_error",
                now=context.now(),
                evidence={"update_id": update_id, "error": name},
                suggested_action=N_("Look in the server log for this update id."),
            )
            if isinstance(update, Update) and update.effective_chat is not None:
                chat = update.effective_chat
                if chat.type == ChatType.PRIVATE:
                    locale = who_is(session, chat.id, update.effective_user).locale
                    sorry = i18n.texts(locale).gettext(
                        "Sorry, something went wrong. A member of staff has been told."
                    )
                    return Reply(chat.id, sorry)
    except Exception as exc:  # the database itself may be what failed
        log.error("could not record the failure of update %s (%s)", update_id, type(exc).__name__)
    return None


# -- starting and stopping ---------------------------------------------------------------------


def webhook_url(settings: ServiceSettings) -> str:
    assert settings.public_url
    return f"{settings.public_url.rstrip('/')}{WEBHOOK_PATH}"


async def start_bot(
    application: BotApplication, settings: ServiceSettings, *, poll_timeout: int = 30
) -> None:
    """Initialise and start the bot by hand (never ``run_polling`` inside a running loop):
    by webhook when configured, else by long polling."""
    await application.initialize()
    username = application.bot.username
    if username:
        # The command line builds invite links from this without asking Telegram.
        await asyncio.to_thread(
            remember, application.services.factory, "bot", "username", {"username": username}
        )
    for locale in i18n.enabled_languages():
        await application.bot.set_my_commands(
            command_menu(locale),
            language_code=locale if locale != i18n.SOURCE_LANGUAGE else None,
        )
    await application.start()
    if settings.webhook_mode:
        await application.bot.set_webhook(
            webhook_url(settings), secret_token=settings.telegram_webhook_secret
        )
    elif application.updater is not None:
        await application.updater.start_polling(timeout=poll_timeout)


async def stop_bot(application: BotApplication) -> None:
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()
