"""The staff web app's pages: Today, Matches, a match (with its year wheel), the Outbox.

Every route is behind :func:`web.auth.require`; a match, a case, a task or a message the staff
member may not see is answered with 404, as if it did not exist. Every change is a POST of a
plain form with the session's CSRF token, made through the domain's functions (cases, tasks,
matches) or :mod:`scheduler.outbox`, and answered with 303 back to the page with a short note
of what was done. Viewing a match or a message is recorded in the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from followup import child_voice, contacts, moments, staff_views
from followup import matches as match_ops
from followup.alerts import AckError, acknowledge, resolve, snooze
from followup.child_voice import FACES
from followup.hooks import engine_hooks
from followup.staff_auth import may_see, visible
from followup.survey_defs import tr
from followup.tasks import TaskError, complete
from scheduler import i18n, outbox, wording
from scheduler.prepare import preview
from scheduler.timeline import localize
from store.audit import record
from store.models import (
    EndedBy,
    EndReason,
    Escalation,
    Match,
    OutboxMessage,
    Staff,
    StaffRole,
    Task,
    VolunteerFamily,
)
from store.validation import ascii_digits, within_years
from web.auth import StaffUser, current_staff, require, staff_page
from web.staff_render import babel_locale
from web.staff_words import word
from web.wheel import wheel_svg

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


# A snoozed case's date in the flash: "tirsdag 21. april".
UNTIL = {"da": "EEEE d. MMMM", "en": "EEEE d MMMM"}


def staff_routes() -> list[Route]:
    return [
        Route("/", home),
        Route("/today", today_page),
        Route("/cases/{case_id}/{action}", case_action, methods=["POST"]),
        Route("/tasks/{task_id}", task_action, methods=["POST"]),
        Route("/matches", matches_page),
        Route("/matches/{match_id}", match_page),
        Route("/matches/{match_id}/{action}", match_action, methods=["POST"]),
        Route("/outbox", outbox_page),
        Route("/outbox/{message_id}", message_page),
        Route("/outbox/{message_id}/{action}", message_action, methods=["POST"]),
    ]


def _services(request: Request) -> Services:
    services: Services = request.app.state.app
    return services


def _id(request: Request, name: str) -> int:
    raw = str(request.path_params[name])
    if not ID.fullmatch(raw):
        raise NotFound
    return int(raw)


def _flash(request: Request, user: StaffUser) -> dict[str, Any]:
    done = request.query_params.get("done", "")
    error = request.query_params.get("error", "")
    if error in ERRORS:
        return {"flash": word(user.locale, error), "flash_error": True}
    if done in FLASHES:
        until = request.query_params.get("until", "")[:40]
        return {"flash": word(user.locale, f"done_{done}", until=until), "flash_error": False}
    return {}


def _back(path: str, **query: str) -> Response:
    return RedirectResponse(f"{path}?{urlencode(query)}" if query else path, status_code=303)


def _safe_back(value: str | None, default: str) -> str:
    if value and re.fullmatch(r"/(today|matches/[1-9][0-9]{0,8})", value):
        return value
    return default


def _not_found(request: Request, user: StaffUser) -> Response:
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


async def _run(request: Request, work: Callable[[Session, Staff], Any]) -> Any:
    """Run ``work`` in a worker thread in one transaction, with the signed-in staff member's
    row; :class:`NotFound` and :class:`Refused` pass through."""
    app = _services(request)
    user = await current_staff(request)
    assert user is not None

    def job() -> Any:
        with app.session_factory() as session, session.begin():
            staff = session.get(Staff, user.id)
            if staff is None:
                raise NotFound
            return work(session, staff)

    return await run_in_threadpool(job)


def _local_today(app: Services, user: StaffUser) -> date:
    return app.now().astimezone(ZoneInfo(user.timezone)).date()


# -- today ----------------------------------------------------------------------------------------


@require(None)
async def home(request: Request) -> Response:
    return RedirectResponse("/today", status_code=302)


@require(None)
async def today_page(request: Request) -> Response:
    app = _services(request)
    user = await current_staff(request)
    assert user is not None
    data = await _run(
        request,
        lambda session, staff: staff_views.today(session, staff, app.now(), app.programmes),
    )
    return staff_page(
        request,
        "staff/today.html",
        {"data": data, "today_date": _local_today(app, user), **_flash(request, user)},
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
    app = _services(request)
    user = await current_staff(request)
    assert user is not None
    form: dict[str, str] = request.state.form
    back = _safe_back(form.get("back"), "/today")
    action = str(request.path_params["action"])
    try:
        case_id = _id(request, "case_id")
        if action not in ("ack", "snooze", "resolve"):
            raise NotFound
    except NotFound:
        return _not_found(request, user)
    now = app.now()

    def work(session: Session, staff: Staff) -> dict[str, str]:
        case = _case(session, staff, case_id)
        try:
            if action == "ack":
                acknowledge(session, case.id, staff.id, now, via="web")
                return {"done": "ack"}
            if action == "snooze":
                days = {"1": 1, "7": 7, "14": 14}.get(form.get("days", "7"), 7)
                until = now + timedelta(days=days)
                snooze(session, case.id, staff.id, until, now, via="web")
                local = until.astimezone(ZoneInfo(staff.timezone)).date()
                locale = staff.locale.value
                pattern = UNTIL.get(locale, "full")
                shown = format_date(local, pattern, locale=babel_locale(locale))
                return {"done": "snooze", "until": shown}
            note = " ".join(form.get("note", "").split())[:2000]
            if len(note) < 2:
                raise Refused("need_note")
            resolve(session, case.id, staff.id, now, note)
            return {"done": "resolve"}
        except AckError as exc:
            raise Refused("refused") from exc

    try:
        query = await _run(request, work)
    except NotFound:
        return _not_found(request, user)
    except Refused as exc:
        return _back(back, error=exc.key)
    return _back(back, **query)


@require(None)
async def task_action(request: Request) -> Response:
    app = _services(request)
    user = await current_staff(request)
    assert user is not None
    form: dict[str, str] = request.state.form
    try:
        task_id = _id(request, "task_id")
    except NotFound:
        return _not_found(request, user)
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
            to = _parse_local(form.get("to", ""), staff.timezone)
            if to is None or to <= now:
                raise Refused("bad_time")
        try:
            complete(session, task.id, outcome, form.get("note", ""), now, f"staff:{staff.id}", to)
        except TaskError as exc:
            raise Refused("refused") from exc

    try:
        await _run(request, work)
    except NotFound:
        return _not_found(request, user)
    except Refused as exc:
        return _back("/today", error=exc.key)
    return _back("/today", done="task")


def _parse_local(value: str, zone_name: str) -> datetime | None:
    try:
        naive = datetime.fromisoformat(value.strip()[:19])
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return None
    return localize(naive, ZoneInfo(zone_name))


def _parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


# -- matches --------------------------------------------------------------------------------------

_HEALTH_ORDER = {"red": 0, "amber": 1, "green": 2}
SORTS: dict[str, Callable[[staff_views.MatchHealth], Any]] = {
    "health": lambda r: (_HEALTH_ORDER[r.health], r.id),
    "child": lambda r: (r.child.lower(), r.id),
    "last_visit": lambda r: (r.last_visit or date.min, r.id),
    "contact": lambda r: (
        -(r.days_since_contact if r.days_since_contact is not None else 10**6),
        r.id,
    ),
}


@require(None)
async def matches_page(request: Request) -> Response:
    app = _services(request)
    user = await current_staff(request)
    assert user is not None
    params = request.query_params
    programme = params.get("programme", "")[:64]
    health = params.get("health", "")
    health = health if health in ("red", "amber", "green") else ""
    raw_staff = params.get("staff", "")
    staff_filter = int(raw_staff) if ID.fullmatch(raw_staff) else None
    region = params.get("region", "")[:64]
    sort = params.get("sort", "")
    sort = sort if sort in SORTS else "health"

    def work(session: Session, staff: Staff) -> dict[str, Any]:
        rows = staff_views.match_health(
            session,
            staff,
            app.now(),
            programme=programme,
            staff_id=staff_filter,
            health=health,
            programmes=app.programmes,
        )
        regions = sorted({r.region for r in rows if r.region})
        if region:
            rows = [r for r in rows if r.region == region]
        rows.sort(key=SORTS[sort])
        options: list[tuple[int, str]] = []
        if staff.role != StaffRole.PROCESLEDER:
            ids = select(Match.staff_id).where(visible(staff)).distinct()
            options = [
                (s.id, s.name)
                for s in session.scalars(
                    select(Staff).where(Staff.id.in_(ids)).order_by(Staff.name)
                )
            ]
        return {"rows": rows, "staff_options": options, "regions": regions}

    values = await _run(request, work)
    programmes = sorted((p.id, p.name) for p in app.programmes.values())
    return staff_page(
        request,
        "staff/matches.html",
        {
            **values,
            "programmes": programmes,
            "filters": {
                "programme": programme,
                "health": health,
                "staff": staff_filter,
                "region": region,
                "sort": sort,
            },
        },
        user=user,
    )


def _voices(session: Session, match_id: int, locale: str) -> list[dict[str, Any]]:
    """The child's-voice moments of the match, for its page: each smiley and the own words."""
    shown = []
    for moment in child_voice.moments(session, match_id):
        rows = []
        for question in moment.survey.questions_for(moment.wave):
            value = moment.answers.get(question.id)
            if question.type == "scale":
                face = FACES.get(int(value)) if value and ascii_digits(value) else None
                rows.append({"question": tr(question.text, locale), "face": face, "value": value})
        words = next(
            (
                moment.answers.get(q.id)
                for q in moment.survey.questions_for(moment.wave)
                if q.type == "text"
            ),
            None,
        )
        shown.append(
            {
                "months": moment.months,
                "wave": moment.wave,
                "family": moment.invitation.volunteer_family_id is not None,
                "answered_at": moment.invitation.completed_at,
                "answered": moment.answered,
                "rows": rows,
                "words": words,
            }
        )
    return shown


