"""Staff sign-in for the web app: the session cookie, roles, CSRF tokens, the login throttle and
the security headers.

For every module with staff pages:

- ``await current_staff(request)``: the signed-in :class:`StaffUser`, or None;
- ``@require(None)`` (any signed-in staff member) or ``@require("coordinator")`` (that role or
  a higher one: procesleder < coordinator < admin) on a route function: a GET without a session
  is answered with 302 to ``/login``, anything else without one or with too low a role with
  403. A POST must carry the session's CSRF token as the form field ``csrf``; the decorator
  reads the form (at most ``VENSKAB_MAX_FORM_BYTES``) and leaves it in ``request.state.form``.
  A route that parses its own body (an upload) uses ``@require(role, csrf=False)`` and calls
  :func:`check_csrf` itself.

No page with personal data is served without a session, whatever the client's address.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from followup import login_links, staff_auth
from scheduler import i18n
from scheduler.links import secret_for
from store.models import Staff
from web.limits import (
    BadForm,
    TooLarge,
    bad_request,
    client_address,
    lookup_refused,
    parse_form,
    read_body,
    too_large,
)
from web.limits import forbidden as refused
from web.staff_render import page_locale, render

if TYPE_CHECKING:
    from followup.services import Services

ROLES = {"procesleder": 1, "coordinator": 2, "admin": 3}
LOGIN_THROTTLE_WINDOW = 15 * 60.0
FAILURES_PER_ACCOUNT = 5
FAILURES_PER_ADDRESS = 20

# The strict policy of the staff pages: no scripts at all, styles from our own stylesheet.
STAFF_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class StaffUser:
    """The signed-in staff member, as the pages need them (no contact details)."""

    id: int
    name: str
    role: str
    region: str
    locale: str
    timezone: str
    csrf: str

    def has(self, role: str | None) -> bool:
        return role is None or ROLES.get(self.role, 0) >= ROLES[role]

    @property
    def actor(self) -> str:
        return f"staff:{self.id}"


# -- cookies -------------------------------------------------------------------------------------


def _secure(request: Request) -> bool:
    app: Services = request.app.state.app
    return bool(app.settings.public_url and app.settings.public_url.startswith("https://"))


def cookie_name(request: Request) -> str:
    # __Host- cookies are only accepted over https, for this host and path.
    return "__Host-venskab" if _secure(request) else "venskab"


def _set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path="/",
        httponly=True,
        secure=_secure(request),
        samesite="lax",
    )


# -- who is signed in ---------------------------------------------------------------------------


_UNKNOWN: Any = object()


async def current_staff(request: Request) -> StaffUser | None:
    """The signed-in staff member, or None (looked up once per request)."""
    known = getattr(request.state, "staff_user", _UNKNOWN)
    if known is not _UNKNOWN:
        found: StaffUser | None = known
        return found
    token = request.cookies.get(cookie_name(request), "")
    user = await run_in_threadpool(_lookup, request.app.state.app, token) if token else None
    request.state.staff_user = user
    return user


def _lookup(app: Services, token: str) -> StaffUser | None:
    with app.session_factory() as session, session.begin():
        found = staff_auth.session_for(session, token, app.wall_now())
        if found is None:
            return None
        staff, row = found
        return _user(staff, row.csrf)


def _user(staff: Staff, csrf: str) -> StaffUser:
    return StaffUser(
        id=staff.id,
        name=staff.name,
        role=staff.role.value,
        region=staff.region or "",
        locale=staff.locale.value,
        timezone=staff.timezone,
        csrf=csrf,
    )


def check_csrf(user: StaffUser, value: str | None) -> bool:
    return bool(value) and hmac.compare_digest(user.csrf.encode(), str(value).encode())


Handler = Callable[[Request], Awaitable[Response]]


def require(role: str | None, *, csrf: bool = True) -> Callable[[Handler], Handler]:
    """A route decorator: signed in (and at least ``role``), else 302 to /login or 403."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: Request) -> Response:
            user = await current_staff(request)
            if user is None:
                if request.method in ("GET", "HEAD"):
                    return RedirectResponse(login_url(request), status_code=302)
                return forbidden(request, None)
            if not user.has(role):
                return forbidden(request, user)
            if request.method == "POST" and csrf:
                app: Services = request.app.state.app
                try:
                    body = await read_body(request, app.settings.max_form_bytes)
                    form = {k: clean(str(v)) for k, v in (await parse_form(request, body)).items()}
                except TooLarge:
                    return too_large()
                except BadForm:
                    return bad_request()
                if not check_csrf(user, form.get("csrf")):
                    return forbidden(request, user, "csrf")
                request.state.form = form
            return await handler(request)

        return wrapped

    return decorate


