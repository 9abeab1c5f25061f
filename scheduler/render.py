"""Render a message template for one channel and locale.

Templates live in ``templates/<template>/``, one per channel for every language:

- ``sms.j2``, ``telegram.j2``, ``voice.j2``: plain text;
- ``email.subject.j2``, ``email.j2`` (plain text) and ``email.html.j2`` (HTML) for email.

Their words come from the message catalogs (:mod:`scheduler.i18n`): ``{{ _("Hello
%(name)s", name=recipient.name) }}``, ``ngettext`` and ``pgettext``, in the language of the
context's ``locale``. A template written for one language only (``sms.da.j2``) is still found,
and wins over the shared one for that language.

Only ``.html.j2`` files are autoescaped: a child's name such as ``<b>Ali & Co</b>`` is escaped in
the HTML part and left as it is in SMS, Telegram and the plain-text part, where escaping would
show ``&amp;`` to the reader. Undefined variables raise (``StrictUndefined``), so a typo in a
template fails in the tests instead of sending a message with a hole in it.

Filters and globals (all follow the context's ``locale``, "da" or "en"):

- ``date(value, format="long")``: a date or datetime through Babel; ``"full"`` gives
  "onsdag den 24. december 2025", ``"day"`` the same without the year, ``"day_month"`` the short
  "24. dec." (da) or "24 Dec" (en); other values are Babel patterns;
- ``time(value)``: "19:00";
- ``weekday(n)``: the weekday name for 0 = Monday .. 6 = Sunday ("mandag", "Monday");
- ``possessive(name)``: "Barn A" -> "Barn As" (da) or "Barn A's" (en);
- ``phone(number)``: "20 12 34 01" for a Danish number, international format otherwise;
- ``direction()``: "ltr" or "rtl", the context language's writing direction (for ``dir=``);
- ``staff_word(to="family")``: the programme's word for its staff member as the reader says it,
  "jeres kontaktperson i Red Barnet", "din procesleder" (:func:`scheduler.i18n.staff_title`;
  ``to`` is "family" or "parent"). It reads ``programme.staff_title`` from the context.

An organisation's own templates (``templates/<template>/<channel>[.<lang>].j2`` in its texts
folder, ``VENSKAB_TEXTS_DIR``) are looked up before the shipped ones, file by file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime as DateTime
from datetime import time as Time
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, get_day_names

from scheduler import i18n, sms

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

CHANNELS = ("sms", "telegram", "voice", "email")
BABEL_LOCALES = {"da": "da_DK", "en": "en_GB"}
# Dates without the year, for messages about the coming days.
_DAY_PATTERNS = {"da_DK": "EEEE 'den' d. MMMM", "en_GB": "EEEE d MMMM"}
_NAME = re.compile(r"^[a-z0-9_]{1,64}$")
_LOCALE = re.compile(r"^[a-z]{2}$")
_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


@dataclass(frozen=True)
class Rendered:
    body: str  # SMS/Telegram/voice text, or the email's plain-text part
    subject: str | None = None  # email only
    html: str | None = None  # email only


class TemplateMissing(LookupError):
    """No template file for this template, channel and locale; the message names the path."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no message template at {path}")
        self.path = path


def _babel_locale(locale: Any) -> str:
    if not isinstance(locale, str) or not locale:
        raise ValueError(f"expected a locale such as 'da' or 'en' in the context, got {locale!r}")
    return BABEL_LOCALES.get(locale, locale)


def _current_locale(context: jinja2.runtime.Context) -> str:
    return _babel_locale(context.get("locale") or i18n.rendering_language())


@lru_cache(maxsize=32)
def _parsed(locale: str) -> Locale:
    """The Babel locale for a name, parsed once: Babel parses a name string on every call."""
    return Locale.parse(locale)


@jinja2.pass_context
def _date(context: jinja2.runtime.Context, value: Date | DateTime, format: str = "long") -> str:
    locale = _current_locale(context)
    if not isinstance(value, Date):
        raise TypeError(f"date() expects a date or datetime, got {value!r}")
    if format == "day":
        format = _DAY_PATTERNS.get(locale, "EEEE d MMMM")
    elif format == "day_month":
        # "3. mar." (da), "3 Mar" (en): the language's own short day and month.
        return format_skeleton("MMMd", value, locale=_parsed(locale))
    # An aware datetime keeps its own zone: the dispatcher already gives it in the recipient's.
    return format_date(value, format, locale=_parsed(locale))


