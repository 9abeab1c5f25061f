"""Every word a person reads comes from a message catalog: gettext through Babel.

One catalog per language, in the standard gettext format:
``locale/<language>/LC_MESSAGES/messages.po``. English is the source language: a message id *is*
the English text, so the English catalog may leave a message untranslated and English readers
get the id. ``make catalogs`` extracts the ids from the Python code and the templates
(``babel.cfg``) into ``locale/messages.pot`` and updates every catalog; a translator then fills
in the empty ``msgstr`` entries. ``tests/test_catalogs.py`` fails when a catalog lacks a message
or a translation's placeholders differ from the id's.

In Python, ask for the texts of one language and use the standard gettext names, so that
``pybabel extract`` finds the ids::

    texts = i18n.texts(locale)
    texts.gettext("Thank you, %(name)s.", name=family.contact_name)
    texts.ngettext("%(num)d visit", "%(num)d visits", count)
    texts.pgettext("visit status", "Moved")

Placeholders are Python's named ``%(name)s`` form; ``ngettext`` fills ``num`` itself. An id kept
in a table (a label per rule, say) is marked with :func:`N_` where it is written and translated
where it is read: ``texts.gettext(LABELS[rule])``.

Templates (messages in ``templates/`` and the web pages) use Jinja2's i18n extension in its
"new style": ``{{ _("Hello %(name)s", name=recipient.name) }}``, ``{{ ngettext(...) }}``,
``{{ pgettext(...) }}``; :func:`install` adds them to an environment. The template's language is
read from the render context (``locale`` by default), so one environment serves every language.

Only ids of messages a person reads belong here. Log lines, exceptions meant for developers and
data keys stay plain strings.
"""

from __future__ import annotations

import contextvars
import gettext as _gettext
import io
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import phonenumbers
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from markupsafe import Markup

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"
# The catalog header saying whether a native speaker has read the catalog. A language whose
# catalog says "no" is off until an organisation turns it on (see :func:`enabled_languages`).
REVIEWED_HEADER = "X-Reviewed-By-Native-Speaker"

_lock = threading.Lock()
_overrides: Path | None = None
# The catalogs not yet reviewed that the organisation turned on (``VENSKAB_LANGUAGES``).
_switched_on: tuple[str, ...] = ()


def N_(message: str) -> str:
    """Mark ``message`` as a message id for extraction; translate it where it is read."""
    return message


@dataclass(frozen=True)
class Language:
    code: str  # "da"
    name: str  # the language's own name: "dansk", "English", "العربية"
    direction: str  # "ltr" or "rtl"
    reviewed: bool  # read by a native speaker (the catalog header says so)


def catalog_path(code: str, root: Path | None = None) -> Path:
    return (root or LOCALE_DIR) / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, abort_invalid=True)


def _reviewed(path: Path) -> bool:
    # Read the header lines only: the catalogs are large and languages() runs at start-up.
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("msgid") and line.strip() != 'msgid ""':
                break
            if REVIEWED_HEADER.lower() in line.lower():
                return "yes" in line.split(":", 1)[1].lower()
    return True


