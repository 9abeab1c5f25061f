"""Checking an organisation's texts folder (``venskab texts check``): one clear sentence per
thing that is wrong, in the coordinator's language (see :mod:`followup.wording`)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import PoFileError, read_po

from followup.wording import (
    TEMPLATE_FILE,
    Key,
    Problem,
    Report,
    differing_placeholders,
    filled,
    forms_of,
    ids_of_template,
    known_languages,
    language_name,
    listed,
    message_key,
    nplurals,
    shipped_catalog,
    shipped_template,
    sms_ids,
)
from scheduler import i18n, render, sms


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
    languages: dict[str, i18n.Language] = field(default_factory=known_languages)
    pot: dict[Key, Message] = field(
        default_factory=lambda: {message_key(m): m for m in shipped_template() if m.id}
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
            found = TEMPLATE_FILE.match(parts[-1])
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
        for key in ids_of_template(source):
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
                        language=language_name(self.texts, code),
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
                if code == i18n.SOURCE_LANGUAGE or (own is not None and all(forms_of(own))):
                    continue
                self.problem(
                    files[0],
                    None,
                    self.texts.gettext(
                        'the text "%(text)s" is in no catalog: add it to %(file)s, or '
                        "%(language)s readers get it in English",
                        text=key[0],
                        file=f"{code}.po",
                        language=language_name(self.texts, code),
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
    in_sms = sms_ids()
    shipped = shipped_catalog(code)
    count = 0
    for message in catalog:
        if not message.id:
            continue
        key = message_key(message)
        if key not in pot and key not in template_ids:
            report.problems.append(Problem(file, message.lineno, _unknown(key[0], pot, texts)))
            continue
        if not any(forms_of(message)):
            continue  # an empty entry keeps the shipped text
        count += 1
        found = [
            _plural_problem(code, message, texts),
            _placeholder_problem(message, texts),
            _sms_problem(code, message, shipped, texts) if key in in_sms else None,
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
    forms, needed = forms_of(message), nplurals(code)
    if not isinstance(message.id, tuple | list) or len(forms) == needed:
        return None
    return texts.ngettext(
        '"%(text)s": %(language)s has %(num)d plural form here; it needs %(needed)d',
        '"%(text)s": %(language)s has %(num)d plural forms here; it needs %(needed)d',
        len(forms),
        text=message_key(message)[0],
        language=language_name(texts, code),
        needed=needed,
    )


def _placeholder_problem(message: Message, texts: i18n.Texts) -> str | None:
    ids = [str(i) for i in message.id] if isinstance(message.id, tuple | list) else [message.id]
    for form in forms_of(message):
        differ = differing_placeholders(ids, form)
        if differ is not None:
            return texts.gettext(
                '"%(text)s": the placeholders differ: the message has %(wanted)s, '
                "this text has %(got)s",
                text=ids[0],
                wanted=listed(differ[0], texts),
                got=listed(differ[1], texts),
            )
    return None


def _sms_problem(code: str, message: Message, shipped: Catalog, texts: i18n.Texts) -> str | None:
    """A text of an SMS that alone exceeds the segment limit, or that turns a language sent as
    GSM-7 into UCS-2 (a curly quote or an emoji), costing two to three times as much."""
    msgid, context = message_key(message)
    ours = shipped.get(msgid, context=context)
    shipped_forms = forms_of(ours) if ours is not None and any(forms_of(ours)) else [msgid]
    gsm_language = all(sms.is_gsm7(sms.normalise(filled(f))) for f in shipped_forms if f)
    for form in forms_of(message):
        info = sms.segments(sms.normalise(filled(form)))
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
