"""Reading a request body within a limit, and throttling attempts per address.

Nothing is parsed until it is known to fit: :func:`read_body` refuses a declared
``Content-Length`` over the limit without reading a byte of the body, and stops reading a
chunked (or lying) body as soon as it passes the limit. Callers answer :class:`TooLarge` with
413. A form is parsed from the bytes already read (:func:`parse_form`), never from the socket.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message
from twilio.request_validator import RequestValidator

from scheduler import i18n
from store.validation import strip_controls
from web.links import public_url_for

if TYPE_CHECKING:
    from followup.services import ServiceSettings


class TooLarge(Exception):
    """The body is over the limit (or says it is)."""


class BadForm(Exception):
    """A body that is not a form, or a Content-Length that is not a number."""


def check_declared(request: Request, limit: int) -> None:
    """:class:`TooLarge` when the body says it is over ``limit`` bytes, :class:`BadForm` when
    its Content-Length is no number: decided from the headers alone, before anything is read."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isascii() or not declared.strip().isdigit():
            raise BadForm
        if int(declared) > limit:
            raise TooLarge


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body if it is at most ``limit`` bytes; :class:`TooLarge` as soon as it is not."""
    check_declared(request, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_form(request: Request, body: bytes, *, max_fields: int = 100) -> FormData:
    """The form in ``body`` (already read within its limit), parsed as Starlette parses forms."""

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        return await Request(request.scope, replay).form(max_files=0, max_fields=max_fields)
    except (HTTPException, MultiPartException, ValueError) as exc:
        raise BadForm from exc


async def twilio_params(request: Request, settings: ServiceSettings) -> dict[str, str] | Response:
    """The posted form, if Twilio signed it for the URL it called; otherwise the answer to give.

    Without a signature (or with no auth token configured) the body is not read at all (403);
    over the form limit it is not read further (413); the form is parsed only from the bytes
    read, and its signature checked before anything else looks at it.
    """
    signature = request.headers.get("X-Twilio-Signature", "")
    token = settings.twilio_auth_token
    if not token or not signature:
        return forbidden()
    try:
        body = await read_body(request, settings.max_form_bytes)
        form = await parse_form(request, body)
    except TooLarge:
        return too_large()
    except BadForm:
        return bad_request()
    params = {k: str(v) for k, v in form.multi_items()}
    if not RequestValidator(token).validate(
        public_url_for(request, settings.public_url), params, signature
    ):
        return forbidden()
    # Signed is not clean: no control characters (PostgreSQL refuses NUL) reach the domain.
    return {strip_controls(k): strip_controls(v) for k, v in params.items()}


def _in_every_language(message: Callable[[i18n.Texts], str]) -> str:
    """A plain answer sent before anyone's language is known: every language, Danish first."""
    codes = sorted(i18n.enabled_languages(), key=lambda code: code != "da")
    return "\n".join(message(i18n.texts(code)) for code in codes) + "\n"


def forbidden() -> Response:
    text = _in_every_language(lambda t: t.gettext("You do not have access to this page."))
    return PlainTextResponse(text, status_code=403)


def not_found() -> Response:
    text = _in_every_language(lambda t: t.gettext("Page not found"))
    return PlainTextResponse(text, status_code=404)


def too_large() -> Response:
    text = _in_every_language(
        lambda t: t.gettext("What was sent is too large. Please send less and try again.")
    )
    return PlainTextResponse(text, status_code=413)


def bad_request() -> Response:
    text = _in_every_language(lambda t: t.gettext("The form could not be read. Please try again."))
    return PlainTextResponse(text, status_code=400)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


class Throttle:
    """At most ``limit`` attempts per address in any ``window`` seconds (in memory, per process).

    Survey links and acknowledgement tokens are long random capabilities; the throttle keeps an
    address from trying many of them, and keeps one address from flooding the database.
    """

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = self.clock()
        with self._lock:
            if len(self._seen) > 10_000:  # forget quiet addresses rather than grow without end
                self._seen = {
                    k: v for k, v in self._seen.items() if v and v[-1] > now - self.window
                }
            times = self._seen.setdefault(address, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            return True


def too_many(retry_after: float) -> Response:
    text = _in_every_language(
        lambda t: t.gettext("Too many attempts. Please wait a minute and try again.")
    )
    return PlainTextResponse(
        text,
        status_code=429,
        headers={"Retry-After": str(int(retry_after))},
    )


LOOKUPS_PER_MINUTE = 60  # token links one address may open in a minute (a parent opens a few)


def lookup_refused(request: Request) -> Response | None:
    """429 when this address has opened too many token links (``/s``, ``/u``, ``/m``,
    ``/calendar``, ``/login/link``) in the last minute: a guesser trying tokens is stopped
    before the database is asked. The throttle belongs to the app, like the survey posts'."""
    state = request.app.state
    throttle = getattr(state, "token_lookups", None)
    if throttle is None:
        throttle = state.token_lookups = Throttle(limit=LOOKUPS_PER_MINUTE, window=60)
    if throttle.allow(client_address(request)):
        return None
    return too_many(throttle.window)
