"""An organisation's texts in a spreadsheet and back (``venskab texts export|import``): every
message id with its context and its text in each language as a CSV that Danish Excel opens, and
the override catalogs written from such a file, or nothing at all when any row is wrong (see
:mod:`followup.wording`)."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import write_po

from followup import wording
from followup.wording import COLUMNS, Key, Problem
from scheduler import i18n
from store.validation import ascii_digits, csv_cell


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
    shipped = {code: wording.shipped_catalog(code) for code in codes}
    own = {code: _own(folder, code) for code in codes}
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([*COLUMNS, *codes])
    for message in sorted(
        (m for m in wording.shipped_template() if m.id),
        key=lambda m: (wording.message_key(m)[0], m.context or ""),
    ):
        msgid, context = wording.message_key(message)
        plural = message.id[1] if isinstance(message.id, tuple | list) else ""
        forms = max((wording.nplurals(c) for c in codes), default=2) if plural else 1
        for form in range(forms):
            row = [_cell(msgid), context or "", _cell(str(plural)), str(form) if plural else ""]
            for code in codes:
                row.append(_cell(_shown(code, message, form, shipped[code], own[code])))
            writer.writerow(row)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _shown(code: str, message: Message, form: int, shipped: Catalog, own: Catalog | None) -> str:
    msgid, context = wording.message_key(message)
    plural = isinstance(message.id, tuple | list)
    if plural and form >= wording.nplurals(code):
        return ""
    for catalog in (own, shipped):
        held = catalog.get(msgid, context=context) if catalog is not None else None
        if held is not None:
            forms = wording.forms_of(held)
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
        default_factory=lambda: {
            wording.message_key(m): m for m in wording.shipped_template() if m.id
        }
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
        languages = wording.known_languages()
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
                        language=wording.language_name(t, name),
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
                    wanted[code].setdefault(wording.message_key(message), {})[form] = value
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
        if plural and form >= wording.nplurals(code):
            if value.strip():
                self.refuse(
                    line,
                    t.gettext(
                        "column %(column)s: %(language)s has no plural form %(form)d",
                        column=code,
                        language=wording.language_name(t, code),
                        form=form,
                    ),
                )
            return None
        ids = [str(i) for i in message.id] if plural else [str(message.id)]
        differ = wording.differing_placeholders(ids, value) if value.strip() else None
        if differ is not None:
            self.refuse(
                line,
                t.gettext(
                    "column %(column)s: the placeholders differ: the message has %(wanted)s, "
                    "this text has %(got)s",
                    column=code,
                    wanted=wording.listed(differ[0], t),
                    got=wording.listed(differ[1], t),
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
        shipped = wording.shipped_catalog(code)
        catalog = _own(folder, code) or _empty_catalog(code)
        for key, forms in wanted[code].items():
            message = pot[key]
            plural = isinstance(message.id, tuple | list)
            held = catalog.get(key[0], context=key[1])
            current = wording.forms_of(held) if held is not None else []
            count = wording.nplurals(code) if plural else 1
            values = [forms.get(i, current[i] if i < len(current) else "") for i in range(count)]
            defaults = [_shown(code, message, i, shipped, None) for i in range(count)]
            if all(not v.strip() or v == d for v, d in zip(values, defaults, strict=True)):
                if held is not None:
                    catalog.delete(key[0], context=key[1])
                continue
            values = [v if v.strip() else d for v, d in zip(values, defaults, strict=True)]
            if held is not None:  # babel's add keeps a held message's old text: replace it
                catalog.delete(key[0], context=key[1])
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
