"""The staff web app's Sparring and Surveys pages.

Sparring: the coming sessions of the programmes the staff member's matches belong to, with who
said yes, maybe or no; a coordinator or an admin creates a session (its families are invited at
the next tick, as with ``venskab sparring add``). Surveys: per survey and wave how many were
sent, opened and completed, and after which reminder step (numbers only; coordinators and
admins).
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from followup import sparring as sparring_ops
from followup.matches import sync_programmes
from followup.staff_auth import visible
from followup.survey_defs import default_surveys
from followup.survey_reports import paired_rows, results, write_csv
from scheduler.links import secret_for
from scheduler.timeline import localize
from store.audit import record
from store.models import RSVP, Match, SparringSession, Staff, StaffRole
from store.models import Programme as ProgrammeRow
from web.auth import current_staff, require, staff_page
from web.staff_words import word

if TYPE_CHECKING:
    from followup.services import Services


def group_routes() -> list[Route]:
    return [
        Route("/sparring", sparring_page),
        Route("/sparring", sparring_add, methods=["POST"]),
        Route("/surveys", surveys_page),
        Route("/surveys/{survey_id}/paired.csv", paired_export),
    ]


@require(None)
async def sparring_page(request: Request) -> Response:
    app: Services = request.app.state.app
    user = await current_staff(request)
    assert user is not None
    now = app.now()

    def job() -> dict[str, Any]:
        with app.session_factory() as session:
            staff = session.get(Staff, user.id)
            assert staff is not None
            query = (
                select(SparringSession)
                .where(SparringSession.starts_at >= now - timedelta(hours=3))
                .order_by(SparringSession.starts_at)
                .limit(50)
            )
            if staff.role != StaffRole.ADMIN:
                programmes = select(Match.programme_id).where(visible(staff)).distinct()
                query = query.where(SparringSession.programme_id.in_(programmes))
            sessions = []
            for row in session.scalars(query):
                answers = sparring_ops.answers(session, row.id)
                sessions.append(
                    {
                        "id": row.id,
                        "starts_at": row.starts_at,
                        "programme": row.programme.name,
                        "region": row.region,
                        "link": row.meeting_link or "",
                        "note": row.note or "",
                        "yes": [f.name for f, a in answers if a == RSVP.YES],
                        "maybe": [f.name for f, a in answers if a == RSVP.MAYBE],
                        "no": [f.name for f, a in answers if a == RSVP.NO],
                    }
                )
            return {"sessions": sessions}

    values = await run_in_threadpool(job)
    programmes = sorted((p.id, p.name) for p in app.programmes.values())
    done = request.query_params.get("done") == "sparring"
    error = request.query_params.get("error", "")
    flash = {}
    if done:
        flash = {"flash": word(user.locale, "done_sparring"), "flash_error": False}
    elif error in ("bad_time", "bad_link", "past"):
        flash = {"flash": word(user.locale, f"sparring_{error}"), "flash_error": True}
    return staff_page(
        request,
        "staff/sparring.html",
        {**values, "programmes": programmes, "can_add": user.has("coordinator"), **flash},
        user=user,
    )


@require("coordinator")
async def sparring_add(request: Request) -> Response:
    app: Services = request.app.state.app
    user = await current_staff(request)
    assert user is not None
    form: dict[str, str] = request.state.form
    slug = form.get("programme", "")
    if slug not in app.programmes:
        return RedirectResponse("/sparring?error=bad_time", status_code=303)
    try:
        naive = datetime.fromisoformat(form.get("at", "").strip()[:16])
    except ValueError:
        return RedirectResponse("/sparring?error=bad_time", status_code=303)
    starts_at = localize(naive.replace(tzinfo=None), ZoneInfo(user.timezone))
    if starts_at <= app.now():
        return RedirectResponse("/sparring?error=past", status_code=303)
    link = form.get("link", "").strip()[:500] or None
    if link is not None and not link.startswith("https://"):
        return RedirectResponse("/sparring?error=bad_link", status_code=303)
    region = " ".join(form.get("region", "").split())[:64]
    note = " ".join(form.get("note", "").split())[:300] or None

    def job() -> None:
        with app.session_factory() as session, session.begin():
            rows: dict[str, ProgrammeRow] = sync_programmes(session, app.programmes.values())
            sparring_ops.add_session(
                session, rows[slug], region, starts_at, link, note, f"staff:{user.id}"
            )

    await run_in_threadpool(job)
    return RedirectResponse("/sparring?done=sparring", status_code=303)


@require("coordinator")
async def surveys_page(request: Request) -> Response:
    app: Services = request.app.state.app
    user = await current_staff(request)
    assert user is not None

    def job() -> list[Any]:
        session: Session
        with app.session_factory() as session:
            return results(session)

    rows = await run_in_threadpool(job)
    steps = sorted({step for row in rows for step in row.completed_at_step})
    return staff_page(
        request,
        "staff/surveys.html",
        {"rows": rows, "steps": steps, "survey_ids": sorted(default_surveys())},
        user=user,
    )


@require("coordinator")
async def paired_export(request: Request) -> Response:
    """The paired baseline/end/follow-up answers of one survey, under pseudonymous ids, without
    free text (``venskab survey export --with-text`` has it); who downloaded it is audited."""
    app: Services = request.app.state.app
    user = await current_staff(request)
    assert user is not None
    survey_id = str(request.path_params["survey_id"])
    definition = default_surveys().get(survey_id)
    if definition is None:
        return PlainTextResponse(word(user.locale, "reports_unknown"), status_code=404)

    def job() -> str:
        with app.session_factory() as session, session.begin():
            header, rows = paired_rows(session, secret_for(session), definition, zone=str(app.zone))
            record(
                session,
                user.actor,
                "survey.export",
                "survey",
                None,
                survey=survey_id,
                respondents=len(rows),
                with_text=False,
            )
        out = io.StringIO()
        write_csv(header, rows, out)
        return out.getvalue()

    text = await run_in_threadpool(job)
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="venskab-{survey_id}-paired.csv"',
            "Cache-Control": "no-store",
        },
    )