@lru_cache(maxsize=1)
def languages() -> tuple[Language, ...]:
    """Every language with a catalog, the source language first."""
    found = {SOURCE_LANGUAGE}
    if LOCALE_DIR.is_dir():
        found |= {p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    result = []
    for code in sorted(found, key=lambda c: (c != SOURCE_LANGUAGE, c)):
        locale = Locale.parse(code)
        path = catalog_path(code)
        reviewed = code == SOURCE_LANGUAGE or not path.is_file() or _reviewed(path)
        result.append(
            Language(
                code=code,
                name=locale.get_display_name(locale) or code,
                direction=locale.text_direction,
                reviewed=reviewed,
            )
        )
    return tuple(result)


def language(code: str) -> Language:
    for lang in languages():
        if lang.code == code:
            return lang
    raise LookupError(f"no message catalog for language {code!r}")


def enabled_languages(switched_on: Iterable[str] | None = None) -> tuple[str, ...]:
    """The languages people may be given: every reviewed catalog, plus those ``switched_on``.

    ``switched_on`` is the organisation's explicit choice (the setting that turns on a catalog
    not yet read by a native speaker); without it, what :func:`configure` was given. A name
    without a catalog is ignored here; settings validation refuses it with a clear message.
    """
    wanted = set(_switched_on if switched_on is None else switched_on)
    return tuple(lang.code for lang in languages() if lang.reviewed or lang.code in wanted)


def configure(overrides: Path | None, languages: Iterable[str] = ()) -> None:
    """Use the organisation's own wording in ``overrides`` (``<language>.po`` files and
    ``templates/``) from now on, and offer the not yet reviewed catalogs in ``languages`` too."""
    global _overrides, _switched_on
    with _lock:
        _overrides = overrides
        _switched_on = tuple(languages)
        texts.cache_clear()


def overrides_dir() -> Path | None:
    return _overrides


def _compiled(path: Path) -> Translations:
    """The catalog at ``path`` as gettext translations, compiled to a ``.mo`` file beside it.

    The ``.mo`` file is a cache (not in git): rebuilt when the ``.po`` file is newer, written
    atomically so that parallel processes never read half a file, and skipped where the folder is
    read-only.
    """
    mo = path.with_suffix(".mo")
    try:
        if mo.is_file() and mo.stat().st_mtime >= path.stat().st_mtime:
            with mo.open("rb") as fh:
                return Translations(fh, domain=DOMAIN)
    except OSError:
        pass
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(path), use_fuzzy=False)
    data = buffer.getvalue()
    try:
        tmp = mo.with_name(f".{mo.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_bytes(data)
        os.replace(tmp, mo)
    except OSError:
        pass
    return Translations(io.BytesIO(data), domain=DOMAIN)


class Texts:
    """The texts of one language: gettext's functions with ``%(name)s`` values filled in."""

    def __init__(self, code: str, translations: _gettext.NullTranslations) -> None:
        self.code = code
        self._t = translations

    def gettext(self, message: str, /, **values: Any) -> str:
        text = self._t.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, /, **values: Any) -> str:
        values.setdefault("num", n)
        return self._t.ngettext(singular, plural, n) % values

    def pgettext(self, context: str, message: str, /, **values: Any) -> str:
        text = self._t.pgettext(context, message)
        return text % values if values else text

    def npgettext(self, context: str, singular: str, plural: str, n: int, /, **values: Any) -> str:
        values.setdefault("num", n)
        return self._t.npgettext(context, singular, plural, n) % values

    # The raw lookups, for Jinja2 (which fills the values itself).
    def raw(self) -> _gettext.NullTranslations:
        return self._t


@lru_cache(maxsize=16)
def texts(code: str) -> Texts:
    """The texts of language ``code``: its catalog, with the organisation's overrides on top.

    The source language without a catalog falls back to the ids themselves. An unknown language
    raises ``LookupError``: a person's language is checked where it is stored.
    """
    path = catalog_path(code)
    translations: _gettext.NullTranslations
    if path.is_file():
        translations = _compiled(path)
    elif code == SOURCE_LANGUAGE:
        translations = _gettext.NullTranslations()
    else:
        raise LookupError(f"no message catalog for language {code!r} (expected {path})")
    override = _overrides / f"{code}.po" if _overrides is not None else None
    if override is not None and override.is_file():
        own = _compiled_override(override)
        if isinstance(translations, Translations):
            translations = translations.merge(own)
        else:
            own.add_fallback(translations)
            translations = own
    return Texts(code, translations)


def _compiled_override(path: Path) -> Translations:
    # Overrides are small and may live in a read-only folder: compile them in memory.
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(path), use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


# The language of the message being rendered, for macros imported without the render context
# ({% from "layout/words.j2" import cadence %}: Jinja2 caches such a module instead of running it
# again for every message). scheduler.render sets it around each rendering.
_rendering: contextvars.ContextVar[str | None] = contextvars.ContextVar("rendering", default=None)


@contextmanager
def rendering(code: str) -> Iterator[None]:
    """Render in language ``code`` where a template's context does not say (see above)."""
    token = _rendering.set(code)
    try:
        yield
    finally:
        _rendering.reset(token)


def rendering_language() -> str | None:
    return _rendering.get()


