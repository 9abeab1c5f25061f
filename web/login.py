"""The staff login: the login page with password or a one-time link by email, logout, and the
throttle that slows down guessing (per account and per address).

A session, once made, is :mod:`web.auth`'s: the cookie, roles and CSRF tokens.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from followup import login_links, staff_auth
from scheduler import i18n
from scheduler.links import secret_for
from web.auth import (
    check_csrf,
    clean,
    cookie_name,
    current_staff,
    forbidden,
    request_locale,
    safe_next,
    set_cookie,
    staff_page,
)
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

if TYPE_CHECKING:
    from followup.services import Services


LOGIN_THROTTLE_WINDOW = 15 * 60.0
FAILURES_PER_ACCOUNT = 5
FAILURES_PER_ADDRESS = 20


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
            "next": safe_next(request.query_params.get("next")),
            "login_value": login_value[:254],
            "locale": locale,
        },
        user=None,
        status=status,
    )
    set_cookie(request, response, LOGIN_COOKIE, token, 3600)
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
            return RedirectResponse(safe_next(request.query_params.get("next")), status_code=302)
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
    target = safe_next(request.query_params.get("next") or form.get("next"))
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
        set_cookie(request, page, LOGIN_COOKIE, csrf, 3600)
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
    set_cookie(
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