@require(None)
async def match_page(request: Request) -> Response:
    app = _services(request)
    user = await current_staff(request)
    assert user is not None
    try:
        match_id = _id(request, "match_id")
    except NotFound:
        return _not_found(request, user)
    now = app.now()
    today = _local_today(app, user)

    def work(session: Session, staff: Staff) -> dict[str, Any]:
        detail = staff_views.match_detail(session, staff, match_id, now, app.programmes)
        if detail is None:
            raise NotFound
        record(session, f"staff:{staff.id}", "match.view", "match", match_id)
        locale = staff.locale.value
        labels = {
            "title": word(locale, "wheel_title", child=detail.match.child.first_name),
            "today": word(locale, "today"),
            "week": word(locale, "wheel_week", week="{week}", weeks="{weeks}"),
            "done": word(locale, "state_done"),
            "missed": word(locale, "state_missed"),
            "upcoming": word(locale, "state_upcoming"),
        }
        wheel = wheel_svg(detail.wheel, detail.start, detail.end, today, locale, labels)
        # Render while the session is open: the template reads the match's relations.
        return {
            "html": staff_page(
                request,
                "staff/match.html",
                {
                    "detail": detail,
                    "greetings": moments.shared(session, match_id),
                    "greetings_on": moments.enabled(
                        app.programmes.get(detail.match.programme.slug)
                    ),
                    "wheel": wheel,
                    "voices": _voices(session, match_id, locale),
                    "today_iso": today.isoformat(),
                    **_flash(request, user),
                },
                user=user,
            )
        }

    try:
        result = await _run(request, work)
    except NotFound:
        return _not_found(request, user)
    response: Response = result["html"]
    return response


