"""Rendering staff pages: one Jinja2 environment, the staff member's language and time zone, and
Danish (or English) dates through Babel.

Templates extend ``staff/base.html`` (the nav bar, the stylesheet). In a template,
``_("...")``, ``ngettext(...)`` and ``pgettext(...)`` are the message catalogs
(:mod:`scheduler.i18n`) in the staff member's language, ``label("status_" + value)`` the word
for a stored value (``web.staff_words``), ``when(moment)`` a local date and time, ``day(date)``
a date, ``ago(moment)`` how long ago, and ``dir`` the language's writing direction.
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

from followup.resolutions import OUTCOMES, SNOOZE_DAYS, snooze_label
from scheduler import i18n
from web.staff_words import labels, reasons

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
i18n.install(PAGES)
BABEL = {"da": "da_DK", "en": "en_GB"}
WHEN = {"da": "d. MMM y 'kl.' HH:mm", "en": "d MMM y, HH:mm"}
DAY = {"da": "EEE d. MMM y", "en": "EEE d MMM y"}


def babel_locale(locale: str) -> str:
    """The Babel locale of a page language: Danish as in Denmark, English as in Britain."""
    return BABEL.get(locale, locale)


def other_language(locale: str) -> tuple[str, str]:
    """The language a page offers to switch to (English from Danish, else Danish), and its
    name in its own words: ("en", "English"), ("da", "Dansk")."""
    other = "en" if locale == "da" else "da"
    name = i18n.language(other).name
    return other, name[:1].upper() + name[1:]


def page_locale(locale: str | None) -> str:
    """``locale`` if it has a message catalog, else Danish."""
    known = {lang.code for lang in i18n.languages()}
    return locale if locale in known else "da"


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
    locale = page_locale(user.locale if user is not None else values.get("locale"))
    zone = ZoneInfo(user.timezone) if user is not None else app.zone
    now = app.now()

    texts = i18n.texts(locale)
    words = labels(texts)

    def label(key: str) -> str:
        return words.get(key, "")

    def reason(text: str) -> str:
        # A reason the scheduler stores is a message id; a provider's own text is not in the
        # catalogs and comes back as it is (gettext("") would be the catalog's header).
        if not text:
            return text
        texts = i18n.texts(locale)
        return reasons(texts).get(text) or texts.gettext(text)

    def when(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_datetime(
            moment.astimezone(zone), WHEN.get(locale, "medium"), locale=babel_locale(locale)
        )

    def day(value: date | datetime | None, pattern: str = "") -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.astimezone(zone).date()
        return format_date(value, pattern or DAY.get(locale, "medium"), locale=babel_locale(locale))

    def ago(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_timedelta(
            moment - now, granularity="minute", add_direction=True, locale=babel_locale(locale)
        )

    nav = [
        (path, label(key), request.url.path.startswith(path))
        for path, key, role in NAV
        if user is not None and user.has(role) and (path != "/sandbox" or app.sandbox is not None)
    ]
    context = {
        "locale": locale,
        "label": label,
        "reason": reason,
        "dir": i18n.language(locale).direction,
        "when": when,
        "day": day,
        "ago": ago,
        "user": user,
        "nav": nav,
        "csrf": user.csrf if user is not None else "",
        "path": request.url.path,
        # What a case card offers: the snoozes and the outcomes a case can be resolved with.
        "snooze_choices": [(d, snooze_label(texts, d)) for d in SNOOZE_DAYS],
        "case_outcomes": [(o.value, texts.gettext(words)) for o, words in OUTCOMES.items()],
        **values,
    }
    context["locale"] = locale
    return PAGES.get_template(template).render(context)


_CSS = (HERE / "static" / "staff.css").read_bytes()


async def stylesheet(_: Request) -> Response:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


def static_routes() -> list[Route]:
    return [Route("/static/staff.css", stylesheet)]
