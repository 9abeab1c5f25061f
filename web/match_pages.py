"""The staff web app's Matches page and a match's page (its year wheel, visits, contacts, the
child's voice) with the actions on a match: a note, a contact, pause, resume, end, re-match,
correct the start, photo consent.

Viewing a match is recorded in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from followup import child_voice, contacts, moments, staff_views
from followup import matches as match_ops
from followup.child_voice import FACES
from followup.staff_auth import may_see, visible
from followup.survey_defs import tr
from store.audit import record
from store.models import EndedBy, EndReason, Match, Staff, StaffRole, VolunteerFamily
from store.validation import ascii_digits, within_years
from web.auth import current_staff, require, staff_page
from web.staff_kit import (
    ID,
    NotFound,
    Refused,
    flash,
    go_back,
    local_today,
    not_found,
    parse_day,
    path_id,
    run,
    services,
)
from web.staff_words import word
from web.wheel import wheel_svg

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
    app = services(request)
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

    values = await run(request, work)
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
    app = services(request)
    user = await current_staff(request)
    assert user is not None
    try:
        match_id = path_id(request, "match_id")
    except NotFound:
        return not_found(request, user)
    now = app.now()
    today = local_today(app, user)

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
                    **flash(request, user),
                },
                user=user,
            )
        }

    try:
        result = await run(request, work)
    except NotFound:
        return not_found(request, user)
    response: Response = result["html"]
    return response


END_BY = {e.value: e for e in EndedBy}
END_REASONS = {r.value: r for r in EndReason}
MatchAction = Callable[[Session, Match, dict[str, str], Staff, datetime], None]


def _day_of(form: dict[str, str], name: str) -> date:
    found = parse_day(form.get(name, ""))
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
    app = services(request)
    user = await current_staff(request)
    assert user is not None
    form: dict[str, str] = request.state.form
    action = str(request.path_params["action"])
    try:
        match_id = path_id(request, "match_id")
        if action not in MATCH_ACTIONS:
            raise NotFound
    except NotFound:
        return not_found(request, user)
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
        await run(request, work)
    except NotFound:
        return not_found(request, user)
    except Refused as exc:
        return go_back(back, error=exc.key)
    return go_back(back, done=action)


# -- the outbox -----------------------------------------------------------------------------------
