"""What every staff page shares: the signed-in staff member's work in one transaction in a
worker thread, ids from the path, the short note after a change, and the 404 page.

A match, a case, a task or a message the staff member may not see is answered with 404, as if
it did not exist (:class:`NotFound`); a change that does not fit is sent back to the page with a
message key (:class:`Refused`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from scheduler.timeline import localize
from store.models import Staff
from web.auth import StaffUser, current_staff, staff_page
from web.staff_words import word

if TYPE_CHECKING:
    from followup.services import Services

ID = re.compile(r"[1-9][0-9]{0,8}", re.ASCII)
FLASHES = {
    "consent",
    "start",
    "ack",
    "snooze",
    "resolve",
    "task",
    "pause",
    "resume",
    "end",
    "note",
    "contact",
    "edit",
    "reschedule",
    "send_now",
    "cancel",
}
ERRORS = {
    "bad_date",
    "bad_time",
    "need_note",
    "need_outcome",
    "need_reason",
    "refused",
    "far_date",
    "contact_refused",
    "need_family",
}


class NotFound(Exception):
    """Not there, or not this staff member's to see."""


class Refused(Exception):
    """The change does not fit (a bad date, the case changed meanwhile); ``key`` names the
    message shown."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def services(request: Request) -> Services:
    services: Services = request.app.state.app
    return services


def path_id(request: Request, name: str) -> int:
    raw = str(request.path_params[name])
    if not ID.fullmatch(raw):
        raise NotFound
    return int(raw)


def flash(request: Request, user: StaffUser) -> dict[str, Any]:
    done = request.query_params.get("done", "")
    error = request.query_params.get("error", "")
    if error in ERRORS:
        return {"flash": word(user.locale, error), "flash_error": True}
    if done in FLASHES:
        until = request.query_params.get("until", "")[:40]
        return {"flash": word(user.locale, f"done_{done}", until=until), "flash_error": False}
    return {}


def go_back(path: str, **query: str) -> Response:
    return RedirectResponse(f"{path}?{urlencode(query)}" if query else path, status_code=303)


def safe_back(value: str | None, default: str) -> str:
    if value and re.fullmatch(r"/(today|matches/[1-9][0-9]{0,8})", value):
        return value
    return default


def not_found(request: Request, user: StaffUser) -> Response:
    return staff_page(
        request,
        "staff/message.html",
        {
            "title": word(user.locale, "not_found"),
            "text": word(user.locale, "not_found_text"),
            "link": ("/today", word(user.locale, "nav_today")),
        },
        user=user,
        status=404,
    )


async def run(request: Request, work: Callable[[Session, Staff], Any]) -> Any:
    """Run ``work`` in a worker thread in one transaction, with the signed-in staff member's
    row; :class:`NotFound` and :class:`Refused` pass through."""
    app = services(request)
    user = await current_staff(request)
    assert user is not None

    def job() -> Any:
        with app.session_factory() as session, session.begin():
            staff = session.get(Staff, user.id)
            if staff is None:
                raise NotFound
            return work(session, staff)

    return await run_in_threadpool(job)


def local_today(app: Services, user: StaffUser) -> date:
    return app.now().astimezone(ZoneInfo(user.timezone)).date()


# -- today ----------------------------------------------------------------------------------------


def parse_local(value: str, zone_name: str) -> datetime | None:
    try:
        naive = datetime.fromisoformat(value.strip()[:19])
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return None
    return localize(naive, ZoneInfo(zone_name))


def parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None
