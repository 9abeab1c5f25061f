"""The web side: provider webhooks, survey and acknowledgement pages, and the staff web app
(behind a login: ``web.auth``, ``web.staff_pages``). Starlette; everything that changes data
validates its caller first.

Route functions stay on the event loop only to read the request and answer; their database
work is a small synchronous function run in a worker thread (``run_in_threadpool``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from twilio.twiml.voice_response import VoiceResponse

from followup import receipts
from scheduler import i18n
from web import import_page, sandbox
from web.ack import ack_routes
from web.auth import SecurityHeaders
from web.calendar import calendar_routes
from web.inbound import inbound_routes
from web.limits import not_found, twilio_params
from web.login import auth_routes
from web.moments import moment_routes
from web.reports_page import report_routes
from web.staff_groups import group_routes
from web.staff_pages import staff_routes
from web.staff_render import static_routes
from web.surveys import survey_routes

if TYPE_CHECKING:
    from followup.services import Services

# What a receipt's fields are read up to: Twilio's ids are 34 characters, its statuses and
# error codes short words and numbers; anything longer is cut, never stored whole.
SID_MAX = 64
STATUS_MAX = 32
CODE_MAX = 16


def create_app(app: Services, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The web app; ``extra_routes`` are other rooms' routes (the bot's webhook), handed in by
    the composition root. Routes find the services in ``request.app.state.app``."""
    routes: list[BaseRoute] = [
        Route("/twilio/gather/{outbox_id}", twilio_gather, methods=["POST"]),
        Route("/healthz", health),
        Route("/twilio/status", twilio_status, methods=["POST"]),
    ]
    routes += [*ack_routes(), *survey_routes(app), *inbound_routes(app)]
    routes += [*auth_routes(), *static_routes(), *staff_routes(), *group_routes()]
    routes += report_routes()
    routes += [*calendar_routes(app), *sandbox.routes(app), *import_page.routes(app)]
    routes += moment_routes(app)
    routes += list(extra_routes)
    web = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    web.state.app = app
    return web


def _services(request: Request) -> Services:
    services: Services = request.app.state.app
    return services


async def health(_: Request) -> Response:
    return JSONResponse({"ok": True})


# -- Twilio: delivery receipts and answers to automated calls ------------------------------------


async def twilio_status(request: Request) -> Response:
    """Delivery receipts for SMS (and call status): signed by Twilio, or refused with 403."""
    app = _services(request)
    params = await twilio_params(request, app.settings)
    if isinstance(params, Response):
        return params
    sid = params.get("MessageSid") or params.get("CallSid")
    status = params.get("MessageStatus") or params.get("CallStatus") or ""
    if not sid:
        return PlainTextResponse("", status_code=204)
    await run_in_threadpool(_record_status, app, sid, status, params)
    return PlainTextResponse("", status_code=204)


def _record_status(app: Services, sid: str, status: str, params: dict[str, str]) -> None:
    code = params.get("ErrorCode", "")[:CODE_MAX]
    with app.session_factory() as session, session.begin():
        receipts.record_status(session, sid[:SID_MAX], status[:STATUS_MAX], code, app.now())


ROW_ID = re.compile(r"[1-9][0-9]{0,8}", re.ASCII)  # an id the database can hold


async def twilio_gather(request: Request) -> Response:
    """The digit a contact pressed in an automated call: recorded on the outbox row."""
    app = _services(request)
    raw_id = str(request.path_params["outbox_id"])
    if not ROW_ID.fullmatch(raw_id):
        return not_found()
    outbox_id = int(raw_id)
    params = await twilio_params(request, app.settings)
    if isinstance(params, Response):
        return params
    locale = await run_in_threadpool(_record_answer, app, outbox_id, params)
    if locale is None:
        return not_found()
    thanks = i18n.texts(locale).gettext("Thank you for your answer. Goodbye.")
    language = {"da": "da-DK", "en": "en-GB"}.get(locale, locale)
    response = VoiceResponse()
    response.say(thanks, language=language)
    return Response(str(response), media_type="application/xml")


def _record_answer(app: Services, outbox_id: int, params: dict[str, str]) -> str | None:
    """Store the pressed digit; the call's language, or None when the call is not ours."""
    digits = params.get("Digits", "")[: receipts.DIGITS_MAX]
    call_sid = params.get("CallSid", "")[:SID_MAX]
    with app.session_factory() as session, session.begin():
        return receipts.record_answer(session, outbox_id, call_sid, digits, app.now())
