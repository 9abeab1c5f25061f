"""The parent's page for a volunteer family's greeting: ``/m/<token>`` shows the greeting and,
when it carries one, the photo at ``/m/<token>/photo``. The link comes by SMS (by email the
photo is attached instead); see :mod:`followup.moments`.

The token is the credential (a MAC over the moment and the contact person, never stored), so
the pages use no cookies and change nothing. A wrong, foreign or expired link, or one whose
photo or text has been erased, gets the same neutral 404 page. Nothing is cached or indexed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from followup import moments
from scheduler import i18n
from scheduler.links import secret_for
from web.limits import lookup_refused

if TYPE_CHECKING:
    from followup.services import Services

PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
HEADERS = {
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
}
LANGUAGES = ("da", "en")


def moment_routes(services: Services) -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        if (throttled := lookup_refused(request)) is not None:
            return throttled
        token = str(request.path_params["token"])
        found = await run_in_threadpool(_page, services, token)
        if found is None:
            return _gone(request)
        return HTMLResponse(PAGES.get_template("moment.html").render(**found), headers=HEADERS)

    async def photo(request: Request) -> Response:
        if (throttled := lookup_refused(request)) is not None:
            return throttled
        token = str(request.path_params["token"])
        found = await run_in_threadpool(_photo, services, token)
        if found is None:
            return _gone(request)
        data, kind = found
        return Response(data, media_type=kind, headers={**HEADERS, "Content-Disposition": "inline"})

    return [
        Route("/m/{token}", page, methods=["GET", "HEAD"]),
        Route("/m/{token}/photo", photo, methods=["GET", "HEAD"]),
    ]


def _gone(request: Request) -> Response:
    lang = "en" if request.query_params.get("lang") == "en" else "da"
    texts = i18n.texts(lang)
    title = texts.gettext("The link does not work")
    gone = texts.gettext(
        "The link has expired or does not work. Greetings and photos are kept for 30 days "
        "only. If you have questions, please contact us."
    )
    body = PAGES.get_template("moment.html").render(
        lang=lang, dir=i18n.language(lang).direction, page_title=title, title=title, gone=gone
    )
    return HTMLResponse(body, status_code=404, headers=HEADERS)


def _page(services: Services, token: str) -> dict[str, Any] | None:
    now = services.now()
    with services.session_factory() as session:
        shown = moments.for_token(session, secret_for(session, services.link_secret), token, now)
        if shown is None:
            return None
        lang = shown.contact.locale.value if shown.contact.locale.value in LANGUAGES else "da"
        texts = i18n.texts(lang)
        child = _possessive(shown.child, lang)
        until = shown.moment.photo_until
        assert until is not None
        local: datetime = until.astimezone(ZoneInfo(shown.contact.timezone))
        family = shown.family_name
        title = texts.gettext("A greeting from %(family)s", family=family)
        day = format_date(local.date(), "long", locale="da_DK" if lang == "da" else "en_GB")
        return {
            "lang": lang,
            "dir": i18n.language(lang).direction,
            "page_title": title,
            "title": title,
            "intro": texts.gettext(
                "To %(contact)s: %(family)s, %(child)s volunteer family, has sent you this "
                "greeting.",
                contact=shown.contact.name,
                family=family,
                child=child,
            ),
            "text": shown.moment.text,
            "text_lang": shown.family_locale,
            "photo_url": f"/m/{token}/photo" if shown.photo else None,
            "photo_alt": texts.gettext("The photo from %(family)s", family=family),
            "until": texts.gettext(
                "The link works until %(date)s. After that we delete the photo.", date=day
            ),
        }


def _photo(services: Services, token: str) -> tuple[bytes, str] | None:
    now = services.now()
    with services.session_factory() as session:
        shown = moments.for_token(session, secret_for(session, services.link_secret), token, now)
        if shown is None or not shown.photo or shown.moment.photo_type is None:
            return None
        data = moments.photo_bytes(session, shown.moment)
        return (data, shown.moment.photo_type) if data is not None else None


def _possessive(name: str, lang: str) -> str:
    if lang == "da":
        return f"{name}'" if name[-1:].lower() in {"s", "x", "z"} else f"{name}s"
    return f"{name}'" if name[-1:].lower() == "s" else f"{name}'s"
