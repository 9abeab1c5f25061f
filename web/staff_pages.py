"""The staff web app's pages: Today (cases and tasks), and where the other pages live.

Every route is behind :func:`web.auth.require`; every change is a POST of a plain form with the
session's CSRF token, made through the domain's functions (cases, tasks) and answered with 303
back to the page with a short note of what was done. The matches and a match's page are in
:mod:`web.match_pages`, the outbox in :mod:`web.outbox_pages`; what they share, in
:mod:`web.staff_kit`.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from followup import staff_views
from followup.alerts import AckError, acknowledge, resolve, snooze
from followup.resolutions import outcome_of, snooze_span
from followup.staff_auth import may_see
from followup.tasks import TaskError, complete
from store.models import Escalation, Match, Staff, StaffRole, Task
from web import match_pages, outbox_pages
from web.auth import current_staff, require, staff_page
from web.staff_kit import (
    NotFound,
    Refused,
    flash,
    go_back,
    local_today,
    not_found,
    parse_local,
    path_id,
    run,
    safe_back,
    services,
)
from web.staff_render import babel_locale

# A snoozed case's date in the flash: "tirsdag 21. april".
UNTIL = {"da": "EEEE d. MMMM", "en": "EEEE d MMMM"}


def staff_routes() -> list[Route]:
    return [
        Route("/", home),
        Route("/today", today_page),
        Route("/cases/{case_id}/{action}", case_action, methods=["POST"]),
        Route("/tasks/{task_id}", task_action, methods=["POST"]),
        Route("/matches", match_pages.matches_page),
        Route("/matches/{match_id}", match_pages.match_page),
        Route("/matches/{match_id}/{action}", match_pages.match_action, methods=["POST"]),
        Route("/outbox", outbox_pages.outbox_page),
        Route("/outbox/{message_id}", outbox_pages.message_page),
        Route("/outbox/{message_id}/{action}", outbox_pages.message_action, methods=["POST"]),
    ]


@require(None)
async def home(request: Request) -> Response:
    return RedirectResponse("/today", status_code=302)


@require(None)
async def today_page(request: Request) -> Response:
    app = services(request)
    user = await current_staff(request)
    assert user is not None
    data = await run(
        request,
        lambda session, staff: staff_views.today(session, staff, app.now(), app.programmes),
    )
    return staff_page(
        request,
        "staff/today.html",
        {"data": data, "today_date": local_today(app, user), **flash(request, user)},
        user=user,
    )


def _case(session: Session, staff: Staff, case_id: int) -> Escalation:
    case = session.get(Escalation, case_id)
    if case is None:
        raise NotFound
    if case.staff_id == staff.id:
        return case
    match = session.get(Match, case.match_id) if case.match_id else None
    if staff.role != StaffRole.PROCESLEDER and (
        (match is None and staff.role == StaffRole.ADMIN)
        or (match is not None and may_see(staff, match))
    ):
        return case
    raise NotFound


@require(None)
async def case_action(request: Request) -> Response:
    app = services(request)
    user = await current_staff(request)
    assert user is not None
    form: dict[str, str] = request.state.form
    back = safe_back(form.get("back"), "/today")
    action = str(request.path_params["action"])
    try:
        case_id = path_id(request, "case_id")
        if action not in ("ack", "snooze", "resolve"):
            raise NotFound
    except NotFound:
        return not_found(request, user)
    now = app.now()

    def work(session: Session, staff: Staff) -> dict[str, str]:
        case = _case(session, staff, case_id)
        try:
            if action == "ack":
                acknowledge(session, case.id, staff.id, now, via="web")
                return {"done": "ack"}
            if action == "snooze":
                span = snooze_span(form.get("days", "7")) or timedelta(days=7)
                until = now + span
                snooze(session, case.id, staff.id, until, now, via="web")
                local = until.astimezone(ZoneInfo(staff.timezone)).date()
                locale = staff.locale.value
                pattern = UNTIL.get(locale, "full")
                shown = format_date(local, pattern, locale=babel_locale(locale))
                return {"done": "snooze", "until": shown}
            outcome = outcome_of(form.get("outcome", ""))
            if outcome is None:
                raise Refused("need_outcome")
            resolve(session, case.id, staff.id, now, form.get("note", ""), outcome)
            return {"done": "resolve"}
        except AckError as exc:
            raise Refused("refused") from exc

    try:
        query = await run(request, work)
    except NotFound:
        return not_found(request, user)
    except Refused as exc:
        return go_back(back, error=exc.key)
    return go_back(back, **query)


@require(None)
async def task_action(request: Request) -> Response:
    app = services(request)
    user = await current_staff(request)
    assert user is not None
    form: dict[str, str] = request.state.form
    try:
        task_id = path_id(request, "task_id")
    except NotFound:
        return not_found(request, user)
    now = app.now()
    outcome = form.get("outcome", "")

    def work(session: Session, staff: Staff) -> None:
        task = session.get(Task, task_id)
        if task is None:
            raise NotFound
        if task.owner_id != staff.id:
            match = session.get(Match, task.match_id) if task.match_id else None
            if staff.role == StaffRole.PROCESLEDER or match is None or not may_see(staff, match):
                raise NotFound
        to = None
        if outcome == "rescheduled":
            to = parse_local(form.get("to", ""), staff.timezone)
            if to is None or to <= now:
                raise Refused("bad_time")
        try:
            complete(session, task.id, outcome, form.get("note", ""), now, f"staff:{staff.id}", to)
        except TaskError as exc:
            raise Refused("refused") from exc

    try:
        await run(request, work)
    except NotFound:
        return not_found(request, user)
    except Refused as exc:
        return go_back("/today", error=exc.key)
    return go_back("/today", done="task")
