"""The web side: provider webhooks, the sandbox outbox view, and (later) survey pages and the
staff dashboard. Starlette; everything that changes data validates its caller first."""

from __future__ import annotations

import ipaddress
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from scheduler.alerts import acknowledge, check_ack_token
from scheduler.dispatcher import mark_address_failed
from scheduler.escalations import raise_escalation
from scheduler.surveys import secret_for
from scheduler.tasks import call_back_task
from store.audit import record
from store.models import Escalation, EscalationStatus, Match, OutboxMessage, OutboxStatus, Staff

if TYPE_CHECKING:
    from venskab.cli.common import AppContext
    from venskab.runtime import Runtime

log = logging.getLogger(__name__)

PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
# Twilio codes after which the number will never work: stop using it.
PERMANENT_SMS_CODES = {"21211", "21610", "21614", "21408", "21612", "30003", "30005", "30006"}


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in {"localhost", "testclient"}


def public_url_for(request: Request, public_url: str | None) -> str:
    """The URL Twilio called: the configured public URL (behind a proxy) or what we were sent."""
    if public_url:
        url = public_url + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        return url
    return str(request.url)


def create_app(app: AppContext, runtime: Runtime | None = None, bot_app: Any = None) -> Starlette:
    settings = app.settings
    factory = app.session_factory

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True})

    async def outbox(request: Request) -> Response:
        # Shows message bodies: only on this machine until the staff dashboard brings logins.
        if not _is_loopback(request):
            return PlainTextResponse("Not found", status_code=404)
        with factory() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .order_by(OutboxMessage.due_at.desc(), OutboxMessage.id.desc())
                .limit(200)
            ).all()
            channels = settings.describe_channels()
            html = PAGES.get_template("outbox.html").render(
                rows=rows, channels=channels, now=datetime.now(UTC)
            )
        return HTMLResponse(html)

    async def twilio_status(request: Request) -> Response:
        """Delivery receipts for SMS (and call status): signed by Twilio, or refused with 403."""
        form = await request.form()
        params = {k: str(v) for k, v in form.multi_items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        token = settings.twilio_auth_token
        if not token or not signature:
            return PlainTextResponse("Forbidden", status_code=403)
        if not RequestValidator(token).validate(
            public_url_for(request, settings.public_url), params, signature
        ):
            return PlainTextResponse("Forbidden", status_code=403)
        sid = params.get("MessageSid") or params.get("CallSid")
        status = params.get("MessageStatus") or params.get("CallStatus") or ""
        if not sid:
            return PlainTextResponse("", status_code=204)
        now = datetime.now(UTC)
        with factory() as session, session.begin():
            row = session.scalars(
                select(OutboxMessage).where(OutboxMessage.provider_id == sid)
            ).first()
            if row is None:
                log.info("status callback for an unknown message")
                return PlainTextResponse("", status_code=204)
            if status == "delivered" or (status == "completed" and row.channel.value == "voice"):
                row.status = OutboxStatus.DELIVERED
                row.delivered_at = now
            elif row.channel.value == "voice" and status in {
                "busy",
                "no-answer",
                "failed",
                "canceled",
            }:
                # An automated check-in nobody answered becomes a call for the staff member.
                row.status = OutboxStatus.FAILED
                row.last_error = f"call {status}"
                match = session.get(Match, row.match_id) if row.match_id else None
                call_back_task(
                    session,
                    row.match_id,
                    match.staff_id if match else None,
                    "Ring op: det automatiske opkald blev ikke besvaret",
                    now,
                    key=f"voice:{row.id}",
                )
            elif status in {"undelivered", "failed", "busy", "no-answer", "canceled"}:
                code = params.get("ErrorCode") or ""
                row.status = OutboxStatus.FAILED
                row.last_error = f"provider reported {status}" + (f" (code {code})" if code else "")
                match = session.get(Match, row.match_id) if row.match_id else None
                if code in PERMANENT_SMS_CODES:
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
        return PlainTextResponse("", status_code=204)

    async def twilio_gather(request: Request) -> Response:
        """The digit a contact pressed in an automated call: recorded on the outbox row."""
        form = await request.form()
        params = {k: str(v) for k, v in form.multi_items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        token = settings.twilio_auth_token
        if (
            not token
            or not signature
            or not RequestValidator(token).validate(
                public_url_for(request, settings.public_url), params, signature
            )
        ):
            return PlainTextResponse("Forbidden", status_code=403)
        try:
            outbox_id = int(request.path_params["outbox_id"])
        except ValueError:
            return PlainTextResponse("Not found", status_code=404)
        digits = params.get("Digits", "")[:4]
        locale = "da"
        with factory() as session, session.begin():
            row = session.get(OutboxMessage, outbox_id)
            if row is None or row.provider_id != params.get("CallSid"):
                return PlainTextResponse("Not found", status_code=404)
            locale = row.locale.value
            now = datetime.now(UTC)
            row.context = {**(row.context or {}), "answer": digits, "answered_at": now.isoformat()}
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
        thanks = {"da": "Tak for dit svar. Farvel.", "en": "Thank you for your answer. Goodbye."}[
            locale
        ]
        language = {"da": "da-DK", "en": "en-GB"}[locale]
        response = VoiceResponse()
        response.say(thanks, language=language)
        return Response(str(response), media_type="application/xml")

    ack_words = {
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

    async def acknowledge_link(request: Request) -> Response:
        """A signed, single-use acknowledgement link from an alert email.

        GET only shows a button: mail scanners follow links, and must not acknowledge anything.
        """
        token = str(request.path_params["token"])
        with factory() as session, session.begin():
            ids = check_ack_token(secret_for(session, None), token)
            staff = session.get(Staff, ids[1]) if ids else None
            locale = staff.locale.value if staff else "da"
            words = ack_words[locale]
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
            if request.method == "POST":
                acknowledge(session, escalation.id, staff.id, datetime.now(UTC), via="email")
                text, form = words["done"], False
            else:
                text, form = words["confirm"], True
        return HTMLResponse(
            PAGES.get_template("ack.html").render(
                locale=locale, title=words["title"], text=text, form=form, button=words["button"]
            )
        )

    routes = [
        Route("/", outbox),
        Route("/ack/{token}", acknowledge_link, methods=["GET", "POST"]),
        Route("/twilio/gather/{outbox_id}", twilio_gather, methods=["POST"]),
        Route("/healthz", health),
        Route("/twilio/status", twilio_status, methods=["POST"]),
    ]
    from web.inbound import inbound_routes  # imported here: web.inbound uses public_url_for
    from web.surveys import survey_routes

    routes += [*survey_routes(app), *inbound_routes(app, runtime)]
    if bot_app is not None:
        try:
            from bot.webhook import telegram_route
        except ImportError:
            telegram_route = None  # type: ignore[assignment]
        if telegram_route is not None:
            routes.append(telegram_route(app, bot_app))
    web = Starlette(routes=routes)
    web.state.app = app
    return web
