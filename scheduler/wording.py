"""An organisation's own wording, without code: check it, and round-trip it through a spreadsheet.

The texts folder (``VENSKAB_TEXTS_DIR``) holds

- catalog overrides, one per language: ``da.po``, ``en.po``, ``ar.po`` (standard gettext files;
  only the messages the organisation words differently), merged over the shipped catalogs by
  :func:`scheduler.i18n.texts`;
- template overrides: ``templates/<template>/<file>`` replaces the shipped file of the same name
  (``templates/visit_prompt/sms.j2``; ``sms.da.j2`` for one language only), see
  :mod:`scheduler.render`.

:func:`check` reads the folder and returns one :class:`Problem` per thing that is wrong.
:func:`export_csv` writes every message id with its context and its text in each language as a
spreadsheet-friendly CSV; :func:`import_csv` reads such a file back and writes the override
catalogs, or nothing at all when any row is wrong. Every sentence meant for the coordinator comes
from the catalogs in the language they asked for (``texts``).
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import jinja2.ext
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.plurals import get_plural
from babel.messages.pofile import PoFileError, read_po, write_po

from scheduler import i18n, render, sms
from store.validation import ascii_digits, csv_cell

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
_TEMPLATE_FILE = re.compile(
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


def _key(message: Message) -> Key:
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


def _language_name(texts: i18n.Texts, code: str) -> str:
    try:
        return str(Locale.parse(code).get_display_name(Locale.parse(texts.code)) or code)
    except (ValueError, LookupError):
        return code


def _ids_of_template(source: str) -> set[Key]:
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


def _sms_ids() -> set[Key]:
    """The ids used in the SMS templates (shipped and the organisation's own)."""
    roots = [render.TEMPLATES_DIR] + ([own] if (own := render.override_root()) else [])
    found: set[Key] = set()
    for root in roots:
        for path in root.glob("*/sms*.j2"):
            try:
                found |= _ids_of_template(path.read_text(encoding="utf-8", errors="replace"))
            except jinja2.TemplateSyntaxError:
                continue  # reported as such by check()
    return found


def _filled(text: str) -> str:
    def value(found: re.Match[str]) -> str:
        return "%" if not found.group(1) else _STAND_INS.get(found.group(1), _STAND_IN)

    return _PLACEHOLDER.sub(value, text)


def _forms(message: Message) -> list[str]:
    if isinstance(message.string, tuple | list):
        return [str(form or "") for form in message.string]
    return [str(message.string or "")]


def _known_languages() -> dict[str, i18n.Language]:
    return {lang.code: lang for lang in i18n.languages()}


def check(folder: Path, texts: i18n.Texts, enabled: Sequence[str]) -> Report:
    """Every problem in the organisation's texts folder, one clear sentence each."""
    checking = _Checking(folder, texts, tuple(enabled))
    checking.templates()
    checking.catalogs()
    checking.ids_of_own_templates()
    return checking.report


@dataclass
class _Checking:
    folder: Path
    texts: i18n.Texts
    enabled: tuple[str, ...]
    report: Report = field(default_factory=Report)
    languages: dict[str, i18n.Language] = field(default_factory=_known_languages)
    pot: dict[Key, Message] = field(
        default_factory=lambda: {_key(m): m for m in shipped_template() if m.id}
    )
    template_ids: dict[Key, list[str]] = field(default_factory=dict)
    held: dict[str, Catalog] = field(default_factory=dict)

    def problem(self, path: Path | str, line: int | None, text: str) -> None:
        shown = path if isinstance(path, str) else str(path.relative_to(self.folder))
        self.report.problems.append(Problem(shown, line, text))

    def templates(self) -> None:
        root = self.folder / "templates"
        if not root.is_dir():
            return
        shipped = {p.name for p in render.TEMPLATES_DIR.iterdir() if p.is_dir()}
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            name = path.relative_to(root).as_posix()
            self.report.templates.append(name)
            parts = name.split("/")
            if len(parts) != 2 or parts[0] not in shipped:
                self.problem(
                    path,
                    None,
                    self.texts.gettext(
                        "there is no message template %(name)s: a template override is "
                        "templates/<template>/<channel>.j2, with a template we ship "
                        "(such as visit_prompt)",
                        name=parts[0],
                    ),
                )
                continue
            found = _TEMPLATE_FILE.match(parts[-1])
            if not found or (found.group("lang") and found.group("lang") not in self.languages):
                self.problem(
                    path,
                    None,
                    self.texts.gettext(
                        "the file name should be the channel, optionally a language, and "
                        ".j2 (sms.j2, email.html.j2, telegram.da.j2)"
                    ),
                )
                continue
            self.template(path)

    def template(self, path: Path) -> None:
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            render.environment().parse(source)
        except jinja2.TemplateSyntaxError as exc:
            self.problem(
                path,
                exc.lineno,
                self.texts.gettext(
                    "the template cannot be read: %(error)s", error=exc.message or ""
                ),
            )
            return
        for key in _ids_of_template(source):
            self.template_ids.setdefault(key, []).append(str(path.relative_to(self.folder)))

    def catalogs(self) -> None:
        for path in sorted(self.folder.iterdir()):
            if path.is_dir() or path.name.startswith("."):
                continue
            code = path.stem
            if path.suffix != ".po" or code not in self.languages:
                self.problem(
                    path,
                    None,
                    self.texts.gettext(
                        "not one of the files this folder holds: a catalog is named after its "
                        "language (%(languages)s), with .po",
                        languages=", ".join(f"{c}.po" for c in self.languages),
                    ),
                )
                continue
            catalog = self.read(path)
            if catalog is None:
                continue
            self.held[code] = catalog
            if code not in self.enabled:
                self.problem(
                    path,
                    None,
                    self.texts.gettext(
                        "%(language)s is not turned on: set VENSKAB_LANGUAGES=%(code)s to use it",
                        language=_language_name(self.texts, code),
                        code=code,
                    ),
                )
            self.report.overrides[code] = _check_catalog(
                str(path.relative_to(self.folder)),
                code,
                catalog,
                self.pot,
                self.template_ids,
                self.texts,
                self.report,
            )

    def read(self, path: Path) -> Catalog | None:
        try:
            with path.open("rb") as fh:
                return read_po(fh, abort_invalid=True)
        except PoFileError as exc:
            self.problem(
                path,
                getattr(exc, "lineno", None),
                self.texts.gettext(
                    "this line is not part of a catalog entry (each entry is msgid and "
                    "msgstr, with the text in double quotes)"
                ),
            )
        except (UnicodeDecodeError, ValueError):
            self.problem(path, None, self.texts.gettext("the file is not UTF-8 text"))
        return None

    def ids_of_own_templates(self) -> None:
        """A text only the organisation's templates use must be in its catalogs."""
        for key, files in sorted(self.template_ids.items(), key=lambda item: item[0][0]):
            if key in self.pot:
                continue
            for code in self.enabled:
                held = self.held.get(code)
                own = held.get(key[0], context=key[1]) if held is not None else None
                if code == i18n.SOURCE_LANGUAGE or (own is not None and all(_forms(own))):
                    continue
                self.problem(
                    files[0],
                    None,
                    self.texts.gettext(
                        'the text "%(text)s" is in no catalog: add it to %(file)s, or '
                        "%(language)s readers get it in English",
                        text=key[0],
                        file=f"{code}.po",
                        language=_language_name(self.texts, code),
                    ),
                )


def _check_catalog(
    file: str,
    code: str,
    catalog: Catalog,
    pot: dict[Key, Message],
    template_ids: dict[Key, list[str]],
    texts: i18n.Texts,
    report: Report,
) -> int:
    """Check one override catalog; the number of texts of the organisation's own in it."""
    sms_ids = _sms_ids()
    shipped = shipped_catalog(code)
    count = 0
    for message in catalog:
        if not message.id:
            continue
        key = _key(message)
        if key not in pot and key not in template_ids:
            report.problems.append(Problem(file, message.lineno, _unknown(key[0], pot, texts)))
            continue
        if not any(_forms(message)):
            continue  # an empty entry keeps the shipped text
        count += 1
        found = [
            _plural_problem(code, message, texts),
            _placeholder_problem(message, texts),
            _sms_problem(code, message, shipped, texts) if key in sms_ids else None,
        ]
        report.problems.extend(Problem(file, message.lineno, p) for p in found if p)
    return count


def _unknown(msgid: str, pot: dict[Key, Message], texts: i18n.Texts) -> str:
    close = difflib.get_close_matches(msgid, [k[0] for k in pot], n=1, cutoff=0.8)
    if close:
        return texts.gettext(
            '"%(text)s" is not a message we use, so this text would never be shown. '
            'Did you mean "%(close)s"?',
            text=msgid,
            close=close[0],
        )
    return texts.gettext(
        '"%(text)s" is not a message we use, so this text would never be shown.', text=msgid
    )


def _plural_problem(code: str, message: Message, texts: i18n.Texts) -> str | None:
    forms, needed = _forms(message), nplurals(code)
    if not isinstance(message.id, tuple | list) or len(forms) == needed:
        return None
    return texts.ngettext(
        '"%(text)s": %(language)s has %(num)d plural form here; it needs %(needed)d',
        '"%(text)s": %(language)s has %(num)d plural forms here; it needs %(needed)d',
        len(forms),
        text=_key(message)[0],
        language=_language_name(texts, code),
        needed=needed,
    )


def differing_placeholders(ids: Sequence[str], text: str) -> tuple[set[str], set[str]] | None:
    """The message's and the text's placeholders when they differ, else None.

    A plural form may leave out the number ("one visit"), never a name.
    """
    wanted: set[str] = set().union(*(placeholders(i) for i in ids))
    got = placeholders(text)
    required = wanted - {"num"} if len(ids) > 1 else wanted
    return (wanted, got) if got - wanted or required - got else None


def _placeholder_problem(message: Message, texts: i18n.Texts) -> str | None:
    ids = [str(i) for i in message.id] if isinstance(message.id, tuple | list) else [message.id]
    for form in _forms(message):
        differ = differing_placeholders(ids, form)
        if differ is not None:
            return texts.gettext(
                '"%(text)s": the placeholders differ: the message has %(wanted)s, '
                "this text has %(got)s",
                text=ids[0],
                wanted=_list(differ[0], texts),
                got=_list(differ[1], texts),
            )
    return None


def _sms_problem(code: str, message: Message, shipped: Catalog, texts: i18n.Texts) -> str | None:
    """A text of an SMS that alone exceeds the segment limit, or that turns a language sent as
    GSM-7 into UCS-2 (a curly quote or an emoji), costing two to three times as much."""
    msgid, context = _key(message)
    ours = shipped.get(msgid, context=context)
    shipped_forms = _forms(ours) if ours is not None and any(_forms(ours)) else [msgid]
    gsm_language = all(sms.is_gsm7(sms.normalise(_filled(f))) for f in shipped_forms if f)
    for form in _forms(message):
        info = sms.segments(sms.normalise(_filled(form)))
        if info.segments > sms.MAX_SEGMENTS:
            return texts.gettext(
                '"%(text)s" is part of an SMS and alone takes %(segments)d '
                "segments (%(units)d characters, %(encoding)s); an SMS may "
                "take at most %(limit)d",
                text=msgid,
                segments=info.segments,
                units=info.units,
                encoding=info.encoding,
                limit=sms.MAX_SEGMENTS,
            )
        if gsm_language and info.encoding != "GSM-7":
            return texts.gettext(
                '"%(text)s" is part of an SMS and has characters outside '
                "the SMS alphabet (%(characters)s): the whole SMS would "
                "cost two to three times as much",
                text=msgid,
                characters="".join(sms.non_gsm_characters(sms.normalise(form))),
            )
    return None


def _list(names: Iterable[str], texts: i18n.Texts) -> str:
    shown = ", ".join(f"%({n})s" for n in sorted(names))
    return shown or texts.gettext("none")


def sms_cost(code: str, texts: i18n.Texts) -> str:
    """What an SMS in this language costs, for a coordinator: GSM-7 or UCS-2 segments."""
    if sms_encoding(code) == "GSM-7":
        return texts.gettext(
            "%(language)s: SMS are sent as GSM-7, %(single)d characters in one segment, "
            "%(multi)d per segment when longer",
            language=_language_name(texts, code),
            single=sms.GSM7_SINGLE,
            multi=sms.GSM7_MULTI,
        )
    return texts.gettext(
        "%(language)s: SMS are sent as UCS-2, %(single)d characters in one segment, "
        "%(multi)d per segment when longer: an SMS costs two to three times as much as in Danish",
        language=_language_name(texts, code),
        single=sms.UCS2_SINGLE,
        multi=sms.UCS2_MULTI,
    )


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
    for msgid, context in _sms_ids():
        shown = texts.pgettext(context, msgid) if context else texts.gettext(msgid)
        if not sms.is_gsm7(sms.normalise(_filled(shown))):
            return "UCS-2"
    return "GSM-7"


# --- the spreadsheet ---------------------------------------------------------------------------


def _cell(text: str) -> str:
    """A text made safe for the spreadsheet (no formula, no control characters; its own lines
    kept). An apostrophe of the text's own is doubled: :func:`_uncell` takes one away."""
    cell = csv_cell(text, lines=True)
    return "'" + cell if text.startswith("'") else cell


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _own(folder: Path | None, code: str) -> Catalog | None:
    path = folder / f"{code}.po" if folder is not None else None
    if path is None or not path.is_file():
        return None
    return i18n.read_catalog(path)


def export_csv(folder: Path | None, enabled: Sequence[str]) -> bytes:
    """Every message id, its context and its text in each enabled language, as it is shown now
    (the organisation's own text where it has one): UTF-8 with a BOM, semicolons, as Danish
    Excel opens it. A plural message has one row per plural form (``form`` 0, 1, ...)."""
    codes = [c for c in (lang.code for lang in i18n.languages()) if c in enabled]
    shipped = {code: shipped_catalog(code) for code in codes}
    own = {code: _own(folder, code) for code in codes}
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([*COLUMNS, *codes])
    for message in sorted(
        (m for m in shipped_template() if m.id), key=lambda m: (_key(m)[0], m.context or "")
    ):
        msgid, context = _key(message)
        plural = message.id[1] if isinstance(message.id, tuple | list) else ""
        forms = max((nplurals(c) for c in codes), default=2) if plural else 1
        for form in range(forms):
            row = [_cell(msgid), context or "", _cell(str(plural)), str(form) if plural else ""]
            for code in codes:
                row.append(_cell(_shown(code, message, form, shipped[code], own[code])))
            writer.writerow(row)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _shown(code: str, message: Message, form: int, shipped: Catalog, own: Catalog | None) -> str:
    msgid, context = _key(message)
    plural = isinstance(message.id, tuple | list)
    if plural and form >= nplurals(code):
        return ""
    for catalog in (own, shipped):
        held = catalog.get(msgid, context=context) if catalog is not None else None
        if held is not None:
            forms = _forms(held)
            if form < len(forms) and forms[form]:
                return forms[form]
    # The source language's text is the id itself.
    if plural:
        return str(message.id[0] if form == 0 else message.id[1])
    return msgid


@dataclass
class Imported:
    changed: dict[str, int]  # language -> own texts now held


class ImportRefused(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


def import_csv(
    data: bytes, file: str, folder: Path, enabled: Sequence[str], texts: i18n.Texts
) -> Imported:
    """Read a file written by :func:`export_csv` (and edited in a spreadsheet) and write the
    organisation's catalogs in ``folder``: a text that differs from the shipped one becomes the
    organisation's own, one equal to it (or emptied) goes back to the shipped text; messages not
    in the file keep what they have. Any bad row: :class:`ImportRefused` naming each line, and
    nothing is written."""
    reading = _Import(file, texts, tuple(enabled))
    records = reading.records(data)
    codes = reading.header(records[0])
    wanted = reading.rows(records, codes)
    return _write_catalogs(folder, codes, wanted, reading.pot)


@dataclass
class _Import:
    file: str
    texts: i18n.Texts
    enabled: tuple[str, ...]
    problems: list[Problem] = field(default_factory=list)
    pot: dict[Key, Message] = field(
        default_factory=lambda: {_key(m): m for m in shipped_template() if m.id}
    )
    at: dict[str, int] = field(default_factory=dict)

    def refuse(self, line: int | None, text: str) -> None:
        self.problems.append(Problem(self.file, line, text))

    def stop_if_refused(self) -> None:
        if self.problems:
            raise ImportRefused(self.problems)

    def records(self, data: bytes) -> list[list[str]]:
        """The file's rows; the delimiter (comma, semicolon or tab) is read from the header."""
        t = self.texts
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            self.refuse(line, t.gettext("the file is not UTF-8 text (save it as CSV UTF-8)"))
            raise ImportRefused(self.problems) from exc
        first = text.split("\n", 1)[0]
        delimiter = max((",", ";", "\t"), key=first.count)
        try:
            records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error as exc:
            self.refuse(None, t.gettext("not a CSV file"))
            raise ImportRefused(self.problems) from exc
        if not records or not any(c.strip() for c in records[0]):
            self.refuse(1, t.gettext("the first line must be the header row"))
        self.stop_if_refused()
        return records

    def header(self, cells: list[str]) -> list[str]:
        """The language columns of the header; any other column must be one of COLUMNS."""
        t = self.texts
        header = [c.strip().lower() for c in cells]
        self.at = {name: i for i, name in enumerate(header)}
        languages = _known_languages()
        codes: list[str] = []
        for name in (n for n in header if n not in COLUMNS):
            if name not in languages:
                self.refuse(
                    1,
                    t.gettext(
                        "column %(column)s: not a language with a catalog (the columns are "
                        "%(columns)s and a language code: %(languages)s)",
                        column=name,
                        columns=", ".join(COLUMNS),
                        languages=", ".join(languages),
                    ),
                )
            elif name not in self.enabled:
                self.refuse(
                    1,
                    t.gettext(
                        "column %(column)s: %(language)s is not turned on, so its texts cannot be "
                        "imported (set VENSKAB_LANGUAGES=%(column)s first)",
                        column=name,
                        language=_language_name(t, name),
                    ),
                )
            else:
                codes.append(name)
        for needed in ("id", "context"):
            if needed not in header:
                self.refuse(1, t.gettext("the header has no column %(column)s", column=needed))
        if len(set(header)) != len(header):
            self.refuse(1, t.gettext("a column appears twice in the header"))
        self.stop_if_refused()
        return codes

    def rows(
        self, records: list[list[str]], codes: list[str]
    ) -> dict[str, dict[Key, dict[int, str]]]:
        """Each language's texts by message and plural form, every row checked."""
        wanted: dict[str, dict[Key, dict[int, str]]] = {code: {} for code in codes}
        seen: set[tuple[Key, int]] = set()
        for line, record in enumerate(records[1:], start=2):
            if not any(c.strip() for c in record):
                continue
            found = self.message(line, record, seen)
            if found is None:
                continue
            message, form, cells = found
            for code in codes:
                value = self.cell(line, code, message, form, _uncell(cells[code]))
                if value is not None:
                    wanted[code].setdefault(_key(message), {})[form] = value
        self.stop_if_refused()
        return wanted

    def message(
        self, line: int, record: list[str], seen: set[tuple[Key, int]]
    ) -> tuple[Message, int, dict[str, str]] | None:
        t = self.texts
        if len(record) > len(self.at) and any(c.strip() for c in record[len(self.at) :]):
            self.refuse(
                line, t.gettext("more cells than the header has columns (a stray separator?)")
            )
            return None
        cells = {name: (record[i] if i < len(record) else "") for name, i in self.at.items()}
        key = (_uncell(cells["id"]), cells["context"].strip() or None)
        message = self.pot.get(key)
        if message is None:
            self.refuse(
                line,
                t.gettext('"%(text)s" is not a message we use (check the id column)', text=key[0]),
            )
            return None
        plural = isinstance(message.id, tuple | list)
        form_cell = cells.get("form", "").strip()
        if plural and not ascii_digits(form_cell):
            self.refuse(
                line, t.gettext("a message with plural forms needs its form number (0, 1, ...)")
            )
            return None
        form = int(form_cell) if plural else 0
        if (key, form) in seen:
            self.refuse(line, t.gettext('"%(text)s" appears twice in the file', text=key[0]))
            return None
        seen.add((key, form))
        return message, form, cells

    def cell(self, line: int, code: str, message: Message, form: int, value: str) -> str | None:
        """The text for language ``code``, or None when there is none (or it is refused)."""
        t = self.texts
        plural = isinstance(message.id, tuple | list)
        if plural and form >= nplurals(code):
            if value.strip():
                self.refuse(
                    line,
                    t.gettext(
                        "column %(column)s: %(language)s has no plural form %(form)d",
                        column=code,
                        language=_language_name(t, code),
                        form=form,
                    ),
                )
            return None
        ids = [str(i) for i in message.id] if plural else [str(message.id)]
        differ = differing_placeholders(ids, value) if value.strip() else None
        if differ is not None:
            self.refuse(
                line,
                t.gettext(
                    "column %(column)s: the placeholders differ: the message has %(wanted)s, "
                    "this text has %(got)s",
                    column=code,
                    wanted=_list(differ[0], t),
                    got=_list(differ[1], t),
                ),
            )
            return None
        return value


def _write_catalogs(
    folder: Path,
    codes: list[str],
    wanted: dict[str, dict[Key, dict[int, str]]],
    pot: dict[Key, Message],
) -> Imported:
    written: dict[str, Catalog] = {}
    for code in codes:
        shipped = shipped_catalog(code)
        catalog = _own(folder, code) or _empty_catalog(code)
        for key, forms in wanted[code].items():
            message = pot[key]
            plural = isinstance(message.id, tuple | list)
            held = catalog.get(key[0], context=key[1])
            current = _forms(held) if held is not None else []
            count = nplurals(code) if plural else 1
            values = [forms.get(i, current[i] if i < len(current) else "") for i in range(count)]
            defaults = [_shown(code, message, i, shipped, None) for i in range(count)]
            if all(not v.strip() or v == d for v, d in zip(values, defaults, strict=True)):
                if held is not None:
                    catalog.delete(key[0], context=key[1])
                continue
            values = [v if v.strip() else d for v, d in zip(values, defaults, strict=True)]
            catalog.add(message.id, tuple(values) if plural else values[0], context=key[1])
        written[code] = catalog
    folder.mkdir(parents=True, exist_ok=True)
    for code, catalog in written.items():
        _write_atomically(folder / f"{code}.po", catalog)
    return Imported({code: sum(1 for m in cat if m.id) for code, cat in written.items()})


def _empty_catalog(code: str) -> Catalog:
    catalog = Catalog(locale=code, project="venskab", fuzzy=False)
    return catalog


def _write_atomically(path: Path, catalog: Catalog) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, sort_output=True, omit_header=False)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as fh:
            fh.write(buffer.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
