"""Rendering staff pages: one Jinja2 environment, the staff member's language and time zone, and
Danish (or English) dates through Babel.

Templates extend ``staff/base.html`` (the nav bar, the stylesheet). In a template, ``t("key")``
is the word in the staff member's language (``web.staff_words``), ``when(moment)`` a local
date and time, ``day(date)`` a date, ``ago(moment)`` how long ago.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_timedelta
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from web.staff_words import WORDS, word

if TYPE_CHECKING:
    from followup.services import Services


class Viewer(Protocol):
    """Who a page is rendered for (``web.auth.StaffUser``)."""

    @property
    def locale(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def csrf(self) -> str: ...

    def has(self, role: str | None) -> bool: ...


HERE = Path(__file__).parent
PAGES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
BABEL = {"da": "da_DK", "en": "en_GB"}
WHEN = {"da": "d. MMM y 'kl.' HH:mm", "en": "d MMM y, HH:mm"}
DAY = {"da": "EEE d. MMM y", "en": "EEE d MMM y"}

# (path, word key, lowest role) of the nav bar; the other modules' pages join it here.
NAV: list[tuple[str, str, str | None]] = [
    ("/today", "nav_today", None),
    ("/matches", "nav_matches", None),
    ("/outbox", "nav_outbox", None),
    ("/sparring", "nav_sparring", None),
    ("/surveys", "nav_surveys", "coordinator"),
    ("/reports", "nav_reports", None),
    ("/import", "nav_import", "coordinator"),
    ("/sandbox", "nav_sandbox", None),  # only where the sandbox runs (the embedded default)
]


def render(request: Request, template: str, values: dict[str, Any], user: Viewer | None) -> str:
    app: Services = request.app.state.app
    locale = (
        user.locale if user is not None and user.locale in WORDS else values.get("locale", "da")
    )
    if locale not in WORDS:
        locale = "da"
    zone = ZoneInfo(user.timezone) if user is not None else app.zone
    now = app.now()

    def t(key: str, **fill: Any) -> str:
        return word(locale, key, **fill)

    def when(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_datetime(moment.astimezone(zone), WHEN[locale], locale=BABEL[locale])

    def day(value: date | datetime | None, pattern: str = "") -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.astimezone(zone).date()
        return format_date(value, pattern or DAY[locale], locale=BABEL[locale])

    def ago(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_timedelta(
            moment - now, granularity="minute", add_direction=True, locale=BABEL[locale]
        )

    nav = [
        (path, t(key), request.url.path.startswith(path))
        for path, key, role in NAV
        if user is not None and user.has(role) and (path != "/sandbox" or app.sandbox is not None)
    ]
    context = {
        "locale": locale,
        "t": t,
        "when": when,
        "day": day,
        "ago": ago,
        "user": user,
        "nav": nav,
        "csrf": user.csrf if user is not None else "",
        "path": request.url.path,
        **values,
    }
    context["locale"] = locale
    return PAGES.get_template(template).render(context)


_CSS = (HERE / "static" / "staff.css").read_bytes()


async def stylesheet(_: Request) -> Response:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


def static_routes() -> list[Route]:
    return [Route("/static/staff.css", stylesheet)]
