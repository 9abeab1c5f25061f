"""The page behind an alert email's link: what the case is, and acknowledge, snooze or resolve.

The signed token in the link is the credential (it names the case and the staff member); GET
only shows the case and the buttons, since mail scanners follow links; each button is a POST of
a plain form. A POST from another site's page (an ``Origin`` that is not ours) is refused.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from followup.alerts import AckError, acknowledge, check_ack_token, resolve, snooze
from followup.escalations import rule_title
from followup.resolutions import (
    OUTCOMES,
    PAGE_SNOOZE_DAYS,
    SNOOZE_DAYS,
    outcome_of,
    snooze_label,
    snooze_span,
)
from scheduler import i18n
from scheduler.links import secret_for
from store.models import Escalation, EscalationStatus, Match, Staff
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
SINCE = {"da": "d. MMMM y 'kl.' HH:mm", "en": "d MMMM y, HH:mm"}
UNTIL = {"da": "EEEE d. MMMM", "en": "EEEE d MMMM"}


def _says(texts: i18n.Texts, what: str) -> str:
    """What the page says after ``what`` happened (the case was acknowledged, ...)."""
    return {
        "confirm": texts.gettext(
            "Acknowledge once you have taken the case on: your colleagues will know, and no "
            "more reminders are sent. You can also snooze it or resolve it."
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
        "need_outcome": texts.gettext("Please choose how the case ended before resolving it."),
        "bad_day": texts.gettext(
            "Please choose how long to snooze, or a day from tomorrow to %(days)s days ahead."
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
        if not await run_in_threadpool(_signed, app, token):  # checked before the form is read
            return _page("da", "bad", status=403)
        try:  # bounded before parsed
            body = await read_body(request, app.settings.max_form_bytes)
            form = {k: str(v) for k, v in (await parse_form(request, body)).items()}
        except TooLarge:
            return too_large()
        except BadForm:
            return bad_request()
    return await run_in_threadpool(_handle, app, token, request.method, form)


def _signed(app: Services, token: str) -> bool:
    with app.session_factory() as session:
        return check_ack_token(secret_for(session, None), token) is not None


def _handle(app: Services, token: str, method: str, form: dict[str, str]) -> Response:
    with app.session_factory() as session, session.begin():
        ids = check_ack_token(secret_for(session, None), token)
        staff = session.get(Staff, ids[1]) if ids else None
        escalation = session.get(Escalation, ids[0]) if ids else None
        locale = staff.locale.value if staff is not None else "da"
        if ids is None or staff is None or escalation is None:
            return _page(locale, "bad", status=403)
        case = _describe(session, escalation, staff, app.now())
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
            outcome = outcome_of(form.get("outcome", ""))
            if outcome is None:
                return _page(locale, "need_outcome", case=case, actions=True, status=400)
            resolve(session, escalation.id, staff.id, now, form.get("note", ""), outcome)
            return _page(locale, "resolved", case=case)
        if action == "snooze":
            until = _snooze_until(form, now, _zone(staff))
            if until is None:
                days = str(PAGE_SNOOZE_DAYS)
                return _page(locale, "bad_day", case=case, actions=True, status=400, days=days)
            snooze(session, escalation.id, staff.id, until, now, via="email")
            when = format_datetime(
                until.astimezone(_zone(staff)),
                UNTIL.get(locale, "full"),
                locale=babel_locale(locale),
            )
            return _page(locale, "snoozed", case=case, until=when)
        if escalation.status != EscalationStatus.OPEN:
            return _page(locale, "already_ack", case=case, actions=True, status=409)
        acknowledge(session, escalation.id, staff.id, now, via="email")
        return _page(locale, "done", case=case, actions=True)
    except AckError:
        return _page(locale, "already", case=case, status=409)


def _snooze_until(form: dict[str, str], now: datetime, zone: ZoneInfo) -> datetime | None:
    """Until when: a chosen day (the start of it, from tomorrow to 60 days ahead), else one of
    the offered spans (a week when the form names none); None when neither fits."""
    day = form.get("until", "").strip()
    if day:
        try:
            chosen = date.fromisoformat(day)
        except ValueError:
            return None
        today = now.astimezone(zone).date()
        if not today < chosen <= today + timedelta(days=PAGE_SNOOZE_DAYS):
            return None
        return datetime.combine(chosen, time(0), zone).astimezone(UTC)
    span = snooze_span(form.get("days", "7"))
    return now + span if span is not None else None


def _describe(session: Any, escalation: Escalation, staff: Staff, now: datetime) -> dict[str, str]:
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
    today = now.astimezone(_zone(staff)).date()
    return {
        "first_day": (today + timedelta(days=1)).isoformat(),
        "last_day": (today + timedelta(days=PAGE_SNOOZE_DAYS)).isoformat(),
        "rule": rule_title(escalation.rule, locale),
        "who": who,
        "since": format_datetime(since, SINCE.get(locale, "medium"), locale=babel_locale(locale)),
        "times": str(max(escalation.evidence_count or 1, 1)),
        "id": str(escalation.id),
    }


def _zone(staff: Staff) -> ZoneInfo:
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
    texts = i18n.texts(locale)
    says = _says(texts, text)
    spans = [(str(days), snooze_label(texts, days)) for days in SNOOZE_DAYS]
    outcomes = [(outcome.value, texts.gettext(words)) for outcome, words in OUTCOMES.items()]
    return HTMLResponse(
        PAGES.get_template("ack.html").render(
            locale=locale,
            dir=i18n.language(locale).direction,
            text=says % values if values else says,
            case=case,
            actions=actions,
            spans=spans,
            outcomes=outcomes,
        ),
        status_code=status,
    )