_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(value: str) -> str:
    """A form value without control characters (line breaks and tabs kept): nothing stored from
    a staff form holds a NUL (PostgreSQL refuses it) or a terminal escape."""
    return _CONTROLS.sub("", value.replace("\r\n", "\n"))


async def gate(request: Request, role: str | None) -> Response | None:
    """For a module that guards its own routes (the sandbox, the import page): the answer to
    send instead (302 to the login for a GET without a session, else 403), or None to go on.

    Their forms carry the session's CSRF token in the form's action URL (``?csrf=``: a
    multipart upload is parsed by its own handler); a POST without it, or from another site's
    page, is refused here."""
    if request.method == "POST" and not same_origin(request):
        return refused()
    user = await current_staff(request)
    if user is None:
        if request.method in ("GET", "HEAD"):
            return RedirectResponse(login_url(request), status_code=302)
        return forbidden(request, None)
    if not user.has(role):
        return forbidden(request, user)
    if request.method == "POST" and not check_csrf(user, request.query_params.get("csrf")):
        return forbidden(request, user, "csrf")
    return None


def csrf_token(request: Request) -> str:
    """The signed-in staff member's CSRF token (after :func:`gate` let the request in)."""
    user: StaffUser | None = getattr(request.state, "staff_user", None)
    return user.csrf if user is not None else ""


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login" if target == "/" else f"/login?next={quote(target, safe='')}"


def _safe_next(value: str | None) -> str:
    """Only a path on this site (never ``//other.site`` or a scheme)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value[:500]


def same_origin(request: Request) -> bool:
    """A request without an ``Origin`` header, or from a page of this very site."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def page_lang(request: Request) -> str:
    """The language a page is asked for (``?lang=``), else the browser's."""
    chosen = request.query_params.get("lang")
    return chosen if chosen in i18n.enabled_languages() else request_locale(request)


def request_locale(request: Request, user: StaffUser | None = None) -> str:
    """The staff member's language; signed out, the browser's first language if we have it,
    else Danish."""
    if user is not None:
        return page_locale(user.locale)
    accept = request.headers.get("accept-language", "").lower()
    first = accept.split(",")[0].split(";")[0].strip().split("-")[0]
    return first if first in i18n.enabled_languages() else "da"


def forbidden(request: Request, user: StaffUser | None, why: str = "") -> Response:
    locale = request_locale(request, user)
    texts = i18n.texts(locale)
    title = texts.gettext("You do not have access to this page.")
    text = (
        texts.gettext(
            "The form was too old or did not come from this page. Go back, reload the page "
            "and try again."
        )
        if why == "csrf"
        else title
    )
    return staff_page(
        request,
        "staff/message.html",
        {"title": title, "text": text, "link": ("/", texts.gettext("To the front page"))},
        user=user,
        status=403,
    )


def staff_page(
    request: Request,
    template: str,
    values: dict[str, Any],
    *,
    user: StaffUser | None,
    status: int = 200,
) -> HTMLResponse:
    """A staff page: rendered in the staff member's language, never cached, strict CSP."""
    html = render(request, template, values, user)
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = STAFF_CSP
    return response