@jinja2.pass_context
def _time(context: jinja2.runtime.Context, value: DateTime | Time) -> str:
    if not isinstance(value, DateTime | Time):
        raise TypeError(f"time() expects a datetime or time, got {value!r}")
    # "HH:mm" in both locales: Danish CLDR would write "19.00", which readers of SMS and
    # Telegram take for a date or a price less readily than "19:00".
    return format_time(value, "HH:mm", locale=_parsed(_current_locale(context)))


@jinja2.pass_context
def _weekday(context: jinja2.runtime.Context, number: int) -> str:
    if not isinstance(number, int) or not 0 <= number <= 6:
        raise ValueError(f"weekday() expects 0 (Monday) to 6 (Sunday), got {number!r}")
    return str(get_day_names("wide", locale=_parsed(_current_locale(context)))[number])


@jinja2.pass_context
def _possessive(context: jinja2.runtime.Context, name: str) -> str:
    locale = _current_locale(context)
    if locale.startswith("da"):
        # Danish: an apostrophe only after s, x and z ("Lukas'", "Barn As").
        return f"{name}'" if name[-1:].lower() in {"s", "x", "z"} else f"{name}s"
    return f"{name}'" if name[-1:].lower() == "s" else f"{name}'s"


@jinja2.pass_context
def _direction(context: jinja2.runtime.Context) -> str:
    return str(_parsed(_current_locale(context)).text_direction)


@jinja2.pass_context
def _staff_word(context: jinja2.runtime.Context, to: str = "family") -> str:
    programme = context.get("programme") or {}
    title = programme.get("staff_title") or "procesleder"
    texts = i18n.texts(str(context.get("locale")))
    return i18n.staff_title(texts, title, programme.get("organisation", ""), to=to)


def _autoescape(name: str | None) -> bool:
    # An explicit rule instead of select_autoescape(["html"]): that one looks at the final
    # extension only, so it would not escape "email.da.html.j2" at all. Only *.html.j2 is HTML.
    return name is not None and name.endswith(".html.j2")


def override_root() -> Path | None:
    """The organisation's own templates (``templates/`` in the texts folder), when it has any.

    They are looked up before the shipped ones, file by file: ``templates/visit_prompt/sms.j2``
    there replaces the shipped SMS of the visit prompt and nothing else.
    """
    own = i18n.overrides_dir()
    if own is None or not (own / "templates").is_dir():
        return None
    return own / "templates"