END_BY = {e.value: e for e in EndedBy}
END_REASONS = {r.value: r for r in EndReason}
MatchAction = Callable[[Session, Match, dict[str, str], Staff, datetime], None]


def _day_of(form: dict[str, str], name: str) -> date:
    found = _parse_day(form.get(name, ""))
    # A day a person means: a typo such as 9999-12-31 would break every page the match is on.
    if found is None or not within_years(found):
        raise Refused("bad_date")
    return found


def _note(
    session: Session, match: Match, form: dict[str, str], staff: Staff, now: datetime
) -> None:
    match_ops.add_note(session, match, form.get("text", ""), staff.id, now, f"staff:{staff.id}")


def _pause(
    session: Session, match: Match, form: dict[str, str], staff: Staff, now: datetime
) -> None:
    end = _day_of(form, "to") if form.get("to") else None
    start = _day_of(form, "from")
    match_ops.pause(session, match, start, end, form.get("reason", ""), f"staff:{staff.id}")


def _resume(
    session: Session, match: Match, form: dict[str, str], staff: Staff, now: datetime
) -> None:
    match_ops.resume(session, match, _day_of(form, "on"), f"staff:{staff.id}")


def _end(session: Session, match: Match, form: dict[str, str], staff: Staff, now: datetime) -> None:
    on = _day_of(form, "on")
    by = END_BY.get(form.get("by", ""))
    code = END_REASONS.get(form.get("why", ""))
    reason = " ".join(form.get("reason", "").split())
    # Who ended it, and why: a reason from the list, or in words (or both).
    if by is None or (code is None and len(reason) < 2) or (form.get("why") and code is None):
        raise Refused("need_reason")
    match_ops.end(session, match, on, by, reason, f"staff:{staff.id}", reason_code=code)


