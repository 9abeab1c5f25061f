"""Telegram updates by webhook, through the web app (PTB's ``customwebhookbot`` pattern).

Telegram sends each update as a POST with the secret we gave ``setWebhook`` in the
``X-Telegram-Bot-Api-Secret-Token`` header. A request without the right secret gets 403 and is
not read. An accepted update is queued for the running bot application and answered at once;
the handlers run as they do for polling.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from bot.app import WEBHOOK_PATH
from store.receipts import first_delivery

if TYPE_CHECKING:
    from followup.services import Services

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def _read_within(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is over ``limit`` (declared or chunked): not read further."""
    declared = request.headers.get("content-length", "0").strip()
    if not (declared.isascii() and declared.isdigit()) or int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _first_delivery(app: Services, update_id: int) -> bool:
    with app.transaction() as session:
        return first_delivery(session, "telegram", str(update_id), app.now())


def telegram_route(app: Services, bot_app: Application[Any, Any, Any, Any, Any, Any]) -> Route:
    secret = app.settings.telegram_webhook_secret

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            return PlainTextResponse("Forbidden", status_code=403)
        body = await _read_within(request, app.settings.max_webhook_bytes)
        if body is None:
            return PlainTextResponse("Too large", status_code=413)
        try:
            data = json.loads(body)
            update = Update.de_json(data, bot_app.bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            update = None
        if update is None:
            log.warning("webhook: a request that is not a Telegram update")
            return PlainTextResponse("Bad Request", status_code=400)
        if not await run_in_threadpool(_first_delivery, app, update.update_id):
            # Telegram delivered this update before (it retries when an answer is lost).
            return Response(status_code=200)
        await bot_app.update_queue.put(update)
        return Response(status_code=200)

    return Route(WEBHOOK_PATH, receive, methods=["POST"])