def environment(directory: Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment for ``directory`` (default :data:`TEMPLATES_DIR`), built once.

    The organisation's own templates (:func:`override_root`) come first.
    """
    return _environment(directory or TEMPLATES_DIR, override_root())


@lru_cache(maxsize=8)
def _environment(directory: Path, own: Path | None) -> jinja2.Environment:
    shipped = jinja2.FileSystemLoader(directory)
    loader: jinja2.BaseLoader = (
        shipped if own is None else jinja2.ChoiceLoader([jinja2.FileSystemLoader(own), shipped])
    )
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=_autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        # Read once per process: checking each file's mtime at every render would release the
        # GIL thousands of times a second from the dispatcher's thread and starve the loop.
        auto_reload=False,
    )
    helpers = {
        "date": _date,
        "time": _time,
        "weekday": _weekday,
        "possessive": _possessive,
        "phone": i18n.phone,
        "direction": _direction,
        "staff_word": _staff_word,
    }
    env.filters.update(helpers)
    env.globals.update(helpers)
    i18n.install(env)
    return env


def _roots(directory: Path | None) -> list[Path]:
    """Where template files are looked for, the organisation's own first."""
    own = override_root()
    return ([own] if own is not None else []) + [directory or TEMPLATES_DIR]


def template_files(
    template: str, channel: str, locale: str, directory: Path | None = None
) -> dict[str, str]:
    """The template names (relative to the templates directory) one message is made of.

    Keys: ``body`` always, ``subject`` and ``html`` for email. Each is the shared template
    (``sms.j2``) unless a template for this language alone exists (``sms.da.j2``).
    """
    if not _NAME.match(template):
        raise ValueError(f"template names use a-z, 0-9 and _, got {template!r}")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    if not _LOCALE.match(locale):
        raise ValueError(f"expected a two-letter locale such as 'da' or 'en', got {locale!r}")
    roots = _roots(directory)
    if channel == "email":
        parts = {"subject": "email.subject", "body": "email", "html": "email"}
        suffixes = {"subject": ".j2", "body": ".j2", "html": ".html.j2"}
    else:
        parts, suffixes = {"body": channel}, {"body": ".j2"}
    names = {}
    for key, stem in parts.items():
        own = f"{template}/{stem}.{locale}{suffixes[key]}"
        shared = f"{template}/{stem}{suffixes[key]}"
        # The organisation's file wins over a shipped one, its language's over the shared one;
        # without any, the language's name (render then says which file is missing).
        found = [n for root in roots for n in (own, shared) if (root / n).is_file()]
        names[key] = found[0] if found else own
    return names


def _find(name: str, directory: Path | None) -> Path | None:
    return next((root / name for root in _roots(directory) if (root / name).is_file()), None)


def available(template: str, channel: str, locale: str, directory: Path | None = None) -> bool:
    """True when every file the message needs exists (for email: subject, text and HTML)."""
    try:
        names = template_files(template, channel, locale, directory)
    except ValueError:
        return False
    return all(_find(name, directory) is not None for name in names.values())


def _tidy(text: str) -> str:
    text = _TRAILING_SPACE.sub("\n", text.replace("\r\n", "\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


@dataclass(frozen=True)
class Templates:
    """The compiled templates of one message (template, channel and locale), found once.

    The dispatcher renders hundreds of messages with the same few templates in a batch; looking
    the files up and fetching the compiled templates once per batch instead of once per message
    saves the file checks and the loader's freshness checks for each message. A template edited
    on disk is picked up by the next batch.
    """

    root: Path
    channel: str
    locale: str
    names: dict[str, str]
    compiled: dict[str, jinja2.Template]


def load(template: str, channel: str, locale: str, directory: Path | None = None) -> Templates:
    """Find and compile the templates ``render`` would use; raises the same errors as it."""
    root = directory or TEMPLATES_DIR
    names = template_files(template, channel, locale, directory)
    for name in names.values():
        if _find(name, directory) is None:
            raise TemplateMissing(root / name)
    env = environment(directory)
    compiled: dict[str, jinja2.Template] = {}
    for key, name in names.items():
        try:
            compiled[key] = env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            raise TemplateMissing(root / (exc.name or name)) from exc
    return Templates(root, channel, locale, names, compiled)


def render_loaded(templates: Templates, context: Mapping[str, Any]) -> Rendered:
    """Render templates found by :func:`load` with ``context``, exactly as :func:`render` does."""
    channel = templates.channel
    values = {**context, "locale": templates.locale}

    def run(key: str) -> str:
        try:
            with i18n.rendering(templates.locale):
                return templates.compiled[key].render(values)
        except jinja2.TemplateNotFound as exc:  # e.g. an {% extends %} target is missing
            raise TemplateMissing(templates.root / (exc.name or templates.names[key])) from exc

    body = _tidy(run("body"))
    if channel == "sms":
        body = sms.normalise(body)
    if channel != "email":
        return Rendered(body=body)
    # One line: a line break in a header would start a new header.
    subject = " ".join(run("subject").split())
    return Rendered(body=body, subject=subject, html=_tidy(run("html")))


def render(
    template: str,
    channel: str,
    locale: str,
    context: Mapping[str, Any],
    directory: Path | None = None,
) -> Rendered:
    """Render ``template`` for ``channel`` in ``locale`` with ``context``.

    The text is trimmed, runs of blank lines are collapsed to one, and an SMS body is
    normalised to GSM-7 (:func:`scheduler.sms.normalise`). An email subject is one line.

    Raises :class:`TemplateMissing` naming the missing file, ``jinja2.UndefinedError`` when a
    template uses a variable the context does not have, and ``ValueError`` for a malformed
    template, channel or locale name.
    """
    return render_loaded(load(template, channel, locale, directory), context)


_TITLES = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)


@lru_cache(maxsize=256)
def _title_template(text: str) -> jinja2.Template:
    return _TITLES.from_string(text)


def render_title(text: str, variables: Mapping[str, Any]) -> str:
    """A touchpoint's title for a task or a plan line; titles may use ``{{ sibling }}`` and
    ``{{ child }}`` (e.g. the half-price invoice)."""
    if "{" not in text:
        return text
    return _title_template(text).render(**variables)