def install(env: jinja2.Environment, locale_variable: str = "locale") -> None:
    """Add ``_``, ``gettext``, ``ngettext``, ``pgettext`` and ``npgettext`` to ``env``.

    Each call looks up the language in the render context's ``locale_variable``; the values are
    filled in (and escaped in autoescaped templates) by Jinja2's new-style gettext.
    """
    env.add_extension("jinja2.ext.i18n")

    def raw(context: jinja2.runtime.Context) -> _gettext.NullTranslations:
        code = context.get(locale_variable) or _rendering.get()
        if not isinstance(code, str):
            raise ValueError(f"the template context has no language in {locale_variable!r}")
        return texts(code).raw()

    # Jinja2's new-style callables, written out here: its own wrap ours in two more
    # context-passing calls per text, a third of the time a message takes to render.
    def finish(context: jinja2.runtime.Context, text: str, variables: dict[str, Any]) -> str:
        if context.eval_ctx.autoescape:
            return Markup(text) % variables  # escapes the values, as Jinja2 does
        return text % variables

    @jinja2.pass_context
    def gettext(__context: jinja2.runtime.Context, __string: str, **variables: Any) -> str:
        return finish(__context, raw(__context).gettext(__string), variables)

    @jinja2.pass_context
    def ngettext(
        __context: jinja2.runtime.Context,
        __singular: str,
        __plural: str,
        __num: int,
        **variables: Any,
    ) -> str:
        variables.setdefault("num", __num)
        text = raw(__context).ngettext(__singular, __plural, __num)
        return finish(__context, text, variables)

    @jinja2.pass_context
    def pgettext(
        __context: jinja2.runtime.Context, __string_ctx: str, __string: str, **variables: Any
    ) -> str:
        variables.setdefault("context", __string_ctx)
        return finish(__context, raw(__context).pgettext(__string_ctx, __string), variables)

    @jinja2.pass_context
    def npgettext(
        __context: jinja2.runtime.Context,
        __string_ctx: str,
        __singular: str,
        __plural: str,
        __num: int,
        **variables: Any,
    ) -> str:
        variables.setdefault("context", __string_ctx)
        variables.setdefault("num", __num)
        text = raw(__context).npgettext(__string_ctx, __singular, __plural, __num)
        return finish(__context, text, variables)

    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda m: m,
        ngettext=lambda s, p, n: s if n == 1 else p,
        newstyle=True,
    )
    env.globals.update(
        _=gettext, gettext=gettext, ngettext=ngettext, pgettext=pgettext, npgettext=npgettext
    )


def staff_title(texts: Texts, title: str, organisation: str = "", *, to: str = "family") -> str:
    """The programme's word for the staff member who follows a match, as "your ...".

    ``title`` is a programme's ``staff_title`` (procesleder, kontaktperson, aktivitetsleder,
    frivilligkoordinator); ``to`` is "family" (Danish "jeres") or "parent" (Danish "din").
    ``texts.gettext("Ask %(staff)s for a new link.", staff=staff_title(texts, ...))``.
    """
    if to not in {"family", "parent"}:
        raise ValueError(f"staff_title(to=...) is 'family' or 'parent', got {to!r}")
    if to == "family":
        if title == "kontaktperson":
            return texts.pgettext(
                "to a family", "your contact person at %(organisation)s", organisation=organisation
            )
        if title == "aktivitetsleder":
            return texts.pgettext("to a family", "your activity leader")
        if title == "frivilligkoordinator":
            return texts.pgettext("to a family", "your volunteer coordinator")
        return texts.pgettext("to a family", "your case lead")
    if title == "kontaktperson":
        return texts.pgettext(
            "to a parent", "your contact person at %(organisation)s", organisation=organisation
        )
    if title == "aktivitetsleder":
        return texts.pgettext("to a parent", "your activity leader")
    if title == "frivilligkoordinator":
        return texts.pgettext("to a parent", "your volunteer coordinator")
    return texts.pgettext("to a parent", "your case lead")


def staff_noun(texts: Texts, title: str) -> str:
    """The title alone, as a label: "Procesleder", "Kontaktperson" ..."""
    if title == "kontaktperson":
        return texts.pgettext("staff title", "Contact person")
    if title == "aktivitetsleder":
        return texts.pgettext("staff title", "Activity leader")
    if title == "frivilligkoordinator":
        return texts.pgettext("staff title", "Volunteer coordinator")
    return texts.pgettext("staff title", "Case lead")


@lru_cache(maxsize=4096)
def phone(number: str | None) -> str:
    """A phone number as people write it: "20 12 34 01" for a Danish number, else international.

    Stored numbers are E.164 ("+4520123401"); anything that does not parse is shown as it is.
    """
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, "DK")
    except phonenumbers.NumberParseException:
        return number
    if parsed.country_code == 45:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
