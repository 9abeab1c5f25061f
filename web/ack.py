"""The page behind an alert email's link: what the case is, and acknowledge, snooze or resolve.

The signed token in the link is the credential (it names the case and the staff member); GET
only shows the case and the buttons, since mail scanners follow links; each button is a POST of
a plain form. A POST from another site's page (an ``Origin`` that is not ours) is refused.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from followup.alerts import AckError, acknowledge, check_ack_token, resolve, snooze
from followup.escalations import rule_title
from scheduler import i18n
from scheduler.links import secret_for
from store.models import Escalation, EscalationStatus, Match, Staff
from store.validation import strip_controls
from web.limits import (
    BadForm,
    Throttle,
    TooLarge,
    bad_request,
    client_address,
    parse_form,
    read_body,
    too_large,
    too_many,
)
from web.staff_render import babel_locale, page_locale

if TYPE_CHECKING:
    from followup.services import Services

PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
i18n.install(PAGES)
SNOOZE = timedelta(days=7)
SINCE = {"da": "d. MMMM y 'kl.' HH:mm", "en": "d MMMM y, HH:mm"}
UNTIL = {"da": "EEEE d. MMMM", "en": "EEEE d MMMM"}
NOTE_MAX = 2000


def _says(texts: i18n.Texts, what: str) -> str:
    """What the page says after ``what`` happened (the case was acknowledged, ...)."""
    return {
        "confirm": texts.gettext(
            "Acknowledge once you have taken the case on: your colleagues will know, and no "
            "more reminders are sent. You can also snooze it for a week or resolve it."
        ),
        "acknowledged": texts.gettext("The case is acknowledged. Resolve it once it is settled."),
        "done": texts.gettext(
            "Thank you. It is acknowledged, and no more reminders will be sent about it."
        ),
        "snoozed": texts.gettext(
            "The case is snoozed until %(until)s. You will get one reminder that day."
        ),
        "resolved": texts.gettext("Thank you. The case is resolved."),
        "already": texts.gettext("This case was already resolved. Nothing more to do here."),
        "already_ack": texts.gettext("This was already acknowledged. Nothing more to do here."),
        "need_note": texts.gettext(
            "Please write briefly what the outcome was before resolving the case."
        ),
        "bad": texts.gettext(
            "This link is not valid. Use the link in the latest email, or acknowledge in Telegram."
        ),
        "foreign": texts.gettext(
            "This form did not come from this page. Open the link in the email again."
        ),
    }[what]


def ack_routes() -> list[Route]:
    return [Route("/ack/{token}", acknowledge_link, methods=["GET", "POST"])]


def _same_origin(request: Request) -> bool:
    """No ``Origin`` (a plain form from an old browser, a script), or ours."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


# "<escalation id>.<staff id>.<url-safe base64 MAC>", ids within the database's integer range.
ACK_TOKEN = re.compile(r"[1-9][0-9]{0,8}\.[1-9][0-9]{0,8}\.[A-Za-z0-9_-]{16,64}", re.ASCII)
ACK_THROTTLE = Throttle(limit=20, window=60)


async def acknowledge_link(request: Request) -> Response:
    app: Services = request.app.state.app
    if not ACK_THROTTLE.allow(client_address(request)):
        return too_many(ACK_THROTTLE.window)
    token = str(request.path_params["token"])
    if not ACK_TOKEN.fullmatch(token):
        # Not the shape of any token we make (non-ASCII, huge ids, ...): the same page as a
        # forged one, without touching the database.
        return _page("da", "bad", status=403)
    form: dict[str, str] = {}
    if request.method == "POST":
        if not _same_origin(request):
            return _page("da", "foreign", status=403)
        try:  # bounded before parsed
            body = await read_body(request, app.settings.max_form_bytes)
            form = {k: str(v) for k, v in (await parse_form(request, body)).items()}
        except TooLarge:
            return too_large()
        except BadForm:
            return bad_request()
    return await run_in_threadpool(_handle, app, token, request.method, form)


def _handle(app: Services, token: str, method: str, form: dict[str, str]) -> Response:
    with app.session_factory() as session, session.begin():
        ids = check_ack_token(secret_for(session, None), token)
        staff = session.get(Staff, ids[1]) if ids else None
        escalation = session.get(Escalation, ids[0]) if ids else None
        locale = staff.locale.value if staff is not None else "da"
        if ids is None or staff is None or escalation is None:
            return _page(locale, "bad", status=403)
        case = _describe(session, escalation, staff)
        if escalation.status == EscalationStatus.RESOLVED:
            return _page(locale, "already", case=case, status=409)
        if method != "POST":
            open_ = escalation.status == EscalationStatus.OPEN
            return _page(locale, "confirm" if open_ else "acknowledged", case=case, actions=True)
        return _act(app, session, escalation, staff, form, case)


def _act(
    app: Services,
    session: Any,
    escalation: Escalation,
    staff: Staff,
    form: dict[str, str],
    case: dict[str, str],
) -> Response:
    locale, now = staff.locale.value, app.now()
    action = form.get("action", "ack")
    try:
        if action == "resolve":
            # Stored free text: no control characters (NUL, ESC, ...), one line.
            note = " ".join(strip_controls(form.get("note", "")).split())[:NOTE_MAX]
            if len(note) < 2:
                return _page(locale, "need_note", case=case, actions=True, status=400)
            resolve(session, escalation.id, staff.id, now, note)
            return _page(locale, "resolved", case=case)
        if action == "snooze":
            until = now + SNOOZE
            snooze(session, escalation.id, staff.id, until, now, via="email")
            when = format_datetime(
                until.astimezone(app.zone), UNTIL.get(locale, "full"), locale=babel_locale(locale)
            )
            return _page(locale, "snoozed", case=case, until=when)
        if escalation.status != EscalationStatus.OPEN:
            return _page(locale, "already_ack", case=case, actions=True, status=409)
        acknowledge(session, escalation.id, staff.id, now, via="email")
        return _page(locale, "done", case=case, actions=True)
    except AckError:
        return _page(locale, "already", case=case, status=409)


def _describe(session: Any, escalation: Escalation, staff: Staff) -> dict[str, str]:
    """What is being acknowledged, in the staff member's language: no internal data."""
    locale = staff.locale.value
    texts = i18n.texts(locale)
    match = session.get(Match, escalation.match_id) if escalation.match_id else None
    who = (
        f"{match.child.first_name} · {match.volunteer_family.name}"
        if match is not None
        else texts.gettext("No match")
    )
    since = escalation.created_at.astimezone(_zone(staff))
    return {
        "rule": rule_title(escalation.rule, locale),
        "who": who,
        "since": format_datetime(since, SINCE.get(locale, "medium"), locale=babel_locale(locale)),
        "times": str(max(escalation.evidence_count or 1, 1)),
        "id": str(escalation.id),
    }


def _zone(staff: Staff) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(staff.timezone)


def _page(
    locale: str,
    text: str,
    *,
    case: dict[str, str] | None = None,
    actions: bool = False,
    status: int = 200,
    **values: str,
) -> HTMLResponse:
    locale = page_locale(locale)
    says = _says(i18n.texts(locale), text)
    return HTMLResponse(
        PAGES.get_template("ack.html").render(
            locale=locale,
            dir=i18n.language(locale).direction,
            text=says % values if values else says,
            case=case,
            actions=actions,
        ),
        status_code=status,
    )
