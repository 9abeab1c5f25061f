"""The web side: provider webhooks, the sandbox outbox view, and (later) survey pages and the
staff dashboard. Starlette; everything that changes data validates its caller first.

Route functions stay on the event loop only to read the request and answer; their database
work is a small synchronous function run in a worker thread (``run_in_threadpool``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from twilio.twiml.voice_response import VoiceResponse

from followup.alerts import acknowledge, check_ack_token
from followup.escalations import raise_escalation
from followup.tasks import call_back_task
from scheduler import outbox as outbox_rows
from scheduler.dispatcher import mark_address_failed
from scheduler.links import secret_for
from store.audit import record
from store.models import Escalation, EscalationStatus, Match, OutboxMessage, Staff
from store.receipts import first_delivery
from web.inbound import inbound_routes
from web.limits import Throttle, client_address, too_many, twilio_params
from web.links import is_loopback
from web.surveys import survey_routes

if TYPE_CHECKING:
    from followup.services import Services

log = logging.getLogger(__name__)

PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def create_app(app: Services, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The web app; ``extra_routes`` are other rooms' routes (the bot's webhook), handed in by
    the composition root. Routes find the services in ``request.app.state.app``."""
    routes: list[BaseRoute] = [
        Route("/", outbox),
        Route("/ack/{token}", acknowledge_link, methods=["GET", "POST"]),
        Route("/twilio/gather/{outbox_id}", twilio_gather, methods=["POST"]),
        Route("/healthz", health),
        Route("/twilio/status", twilio_status, methods=["POST"]),
    ]
    routes += [*survey_routes(app), *inbound_routes(app)]
    routes += list(extra_routes)
    web = Starlette(routes=routes)
    web.state.app = app
    return web


def _services(request: Request) -> Services:
    services: Services = request.app.state.app
    return services


async def health(_: Request) -> Response:
    return JSONResponse({"ok": True})


# -- the sandbox outbox ---------------------------------------------------------------------------


async def outbox(request: Request) -> Response:
    # Shows message bodies: only on this machine until the staff dashboard brings logins.
    if not is_loopback(request):
        return PlainTextResponse("Not found", status_code=404)
    return HTMLResponse(await run_in_threadpool(_outbox_page, _services(request)))


def _outbox_page(app: Services) -> str:
    with app.session_factory() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .order_by(OutboxMessage.due_at.desc(), OutboxMessage.id.desc())
            .limit(200)
        ).all()
        channels = app.settings.describe_channels()
        return PAGES.get_template("outbox.html").render(rows=rows, channels=channels, now=app.now())


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
    now = app.now()
    code = params.get("ErrorCode") or ""
    with app.session_factory() as session, session.begin():
        if not first_delivery(session, "twilio-status", f"{sid}:{status}", now):
            return  # the same callback again: recorded the first time
        row = outbox_rows.by_provider_id(session, sid)
        if row is None:
            log.info("status callback for an unknown message")
            return
        receipt = outbox_rows.apply_receipt(row, status, code, now)
        if receipt.outcome == "unanswered":
            # An automated check-in nobody answered becomes a call for the staff member.
            match = session.get(Match, row.match_id) if row.match_id else None
            call_back_task(
                session,
                row.match_id,
                match.staff_id if match else None,
                "Ring op: det automatiske opkald blev ikke besvaret",
                now,
                key=f"voice:{row.id}",
            )
        elif receipt.outcome == "failed":
            match = session.get(Match, row.match_id) if row.match_id else None
            if receipt.error is not None and receipt.error.permanent:
                mark_address_failed(session, row)
            raise_escalation(
                session,
                match,
                "delivery_failed",
                now=now,
                evidence={
                    "outbox_id": row.id,
                    "touchpoint": row.touchpoint_id,
                    "channel": row.channel.value,
                    "code": code or None,
                    "status": status,
                },
                suggested_action="Check the phone number with the family.",
            )


ROW_ID = re.compile(r"[1-9][0-9]{0,8}", re.ASCII)  # an id the database can hold


async def twilio_gather(request: Request) -> Response:
    """The digit a contact pressed in an automated call: recorded on the outbox row."""
    app = _services(request)
    raw_id = str(request.path_params["outbox_id"])
    if not ROW_ID.fullmatch(raw_id):
        return PlainTextResponse("Not found", status_code=404)
    outbox_id = int(raw_id)
    params = await twilio_params(request, app.settings)
    if isinstance(params, Response):
        return params
    locale = await run_in_threadpool(_record_answer, app, outbox_id, params)
    if locale is None:
        return PlainTextResponse("Not found", status_code=404)
    thanks = {"da": "Tak for dit svar. Farvel.", "en": "Thank you for your answer. Goodbye."}[
        locale
    ]
    language = {"da": "da-DK", "en": "en-GB"}[locale]
    response = VoiceResponse()
    response.say(thanks, language=language)
    return Response(str(response), media_type="application/xml")


