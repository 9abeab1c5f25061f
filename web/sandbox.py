"""The sandbox pages, for an organisation trying the product on the embedded default:

- ``/sandbox``: the demo's volunteer families, and the clock;
- ``/sandbox/chat/{family}``: chat as the volunteer family with the real bot (text, the
  buttons under its messages, the worry button), its replies shown as a phone would;
- ``/sandbox/inbox``: every SMS, email and voice call the sandbox channels recorded, newest
  first, per recipient;
- the clock control on every page: a day, a week or a month forward, a tick at every moment
  something is due in between.

Server-rendered, no JavaScript, one column that fits a 360-pixel phone. Every route goes through
:func:`_guard` first. What the sandbox does is :class:`followup.sandbox.Sandbox`, handed in by
the composition root as ``Services.sandbox`` (None, and so 404, unless the sandbox runs).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from babel.dates import format_datetime
from dateutil.relativedelta import relativedelta
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from followup.sandbox import Sandbox
from scheduler import i18n
from store.models import (
    Audience,
    Channel,
    ContactPerson,
    Match,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    Staff,
    VolunteerFamily,
)
from store.validation import ascii_digits
from web.auth import csrf_token, gate, page_lang
from web.limits import not_found
from web.staff_render import babel_locale, other_language

if TYPE_CHECKING:
    from followup.services import Services

PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "sandbox"),
    autoescape=select_autoescape(["html"]),
)
i18n.install(PAGES, locale_variable="lang")
ID = re.compile(r"[1-9][0-9]{0,8}", re.ASCII)
INBOX_LIMIT = 400
TEXT_LIMIT = 2000
FORM_LIMIT = 8192
WHEN = {"da": "EEE d. MMM y 'kl.' HH:mm", "en": "EEE d MMM y, HH:mm"}
STEPS = {
    "day": relativedelta(days=1),
    "week": relativedelta(weeks=1),
    "month": relativedelta(months=1),
}


def _channel_names(texts: i18n.Texts) -> dict[str, str]:
    return {
        "sms": texts.pgettext("channel", "SMS"),
        "email": texts.pgettext("channel", "Email"),
        "voice": texts.pgettext("channel", "Call"),
    }


def _roles(texts: i18n.Texts) -> dict[str, str]:
    return {
        "volunteer_family": texts.pgettext("recipient", "volunteer family"),
        "contact_person": texts.pgettext("recipient", "parent/contact person"),
        "staff": texts.pgettext("recipient", "staff member"),
    }


def routes(services: Services) -> list[BaseRoute]:
    """The sandbox's routes; every one goes through :func:`_guard` first."""

    def guarded(
        handler: Callable[[Request, Sandbox], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            refused = await _guard(request)
            if refused is not None:
                return refused
            sandbox = services.sandbox
            assert sandbox is not None  # _guard refuses when there is none
            return await handler(request, sandbox)

        endpoint.__name__ = handler.__name__
        return endpoint

    return [
        Route("/sandbox", guarded(index)),
        Route("/sandbox/inbox", guarded(inbox)),
        Route("/sandbox/clock", guarded(clock), methods=["POST"]),
        Route("/sandbox/chat/{family}", guarded(chat)),
        Route("/sandbox/chat/{family}/join", guarded(join), methods=["POST"]),
        Route("/sandbox/chat/{family}/say", guarded(say), methods=["POST"]),
        Route("/sandbox/chat/{family}/press", guarded(press), methods=["POST"]),
    ]


async def _guard(request: Request) -> Response | None:
    """Who may use the sandbox: a response to send instead, or None to go on.

    Refused (404) unless the sandbox runs (the embedded default); a POST from another site's
    page is refused (403); then the staff login (:func:`web.auth.gate`)."""
    services: Services = request.app.state.app
    if services.sandbox is None:
        return not_found()
    return await gate(request, None)  # signed-in staff only, with the session's CSRF token


def _services(request: Request) -> Services:
    services: Services = request.app.state.app
    return services


# -- language and rendering --------------------------------------------------------------------


def _when(moment: datetime, services: Services, lang: str) -> str:
    local = moment.astimezone(services.zone)
    pattern = WHEN.get(lang, "medium")
    return format_datetime(local, pattern, locale=babel_locale(lang))


def _page(name: str, request: Request, sandbox: Sandbox, **values: Any) -> HTMLResponse:
    services = _services(request)
    lang = page_lang(request)
    texts = i18n.texts(lang)
    other = other_language(lang)
    body = PAGES.get_template(name).render(
        lang=lang,
        dir=i18n.language(lang).direction,
        channel_names=_channel_names(texts),
        now=_when(sandbox.now(), services, lang),
        here=request.url.path,
        csrf=csrf_token(request),
        other_lang=other[0],
        other_name=other[1],
        notice=request.query_params.get("moved_to") and _moved(request, texts),
        when=lambda m: _when(m, services, lang),
        **values,
    )
    return HTMLResponse(
        body,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "same-origin",  # "no-referrer" makes Chromium post Origin: null
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        },
    )


def _moved(request: Request, texts: i18n.Texts) -> str:
    params = request.query_params
    return texts.gettext(
        "Time moved to %(to)s. Ticks: %(ticks)s, messages sent: %(sent)s.",
        to=params.get("moved_to", "")[:40],
        ticks=params.get("ticks", "0")[:6],
        sent=params.get("sent", "0")[:6],
    )


def _back(path: str, lang: str, **params: str) -> str:
    return f"{path}?{urlencode({'lang': lang, **params})}"


async def _form(request: Request) -> dict[str, str] | None:
    """The posted form (small, text fields only), or None when it cannot be read."""
    declared = request.headers.get("content-length")
    if declared is not None and (not ascii_digits(declared) or int(declared) > FORM_LIMIT):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            return None
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return None


def _family_id(request: Request) -> int | None:
    raw = str(request.path_params.get("family", ""))
    return int(raw) if ID.fullmatch(raw) else None


# -- the index ---------------------------------------------------------------------------------


async def index(request: Request, sandbox: Sandbox) -> Response:
    families = await run_in_threadpool(_families, _services(request))
    return _page("index.html", request, sandbox, families=families)


def _families(services: Services) -> list[dict[str, Any]]:
    with services.session_factory() as session:
        matches = session.scalars(
            select(Match)
            .where(Match.status != MatchStatus.ENDED)
            .options(
                joinedload(Match.volunteer_family),
                joinedload(Match.child),
                joinedload(Match.programme),
            )
            .order_by(Match.id)
        ).unique()
        found: dict[int, dict[str, Any]] = {}
        for match in matches:
            family = match.volunteer_family
            entry = found.setdefault(
                family.id,
                {
                    "id": family.id,
                    "name": family.name,
                    "linked": family.telegram_chat_id is not None,
                    "children": [],
                },
            )
            entry["children"].append(f"{match.child.first_name} ({match.programme.name})")
        return list(found.values())


# -- the clock ---------------------------------------------------------------------------------


async def clock(request: Request, sandbox: Sandbox) -> Response:
    form = await _form(request)
    lang = page_lang(request)
    step = STEPS.get((form or {}).get("step", ""))
    back = (form or {}).get("back", "/sandbox")
    if not back.startswith("/sandbox") or "//" in back or "\\" in back:
        back = "/sandbox"
    if step is None:
        return PlainTextResponse(
            i18n.texts(lang).gettext("The form could not be read. Please try again."),
            status_code=400,
        )
    start = sandbox.now().astimezone(_services(request).zone)
    delta = (start + step) - start
    done = await sandbox.advance(delta)
    moved_to = _when(done.end, _services(request), lang)
    return RedirectResponse(
        _back(back, lang, moved_to=moved_to, ticks=str(done.ticks), sent=str(done.sent)),
        status_code=303,
    )


# -- the chat ----------------------------------------------------------------------------------


async def chat(request: Request, sandbox: Sandbox) -> Response:
    family_id = _family_id(request)
    family = await run_in_threadpool(_family, _services(request), family_id)
    if family is None or family_id is None:
        return not_found()
    chat_id = sandbox.chat_id(family_id)
    linked = family["chat_id"] == chat_id
    shown = await run_in_threadpool(sandbox.chat, chat_id) if linked else None
    return _page("chat.html", request, sandbox, family=family, linked=linked, chat=shown)


def _family(services: Services, family_id: int | None) -> dict[str, Any] | None:
    if family_id is None:
        return None
    with services.session_factory() as session:
        family = session.get(VolunteerFamily, family_id)
        if family is None:
            return None
        return {
            "id": family.id,
            "name": family.name,
            "chat_id": family.telegram_chat_id,
            "lang": family.locale.value,  # the bot speaks the family's language
        }


async def join(request: Request, sandbox: Sandbox) -> Response:
    family_id = _family_id(request)
    if family_id is None or await run_in_threadpool(_family, _services(request), family_id) is None:
        return not_found()
    await sandbox.join(family_id)
    return RedirectResponse(
        _back(f"/sandbox/chat/{family_id}", page_lang(request)), status_code=303
    )


async def say(request: Request, sandbox: Sandbox) -> Response:
    family_id = _family_id(request)
    form = await _form(request)
    lang = page_lang(request)
    if family_id is None:
        return not_found()
    if form is None:
        return PlainTextResponse(
            i18n.texts(lang).gettext("The form could not be read. Please try again."),
            status_code=400,
        )
    text = form.get("text", "").strip()
    if len(text) > TEXT_LIMIT:
        return PlainTextResponse(
            i18n.texts(lang).gettext("The message is too long (at most 2000 characters)."),
            status_code=400,
        )
    if text:
        await sandbox.say(sandbox.chat_id(family_id), text)
    return RedirectResponse(_back(f"/sandbox/chat/{family_id}", lang) + "#end", status_code=303)


async def press(request: Request, sandbox: Sandbox) -> Response:
    family_id = _family_id(request)
    form = await _form(request)
    lang = page_lang(request)
    if family_id is None:
        return not_found()
    raw_id = (form or {}).get("message", "")
    data = (form or {}).get("data", "")
    if form is None or not ID.fullmatch(raw_id) or not 1 <= len(data.encode()) <= 64:
        return PlainTextResponse(
            i18n.texts(lang).gettext("The form could not be read. Please try again."),
            status_code=400,
        )
    await sandbox.press(sandbox.chat_id(family_id), int(raw_id), data)
    return RedirectResponse(_back(f"/sandbox/chat/{family_id}", lang) + "#end", status_code=303)


# -- the inbox ---------------------------------------------------------------------------------

RECORDED = (Channel.SMS, Channel.EMAIL, Channel.VOICE)
DONE = (OutboxStatus.SENT, OutboxStatus.DELIVERED)


async def inbox(request: Request, sandbox: Sandbox) -> Response:
    lang = page_lang(request)
    wanted = request.query_params.get("channel")
    channels = tuple(c for c in RECORDED if c.value == wanted) or RECORDED
    people = await run_in_threadpool(_inbox, _services(request), channels, lang)
    return _page("inbox.html", request, sandbox, people=people, channel=wanted or "")


def _inbox(services: Services, channels: tuple[Channel, ...], lang: str) -> list[dict[str, Any]]:
    with services.session_factory() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.sandbox.is_(True),
                OutboxMessage.channel.in_(channels),
                OutboxMessage.status.in_(DONE),
            )
            .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
            .limit(INBOX_LIMIT)
        ).all()
        names = _names(session, rows)
        people: dict[tuple[str, int], dict[str, Any]] = {}
        for row in rows:
            key = (row.audience.value, row.recipient_id)
            person = people.setdefault(
                key,
                {
                    "name": names.get(key, "?"),
                    "role": _roles(i18n.texts(lang)).get(row.audience.value, ""),
                    "messages": [],
                },
            )
            person["messages"].append(
                {
                    "channel": row.channel.value,
                    "label": _channel_names(i18n.texts(lang)).get(row.channel.value, ""),
                    "at": row.sent_at or row.due_at,
                    "subject": row.subject,
                    "body": row.body or "",
                    "kind": row.kind,
                    "lang": row.locale.value,  # the message's own language
                }
            )
        return list(people.values())


def _names(session: Any, rows: Sequence[OutboxMessage]) -> dict[tuple[str, int], str]:
    wanted: dict[str, set[int]] = {}
    for row in rows:
        wanted.setdefault(row.audience.value, set()).add(row.recipient_id)
    names: dict[tuple[str, int], str] = {}
    models: dict[str, Any] = {
        Audience.VOLUNTEER_FAMILY.value: VolunteerFamily,
        Audience.CONTACT_PERSON.value: ContactPerson,
        Audience.STAFF.value: Staff,
    }
    for audience, ids in wanted.items():
        model = models.get(audience)
        if model is None:
            continue
        for found in session.scalars(select(model).where(model.id.in_(ids))):
            names[(audience, found.id)] = found.name
    return names