# -- the login throttle --------------------------------------------------------------------------


class Failures:
    """Failed logins per key (an account, an address) within a window; in memory, per process."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            times = self._seen.get(key)
            while times and times[0] <= now - self.window:
                times.popleft()
            return times is not None and len(times) >= self.limit

    def fail(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {
                    k: v for k, v in self._seen.items() if v and v[-1] > now - self.window
                }
            self._seen.setdefault(key, deque()).append(now)

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()


ACCOUNT_FAILURES = Failures(FAILURES_PER_ACCOUNT, LOGIN_THROTTLE_WINDOW)
ADDRESS_FAILURES = Failures(FAILURES_PER_ADDRESS, LOGIN_THROTTLE_WINDOW)
LINK_REQUESTS = Failures(10, LOGIN_THROTTLE_WINDOW)  # login links asked for, per address
LOGIN_COOKIE = "venskab_login"


# -- the login and logout pages -----------------------------------------------------------------


def auth_routes() -> list[Route]:
    return [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/login/link", ask_for_link, methods=["POST"]),
        Route("/login/link/{token}", follow_link, methods=["GET", "POST"]),
    ]


def _login_page(
    request: Request,
    locale: str,
    message: str = "",
    status: int = 200,
    login_value: str = "",
    notice: bool = False,
) -> Response:
    # A login form's CSRF token: the same random value in a cookie and in the form.
    token = secrets.token_urlsafe(24)
    response = staff_page(
        request,
        "staff/login.html",
        {
            "message": message,
            "notice": notice,
            "csrf": token,
            "next": _safe_next(request.query_params.get("next")),
            "login_value": login_value[:254],
            "locale": locale,
        },
        user=None,
        status=status,
    )
    _set_cookie(request, response, LOGIN_COOKIE, token, 3600)
    return response


def _throttled(request: Request, locale: str, login_value: str = "") -> Response:
    text = i18n.texts(locale).gettext(
        "Too many attempts. Please wait a quarter of an hour and try again."
    )
    return _login_page(request, locale, text, 429, login_value)


async def _login_form(request: Request, app: Services, locale: str) -> dict[str, str] | Response:
    """A signed-out form (the login, a login link): its fields, or the answer to send instead
    when it is too large, malformed, or lacks the login page's CSRF token."""
    try:
        body = await read_body(request, app.settings.max_form_bytes)
        form = {k: str(v) for k, v in (await parse_form(request, body, max_fields=10)).items()}
    except TooLarge:
        return too_large()
    except BadForm:
        return bad_request()
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), form.get("csrf", "").encode()):
        return _login_page(
            request,
            locale,
            i18n.texts(locale).gettext("The page was too old. Please try again."),
            status=400,
        )
    return form


async def login(request: Request) -> Response:
    app: Services = request.app.state.app
    locale = request_locale(request)
    if request.method == "GET":
        if await current_staff(request) is not None:
            return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=302)
        message = (
            i18n.texts(locale).gettext("You are signed out.")
            if request.query_params.get("out")
            else ""
        )
        return _login_page(request, locale, message)
    form = await _login_form(request, app, locale)
    if isinstance(form, Response):
        return form
    given = form.get("login", "").strip()[:254]
    account = given.lower()  # the throttle's key: one account whatever its spelling
    address = client_address(request)
    if ACCOUNT_FAILURES.blocked(account) or ADDRESS_FAILURES.blocked(address):
        return _throttled(request, locale, given)
    password = form.get("password", "")
    token = await run_in_threadpool(_sign_in, app, given, password)
    if token is None:
        ACCOUNT_FAILURES.fail(account)
        ADDRESS_FAILURES.fail(address)
        return _login_page(
            request,
            locale,
            i18n.texts(locale).gettext("The username or the password is wrong."),
            401,
            given,
        )
    target = _safe_next(request.query_params.get("next") or form.get("next"))
    return _signed_in(request, token, target)


