"""What comes in from parents: Twilio's inbound SMS webhook and the email unsubscribe link.

``POST /twilio/sms``: Twilio posts every SMS sent to our number. The request must carry a valid
``X-Twilio-Signature`` for the public URL Twilio called; anything else gets 403 before the
database is touched. The answer is TwiML: the reply SMS, if any (see :mod:`followup.inbound`).
Configure it in the Twilio console as the number's "A message comes in" webhook
(``VENSKAB_PUBLIC_URL/twilio/sms``, HTTP POST).

``/u/<token>``: the unsubscribe link in non-essential email. GET shows a page that asks to
confirm (mail scanners follow links, so a GET changes nothing); POST unsubscribes. The same URL
takes the RFC 8058 one-click POST (``List-Unsubscribe=One-Click``) that mail programs send from
the ``List-Unsubscribe`` header. The token is signed; a token that does not verify shows a page
that says nothing about anyone.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.twiml.messaging_response import MessagingResponse

from followup.inbound import contact_for_unsubscribe, handle_sms, organisation_of, set_opt_out
from followup.survey_defs import default_surveys
from scheduler import i18n
from scheduler.links import secret_for
from store.receipts import first_delivery
from store.validation import ascii_digits
from web.limits import (
    BadForm,
    TooLarge,
    bad_request,
    check_declared,
    lookup_refused,
    parse_form,
    read_body,
    too_large,
    twilio_params,
)
from web.surveys import SECURITY_HEADERS, message_page, unknown_page

if TYPE_CHECKING:
    from followup.services import Services

log = logging.getLogger(__name__)


def inbound_routes(app: Services) -> list[Route]:
    inbound = _Inbound(app)
    return [
        Route("/twilio/sms", inbound.twilio_sms, methods=["POST"]),
        Route("/u/{token}", inbound.unsubscribe_page, methods=["GET", "POST"]),
    ]


class _Inbound:
    """The routes' endpoints; their database work runs in a worker thread."""

    def __init__(self, app: Services) -> None:
        self.app = app

    def handle(self, params: dict[str, str]) -> str | None:
        media = params.get("NumMedia", "0")
        sid = params.get("MessageSid") or params.get("SmsSid")
        with self.app.transaction() as session:
            if not first_delivery(session, "twilio-sms", sid, self.app.now()):
                # Twilio delivered this message before (a retry, or a replay): it was handled,
                # and its reply sent, the first time.
                log.info("inbound SMS delivered again; already handled")
                return None
            result = handle_sms(
                session,
                params.get("From", ""),
                params.get("Body", ""),
                self.app.now(),
                default_surveys(),
                message_sid=sid,
                media=int(media) if ascii_digits(media) and len(media) < 4 else 0,
            )
        return result.reply

    async def twilio_sms(self, request: Request) -> Response:
        params = await twilio_params(request, self.app.settings)
        if isinstance(params, Response):
            return params
        reply = await run_in_threadpool(self.handle, params)
        twiml = MessagingResponse()
        if reply:
            twiml.message(reply)
        return Response(str(twiml), media_type="application/xml")

    def unsubscribe(self, asked: str, token: str, form: dict[str, str] | None) -> Response:
        with self.app.transaction() as session:
            # The dispatcher signs the links; verify with the same key it used.
            secret = secret_for(session, self.app.link_secret)
            contact = contact_for_unsubscribe(session, secret, token)
            if contact is None:
                return unknown_page()
            known = i18n.enabled_languages()
            lang = asked if asked in known else contact.locale.value
            if lang not in known:
                lang = "da"
            t = i18n.texts(lang)
            org = organisation_of(contact)
            action = f"/u/{token}?lang={lang}"
            undo: dict[str, Any] = {
                "action": action,
                "hidden": [("action", "resubscribe")],
                "button": t.gettext("Undo and subscribe again"),
                "style": "secondary",
            }
            done_text = t.gettext(
                "You will no longer get questionnaires and reminders from %(org)s. "
                "You will still get messages about your child's arrangements.",
                org=org,
            )
            done = [(lang, t.gettext("You have unsubscribed"), [done_text])]
            if form is None:
                if contact.opted_out:
                    return message_page(lang, done, form=undo)
                confirm = {
                    "action": action,
                    "hidden": [("action", "unsubscribe")],
                    "button": t.pgettext("button", "Unsubscribe"),
                }
                question = t.gettext(
                    "Do you want to stop messages from %(org)s that are not necessary, such as "
                    "questionnaires and reminders? You will still get messages about your "
                    "child's arrangements.",
                    org=org,
                )
                title = t.gettext("Unsubscribe")
                return message_page(lang, [(lang, title, [question])], form=confirm)
            if form.get("action") == "resubscribe":
                set_opt_out(session, contact, False, self.app.now(), source="email")
                back = t.gettext("You will get messages from %(org)s again.", org=org)
                title = t.gettext("You are subscribed again")
                return message_page(lang, [(lang, title, [back])])
            # The confirm button, or a mail program's one-click POST ("List-Unsubscribe=One-Click").
            set_opt_out(session, contact, True, self.app.now(), source="email")
            return message_page(lang, done, form=undo)

    def known(self, token: str) -> bool:
        """The unsubscribe link is one we signed, for a contact person we still have."""
        with self.app.session_factory() as session:
            secret = secret_for(session, self.app.link_secret)
            return contact_for_unsubscribe(session, secret, token) is not None

    async def unsubscribe_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        form: dict[str, str] | None = None
        if request.method != "POST" and (throttled := lookup_refused(request)) is not None:
            return throttled
        if request.method == "POST":
            limit = self.app.settings.max_form_bytes
            try:
                check_declared(request, limit)
            except TooLarge:
                return too_large()
            except BadForm:
                return bad_request()
            # The token is checked before the body is read: a forged link costs no parsing.
            if not await run_in_threadpool(self.known, token):
                unknown = unknown_page()
                unknown.headers.update(SECURITY_HEADERS)
                return unknown
            try:
                body = await read_body(request, limit)
                posted = await parse_form(request, body, max_fields=10)
            except TooLarge:
                return too_large()
            except BadForm:
                return bad_request()
            form = {k: str(v) for k, v in posted.items()}
        asked = request.query_params.get("lang") or ""
        response = await run_in_threadpool(self.unsubscribe, asked, token, form)
        response.headers.update(SECURITY_HEADERS)
        return response