def _rematch(
    session: Session, match: Match, form: dict[str, str], staff: Staff, now: datetime
) -> None:
    start = _day_of(form, "start")
    raw = form.get("family", "")
    family = (
        session.get(VolunteerFamily, int(raw))
        if raw.isascii() and raw.isdigit() and len(raw) < 12
        else None
    )
    if family is None or family.id not in {
        f for f, _ in staff_views.rematch_families(session, match)
    }:
        raise Refused("need_family")
    match_ops.rematch(session, match, family, start, f"staff:{staff.id}")


def _start(
    session: Session, match: Match, form: dict[str, str], staff: Staff, now: datetime
) -> None:
    match_ops.correct_start(session, match, _day_of(form, "start"), f"staff:{staff.id}")


def _contact(
    session: Session, match: Match, form: dict[str, str], staff: Staff, now: datetime
) -> None:
    on = _day_of(form, "on")
    today = now.astimezone(ZoneInfo(staff.timezone)).date()
    party, kind = form.get("with", ""), form.get("kind", "")
    try:
        contacts.record(session, match, party, kind, on, today, staff.id, f"staff:{staff.id}")
    except contacts.ContactError as exc:
        raise Refused("contact_refused") from exc


def _consent(
    session: Session, match: Match, form: dict[str, str], staff: Staff, now: datetime
) -> None:
    """Record or withdraw a contact person's consent to photos from the volunteer family."""
    raw = form.get("contact", "")
    contact = next((c for c in match.contacts if ID.fullmatch(raw) and c.id == int(raw)), None)
    if contact is None:
        raise Refused("refused")
    given = form.get("photos") == "yes"
    on = _day_of(form, "on") if given else None
    if on is not None and on > now.astimezone(ZoneInfo(staff.timezone)).date():
        raise Refused("bad_date")
    moments.record_consent(session, contact, given, on, f"staff:{staff.id}")


MATCH_ACTIONS: dict[str, MatchAction] = {
    "consent": _consent,
    "start": _start,
    "note": _note,
    "contact": _contact,
    "pause": _pause,
    "resume": _resume,
    "end": _end,
    "rematch": _rematch,
}


@require(None)
async def match_action(request: Request) -> Response:
    app = _services(request)
    user = await current_staff(request)
    assert user is not None
    form: dict[str, str] = request.state.form
    action = str(request.path_params["action"])
    try:
        match_id = _id(request, "match_id")
        if action not in MATCH_ACTIONS:
            raise NotFound
    except NotFound:
        return _not_found(request, user)
    now = app.now()
    back = f"/matches/{match_id}"

    def work(session: Session, staff: Staff) -> None:
        match = session.get(Match, match_id)
        if match is None or not may_see(staff, match):
            raise NotFound
        try:
            MATCH_ACTIONS[action](session, match, form, staff, now)
        except match_ops.FarDate as exc:
            raise Refused("far_date") from exc
        except match_ops.MatchError as exc:
            raise Refused("refused") from exc

    try:
        await _run(request, work)
    except NotFound:
        return _not_found(request, user)
    except Refused as exc:
        return _back(back, error=exc.key)
    return _back(back, done=action)


# -- the outbox -----------------------------------------------------------------------------------


@require(None)
async def outbox_page(request: Request) -> Response:
    app = _services(request)
    user = await current_staff(request)
    assert user is not None
    params = request.query_params
    view = "history" if params.get("view") == "history" else "upcoming"
    raw_match = params.get("match", "")
    match_filter = int(raw_match) if ID.fullmatch(raw_match) else None
    channel = params.get("channel", "")
    channel = channel if channel in ("telegram", "sms", "email", "voice") else ""
    search = params.get("q", "")[:60]

    def work(session: Session, staff: Staff) -> dict[str, Any]:
        rows = staff_views.outbox_rows(
            session,
            staff,
            app.programmes,
            history=view == "history",
            match_id=match_filter,
            channel=channel,
            search=search,
        )
        options = [
            (m.id, f"{m.child.first_name} · {m.volunteer_family.name}")
            for m in session.scalars(select(Match).where(visible(staff)).order_by(Match.id))
        ]
        return {"rows": rows, "match_options": options}

    values = await _run(request, work)
    return staff_page(
        request,
        "staff/outbox.html",
        {
            **values,
            "channels": app.settings.describe_channels(),
            "filters": {"view": view, "match": match_filter, "channel": channel, "q": search},
            **_flash(request, user),
        },
        user=user,
    )


