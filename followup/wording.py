"""An organisation's own wording, without code: check it, and round-trip it through a spreadsheet.

The texts folder (``VENSKAB_TEXTS_DIR``) holds

- catalog overrides, one per language: ``da.po``, ``en.po``, ``ar.po`` (standard gettext files;
  only the messages the organisation words differently), merged over the shipped catalogs by
  :func:`scheduler.i18n.texts`;
- template overrides: ``templates/<template>/<file>`` replaces the shipped file of the same name
  (``templates/visit_prompt/sms.j2``; ``sms.da.j2`` for one language only), see
  :mod:`scheduler.render`.

:func:`followup.wording_check.check` reads the folder and returns one :class:`Problem` per thing
that is wrong. :func:`followup.wording_sheet.export_csv` writes every message id with its context
and its text in each language as a spreadsheet-friendly CSV;
:func:`followup.wording_sheet.import_csv` reads such a file back and writes the override
catalogs, or nothing at all when any row is wrong. This module holds what both share, and what
an SMS in a language costs. Every sentence meant for the coordinator comes
from the catalogs in the language they asked for (``texts``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import jinja2
import jinja2.ext
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from scheduler import i18n, render, sms
from scheduler.i18n import N_

Key = tuple[str, str | None]  # (message id, context)

# %(name)s, %(num)d; a literal %% is no placeholder.
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%%")
# Stand-ins for the values an SMS line is filled with, long but realistic, to size it.
_STAND_INS = {
    "name": "Familien Holm-Andersen",
    "child": "Barn Alexandra",
    "organisation": "Red Barnet",
    "programme": "Familien i Fokus",
    "weekday": "onsdag",
    "staff": "jeres kontaktperson i Red Barnet",
    "url": "https://venskab.example.org/s/abcdefgh12345678",
    "num": "12",
}
_STAND_IN = "x" * 16
TEMPLATE_FILE = re.compile(
    r"^(?:_[a-z0-9_]+|sms|telegram|voice|email|email\.subject|email\.html)"
    r"(?:\.(?P<lang>[a-z]{2,3}))?(?:\.html)?\.j2$"
)
EXTRACT_KEYWORDS = ("_", "gettext", "ngettext", "pgettext", "npgettext", "N_")
COLUMNS = ("id", "context", "plural", "form")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    text: str

    def __str__(self) -> str:
        return (
            f"{self.file}, {self.text}"
            if self.line is None
            else f"{self.file}:{self.line}: {self.text}"
        )


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    overrides: dict[str, int] = field(default_factory=dict)  # language -> own texts
    templates: list[str] = field(default_factory=list)
    sms_notes: list[str] = field(default_factory=list)


def placeholders(text: str) -> set[str]:
    return {m.group(1) for m in _PLACEHOLDER.finditer(text) if m.group(1)}


def message_key(message: Message) -> Key:
    msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
    return str(msgid), message.context


def shipped_template() -> Catalog:
    """Every message id the code and the shipped templates use (``locale/messages.pot``)."""
    with (i18n.LOCALE_DIR / "messages.pot").open("rb") as fh:
        return read_po(fh)


def shipped_catalog(code: str) -> Catalog:
    return i18n.read_catalog(i18n.catalog_path(code))


def nplurals(code: str) -> int:
    return int(get_plural(Locale.parse(code)).num_plurals)


def language_name(texts: i18n.Texts, code: str) -> str:
    try:
        return str(Locale.parse(code).get_display_name(Locale.parse(texts.code)) or code)
    except (ValueError, LookupError):
        return code


def ids_of_template(source: str) -> set[Key]:
    """The message ids a template uses, as ``pybabel extract`` finds them."""
    found: set[Key] = set()
    options = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true", "silent": "false"}
    options |= {"trim_blocks": "true", "lstrip_blocks": "true"}
    for _line, function, message, _comments in jinja2.ext.babel_extract(
        io.BytesIO(source.encode("utf-8")), EXTRACT_KEYWORDS, [], options
    ):
        args = message if isinstance(message, tuple | list) else (message,)
        if function in {"pgettext", "npgettext"}:
            context, msgid = args[0], args[1]
        else:
            context, msgid = None, args[0]
        if isinstance(msgid, str) and msgid:
            found.add((msgid, context if isinstance(context, str) else None))
    return found


def sms_ids() -> set[Key]:
    """The ids used in the SMS templates (shipped and the organisation's own)."""
    roots = [render.TEMPLATES_DIR] + ([own] if (own := render.override_root()) else [])
    found: set[Key] = set()
    for root in roots:
        for path in root.glob("*/sms*.j2"):
            try:
                found |= ids_of_template(path.read_text(encoding="utf-8", errors="replace"))
            except jinja2.TemplateSyntaxError:
                continue  # reported as such by check()
    return found


def filled(text: str) -> str:
    def value(found: re.Match[str]) -> str:
        return "%" if not found.group(1) else _STAND_INS.get(found.group(1), _STAND_IN)

    return _PLACEHOLDER.sub(value, text)


def forms_of(message: Message) -> list[str]:
    if isinstance(message.string, tuple | list):
        return [str(form or "") for form in message.string]
    return [str(message.string or "")]


def known_languages() -> dict[str, i18n.Language]:
    return {lang.code: lang for lang in i18n.languages()}


def differing_placeholders(ids: Sequence[str], text: str) -> tuple[set[str], set[str]] | None:
    """The message's and the text's placeholders when they differ, else None.

    A plural form may leave out the number ("one visit"), never a name.
    """
    wanted: set[str] = set().union(*(placeholders(i) for i in ids))
    got = placeholders(text)
    required = wanted - {"num"} if len(ids) > 1 else wanted
    return (wanted, got) if got - wanted or required - got else None


def listed(names: Iterable[str], texts: i18n.Texts) -> str:
    shown = ", ".join(f"%({n})s" for n in sorted(names))
    return shown or texts.gettext("none")


def sms_cost(code: str, texts: i18n.Texts) -> str:
    """What an SMS in this language costs, for a coordinator: GSM-7 or UCS-2 segments."""
    if sms_encoding(code) == "GSM-7":
        single, multi = sms.GSM7_SINGLE, sms.GSM7_MULTI
        line = N_(
            "%(language)s: SMS are sent as GSM-7, %(single)d characters in one segment, "
            "%(multi)d per segment when longer"
        )
    else:
        single, multi = sms.UCS2_SINGLE, sms.UCS2_MULTI
        line = N_(
            "%(language)s: SMS are sent as UCS-2, %(single)d characters in one segment, "
            "%(multi)d per segment when longer: an SMS costs two to three times as much as in "
            "Danish"
        )
    return texts.gettext(line, language=language_name(texts, code), single=single, multi=multi)


def sms_cost_line(text: str, texts: i18n.Texts) -> str:
    """What this SMS costs, for staff who look at it: segments, alphabet and length."""
    info = sms.segments(text)
    if info.encoding == "GSM-7":
        return texts.ngettext(
            "SMS: %(num)d segment (GSM-7, %(units)d characters)",
            "SMS: %(num)d segments (GSM-7, %(units)d characters)",
            info.segments,
            units=info.units,
        )
    return texts.ngettext(
        "SMS: %(num)d segment (UCS-2, %(units)d characters; this alphabet fits %(single)d "
        "characters in one segment, %(multi)d per segment when longer)",
        "SMS: %(num)d segments (UCS-2, %(units)d characters; this alphabet fits %(single)d "
        "characters in one segment, %(multi)d per segment when longer)",
        info.segments,
        units=info.units,
        single=sms.UCS2_SINGLE,
        multi=sms.UCS2_MULTI,
    )


def sms_encoding(code: str) -> str:
    """ "GSM-7" when every SMS text of the language (as it is shown now) is in the SMS alphabet,
    else "UCS-2" (Arabic): the encoding decides the price of every SMS."""
    texts = i18n.texts(code)
    for msgid, context in sms_ids():
        shown = texts.pgettext(context, msgid) if context else texts.gettext(msgid)
        if not sms.is_gsm7(sms.normalise(filled(shown))):
            return "UCS-2"
    return "GSM-7"