async def ask_for_link(request: Request) -> Response:
    """A one-time login link by email (:mod:`followup.login_links`): the same answer whether
    the address is known or not."""
    app: Services = request.app.state.app
    locale = request_locale(request)
    form = await _login_form(request, app, locale)
    if isinstance(form, Response):
        return form
    address = client_address(request)
    if LINK_REQUESTS.blocked(address):
        return _throttled(request, locale)
    LINK_REQUESTS.fail(address)
    given = clean(form.get("login", "").strip()[:254])

    def job() -> None:
        with app.session_factory() as session, session.begin():
            login_links.request_link(session, given, app.now())

    if given:
        await run_in_threadpool(job)
    return _login_page(
        request,
        locale,
        i18n.texts(locale).gettext(
            "If the address belongs to a staff member, a link is on its way. It works for 15 "
            "minutes and only once."
        ),
        notice=True,
    )


async def follow_link(request: Request) -> Response:
    """GET shows a button; only its POST uses the link up (a mail scanner that opens every link
    in a message signs nobody in and spends nothing)."""
    app: Services = request.app.state.app
    locale = request_locale(request)
    token = str(request.path_params["token"])[:120]
    if request.method == "GET":
        if (throttled := lookup_refused(request)) is not None:
            return throttled
        csrf = secrets.token_urlsafe(24)
        page = staff_page(
            request,
            "staff/login_link.html",
            {"csrf": csrf, "token": token, "locale": locale},
            user=None,
        )
        _set_cookie(request, page, LOGIN_COOKIE, csrf, 3600)
        return page
    form = await _login_form(request, app, locale)
    if isinstance(form, Response):
        return form

    def job() -> str | None:
        with app.session_factory() as session, session.begin():
            staff = login_links.use_link(session, secret_for(session, None), token, app.now())
            if staff is None:
                return None
            return staff_auth.start_session(session, staff, app.wall_now())

    cookie = await run_in_threadpool(job)
    if cookie is None:
        return _login_page(
            request,
            locale,
            i18n.texts(locale).gettext(
                "The link no longer works: it was used or is too old. Ask for a new one."
            ),
            status=400,
        )
    return _signed_in(request, cookie, "/today")


def _signed_in(request: Request, token: str, target: str) -> Response:
    """On to ``target`` with the new session's cookie; the login form's cookie is done."""
    response = RedirectResponse(target, status_code=303)
    _set_cookie(
        request,
        response,
        cookie_name(request),
        token,
        int(staff_auth.SESSION_LIFETIME.total_seconds()),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _sign_in(app: Services, login_value: str, password: str) -> str | None:
    with app.session_factory() as session, session.begin():
        staff = staff_auth.verify(session, login_value, password)
        if staff is None:
            return None
        return staff_auth.start_session(session, staff, app.wall_now())


async def logout(request: Request) -> Response:
    app: Services = request.app.state.app
    user = await current_staff(request)
    token = request.cookies.get(cookie_name(request), "")
    if user is not None:
        try:
            body = await read_body(request, app.settings.max_form_bytes)
            form = {k: str(v) for k, v in (await parse_form(request, body)).items()}
        except (TooLarge, BadForm):
            form = {}
        if not check_csrf(user, form.get("csrf")):
            return forbidden(request, user, "csrf")
        await run_in_threadpool(_sign_out, app, token)
    response = RedirectResponse("/login?out=1", status_code=303)
    response.delete_cookie(cookie_name(request), path="/")
    return response


def _sign_out(app: Services, token: str) -> None:
    with app.session_factory() as session, session.begin():
        staff_auth.end_session(session, token)


# -- headers on every answer ---------------------------------------------------------------------


class SecurityHeaders:
    """Headers every answer gets: no MIME sniffing, no referrer to other sites, no framing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)