def _message(session: Session, staff: Staff, message_id: int) -> tuple[OutboxMessage, Match]:
    message = session.get(OutboxMessage, message_id)
    match = session.get(Match, message.match_id) if message and message.match_id else None
    if message is None or match is None or not may_see(staff, match):
        raise NotFound
    if message.audience.value == "staff":
        raise NotFound
    return message, match


@require(None)
async def message_page(request: Request) -> Response:
    app = _services(request)
    user = await current_staff(request)
    assert user is not None
    try:
        message_id = _id(request, "message_id")
    except NotFound:
        return _not_found(request, user)
    now = app.now()
    settings = app.settings
    public = settings.links_url

    def job() -> dict[str, Any]:
        with app.session_factory() as session:
            staff = session.get(Staff, user.id)
            if staff is None:
                raise NotFound
            message, match = _message(session, staff, message_id)
            row = staff_views.outbox_row(message, match, app.programmes, staff.locale.value)
            language = staff.locale.value
            edited = outbox.staff_text(message)
            body, subject = message.body, message.subject
            message_lang = message.locale.value  # the recipient's, not the staff member's
            due_local = message.due_at.astimezone(ZoneInfo(staff.timezone)).strftime(
                "%Y-%m-%dT%H:%M"
            )
            if message.status.value == "planned":
                # Rendered as it would be now, then rolled back: a preview writes nothing.
                rendered = preview(
                    session,
                    message,
                    app.programmes,
                    engine_hooks(app.programmes, public),
                    now,
                    public,
                )
                body = rendered.body if rendered is not None else None
                subject = rendered.subject if rendered is not None else None
            session.rollback()
        with app.session_factory() as session, session.begin():
            record(session, f"staff:{user.id}", "outbox.view", "outbox_message", message_id)
        shown = edited or body
        return {
            "r": row,
            "body": body,
            "subject": subject,
            "message_lang": message_lang,
            "edited": edited,
            "due_local": due_local,
            # What the SMS costs: an Arabic one is UCS-2, 70 characters a segment.
            "sms_cost": wording.sms_cost_line(shown, i18n.texts(language))
            if row.channel == "sms" and shown
            else "",
        }

    try:
        values = await run_in_threadpool(job)
    except NotFound:
        return _not_found(request, user)
    return staff_page(
        request, "staff/outbox_item.html", {**values, **_flash(request, user)}, user=user
    )


@require(None)
async def message_action(request: Request) -> Response:
    app = _services(request)
    user = await current_staff(request)
    assert user is not None
    form: dict[str, str] = request.state.form
    action = str(request.path_params["action"])
    try:
        message_id = _id(request, "message_id")
        if action not in ("edit", "reschedule", "send-now", "cancel"):
            raise NotFound
    except NotFound:
        return _not_found(request, user)
    now = app.now()
    back = f"/outbox/{message_id}"

    def work(session: Session, staff: Staff) -> None:
        message, _match = _message(session, staff, message_id)
        try:
            if action == "edit":
                outbox.edit_text(message, form.get("text", ""), staff.id, now)
            elif action == "reschedule":
                when = _parse_local(form.get("at", ""), staff.timezone)
                if when is None:
                    raise Refused("bad_time")
                outbox.reschedule(message, when, staff.id, now)
            elif action == "send-now":
                outbox.send_now(message, staff.id, now)
            else:
                outbox.cancel_by_staff(message, staff.id, now)
        except outbox.NotPlanned as exc:
            raise Refused("refused") from exc
        record(session, f"staff:{staff.id}", f"outbox.{action}", "outbox_message", message.id)

    try:
        await _run(request, work)
    except NotFound:
        return _not_found(request, user)
    except Refused as exc:
        return _back(back, error=exc.key)
    return _back(back, done=action.replace("-", "_"))