def _record_answer(app: Services, outbox_id: int, params: dict[str, str]) -> str | None:
    """Store the pressed digit; the call's language, or None when the call is not ours."""
    digits = params.get("Digits", "")[:4]
    with app.session_factory() as session, session.begin():
        row = session.get(OutboxMessage, outbox_id)
        if row is None or row.provider_id != params.get("CallSid"):
            return None
        locale = row.locale.value
        now = app.now()
        if not first_delivery(session, "twilio-voice", f"{row.provider_id}:{row.id}", now):
            return locale  # the same answer delivered again: thank, record nothing
        outbox_rows.record_answer(row, digits, now)
        record(session, "contact", "voice.answer", "outbox_message", row.id, digits=digits)
        if digits == "2":  # "please call me"
            match = session.get(Match, row.match_id) if row.match_id else None
            call_back_task(
                session,
                row.match_id,
                match.staff_id if match else None,
                "Ring op: forælder/kontaktperson bad om at blive ringet op (telefonopkald)",
                now,
                key=f"voice:{row.id}",
            )
    return locale


# -- acknowledging an alert from its email --------------------------------------------------------

ACK_WORDS = {
    "da": {
        "title": "Kvittér for sagen",
        "button": "Kvittér",
        "confirm": "Tryk på knappen for at kvittere: så ved dine kolleger, at du har overtaget sagen.",
        "done": "Tak. Sagen er kvitteret, og der bliver ikke sendt flere påmindelser om den.",
        "already": "Sagen er allerede kvitteret. Der skal ikke gøres mere her.",
        "bad": "Linket er ikke gyldigt. Brug linket i den seneste mail, eller kvittér i Telegram.",
    },
    "en": {
        "title": "Acknowledge",
        "button": "Acknowledge",
        "confirm": "Press the button to acknowledge: your colleagues will know you have taken it on.",
        "done": "Thank you. It is acknowledged, and no more reminders will be sent about it.",
        "already": "This was already acknowledged. Nothing more to do here.",
        "bad": "This link is not valid. Use the link in the latest email, or acknowledge in Telegram.",
    },
}


# "<escalation id>.<staff id>.<url-safe base64 MAC>", ids within the database's integer range.
ACK_TOKEN = re.compile(r"[1-9][0-9]{0,8}\.[1-9][0-9]{0,8}\.[A-Za-z0-9_-]{16,64}", re.ASCII)
ACK_THROTTLE = Throttle(limit=20, window=60)


async def acknowledge_link(request: Request) -> Response:
    """A signed, single-use acknowledgement link from an alert email.

    GET only shows a button: mail scanners follow links, and must not acknowledge anything.
    """
    if not ACK_THROTTLE.allow(client_address(request)):
        return too_many(ACK_THROTTLE.window)
    token = str(request.path_params["token"])
    if not ACK_TOKEN.fullmatch(token):
        # Not the shape of any token we make (non-ASCII, huge ids, ...): the same page as a
        # forged one, without touching the database.
        words = ACK_WORDS["da"]
        return HTMLResponse(
            PAGES.get_template("ack.html").render(
                locale="da", title=words["title"], text=words["bad"], form=False
            ),
            status_code=403,
        )
    return await run_in_threadpool(_acknowledge, _services(request), token, request.method)


def _acknowledge(app: Services, token: str, method: str) -> Response:
    with app.session_factory() as session, session.begin():
        ids = check_ack_token(secret_for(session, None), token)
        staff = session.get(Staff, ids[1]) if ids else None
        locale = staff.locale.value if staff else "da"
        words = ACK_WORDS[locale]
        escalation = session.get(Escalation, ids[0]) if ids else None
        if ids is None or staff is None or escalation is None:
            return HTMLResponse(
                PAGES.get_template("ack.html").render(
                    locale=locale, title=words["title"], text=words["bad"], form=False
                ),
                status_code=403,
            )
        if escalation.status != EscalationStatus.OPEN:
            return HTMLResponse(
                PAGES.get_template("ack.html").render(
                    locale=locale, title=words["title"], text=words["already"], form=False
                ),
                status_code=409,
            )
        if method == "POST":
            acknowledge(session, escalation.id, staff.id, app.now(), via="email")
            text, form = words["done"], False
        else:
            text, form = words["confirm"], True
    return HTMLResponse(
        PAGES.get_template("ack.html").render(
            locale=locale, title=words["title"], text=text, form=form, button=words["button"]
        )
    )
