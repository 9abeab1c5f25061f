"""The staff web app's Outbox: every message a match has received or will receive, one
message's page (its text as it would be sent now), and what staff may do with a planned one:
edit, reschedule, send now, cancel, all through :mod:`scheduler.outbox`.

Viewing a message is recorded in the audit log.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from followup import staff_views, wording
from followup.hooks import engine_hooks
from followup.staff_auth import may_see, visible
from scheduler import i18n, outbox
from scheduler.prepare import preview
from store.audit import record
from store.models import Match, OutboxMessage, Staff
from web.auth import current_staff, require, staff_page
from web.staff_kit import (
    ID,
    NotFound,
    Refused,
    flash,
    go_back,
    not_found,
    parse_local,
    path_id,
    run,
    services,
)


@require(None)
async def outbox_page(request: Request) -> Response:
    app = services(request)
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

    values = await run(request, work)
    return staff_page(
        request,
        "staff/outbox.html",
        {
            **values,
            "channels": app.settings.describe_channels(),
            "filters": {"view": view, "match": match_filter, "channel": channel, "q": search},
            **flash(request, user),
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
    app = services(request)
    user = await current_staff(request)
    assert user is not None
    try:
        message_id = path_id(request, "message_id")
    except NotFound:
        return not_found(request, user)
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
        return not_found(request, user)
    return staff_page(
        request, "staff/outbox_item.html", {**values, **flash(request, user)}, user=user
    )


@require(None)
async def message_action(request: Request) -> Response:
    app = services(request)
    user = await current_staff(request)
    assert user is not None
    form: dict[str, str] = request.state.form
    action = str(request.path_params["action"])
    try:
        message_id = path_id(request, "message_id")
        if action not in ("edit", "reschedule", "send-now", "cancel"):
            raise NotFound
    except NotFound:
        return not_found(request, user)
    now = app.now()
    back = f"/outbox/{message_id}"

    def work(session: Session, staff: Staff) -> None:
        message, _match = _message(session, staff, message_id)
        try:
            if action == "edit":
                outbox.edit_text(message, form.get("text", ""), staff.id, now)
            elif action == "reschedule":
                when = parse_local(form.get("at", ""), staff.timezone)
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
        await run(request, work)
    except NotFound:
        return not_found(request, user)
    except Refused as exc:
        return go_back(back, error=exc.key)
    return go_back(back, done=action.replace("-", "_"))
