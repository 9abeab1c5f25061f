"""The message catalogs: complete, in step with the code, and with the same placeholders.

A message id added to the code or a template without ``make catalogs`` and a translation fails
here, before a Danish reader meets an English sentence.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from scheduler import i18n

ROOT = Path(__file__).resolve().parent.parent
# %(name)s, %(num)d, and a literal %% (not a placeholder).
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%%")
# The keywords `make catalogs` extracts besides Babel's: followup.import_file.said(id, **values).
KEYWORDS = {**DEFAULT_KEYWORDS, "said": None}


def _extracted() -> set[tuple[str, str | None]]:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: set[tuple[str, str | None]] = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple | list) else message
        if msgid:
            found.add((msgid, context))
    return found


@pytest.fixture(scope="module")
def extracted() -> set[tuple[str, str | None]]:
    return _extracted()


def _catalogs() -> dict[str, Catalog]:
    return {lang.code: i18n.read_catalog(i18n.catalog_path(lang.code)) for lang in i18n.languages()}


def _key(message: Message) -> tuple[str, str | None]:
    msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
    return msgid, message.context


def _placeholders(text: str) -> set[str]:
    return {m.group(1) for m in _PLACEHOLDER.finditer(text) if m.group(1)}


def test_every_language_has_a_catalog_and_danish_and_english_are_there() -> None:
    codes = [lang.code for lang in i18n.languages()]
    assert {"da", "en"} <= set(codes)
    for code in codes:
        assert i18n.catalog_path(code).is_file(), code


def test_the_template_lists_every_message_the_code_and_templates_use(
    extracted: set[tuple[str, str | None]],
) -> None:
    with (ROOT / "locale" / "messages.pot").open("rb") as fh:
        from babel.messages.pofile import read_po

        template = {_key(m) for m in read_po(fh) if m.id}
    missing = sorted(str(k) for k in extracted - template)
    stale = sorted(str(k) for k in template - extracted)
    assert not missing, f"run `make catalogs`: not in locale/messages.pot: {missing[:10]}"
    assert not stale, f"run `make catalogs`: no longer used: {stale[:10]}"


@pytest.mark.parametrize("code", [lang.code for lang in i18n.languages()])
def test_every_catalog_holds_every_message_translated(
    code: str, extracted: set[tuple[str, str | None]]
) -> None:
    catalog = _catalogs()[code]
    held = {_key(m): m for m in catalog if m.id}
    missing = sorted(str(k) for k in extracted if k not in held)
    assert not missing, f"{code}: run `make catalogs`; missing {missing[:10]}"
    fuzzy = sorted(str(k) for k, m in held.items() if m.fuzzy)
    assert not fuzzy, f"{code}: fuzzy entries need a translator's reading: {fuzzy[:10]}"
    if code == i18n.SOURCE_LANGUAGE:
        return  # the ids are the English text
    untranslated = sorted(
        str(k)
        for k, m in held.items()
        if not (all(m.string) if isinstance(m.string, tuple | list) else m.string)
    )
    assert not untranslated, f"{code}: not translated yet: {untranslated[:10]}"


@pytest.mark.parametrize("code", [lang.code for lang in i18n.languages()])
def test_a_translation_uses_exactly_the_placeholders_of_its_message(code: str) -> None:
    problems: list[tuple[str, str]] = []
    for message in _catalogs()[code]:
        if not message.id or not message.string:
            continue
        if isinstance(message.id, tuple | list):
            wanted = _placeholders(message.id[0]) | _placeholders(message.id[1])
            for form in message.string:
                # A plural form may leave out the number ("one visit"), never add a name.
                if form and not _placeholders(form) <= wanted:
                    problems.append((message.id[0], form))
                if form and not (_placeholders(form) >= wanted - {"num"}):
                    problems.append((message.id[0], form))
        elif isinstance(message.string, str) and isinstance(message.id, str):
            differ = _placeholders(message.string) != _placeholders(message.id)
            if differ:
                problems.append((message.id, message.string))
    assert not problems, f"{code}: placeholders differ: {problems[:5]}"


@pytest.mark.parametrize("code", [lang.code for lang in i18n.languages()])
def test_a_catalog_has_the_plural_forms_of_its_language(code: str) -> None:
    from babel import Locale
    from babel.messages.plurals import get_plural

    catalog = _catalogs()[code]
    assert catalog.num_plurals == get_plural(Locale.parse(code)).num_plurals
    for message in catalog:
        if message.id and isinstance(message.id, tuple | list) and code != "en":
            assert isinstance(message.string, tuple | list), message.id
            assert len(message.string) == catalog.num_plurals, message.id


def test_texts_fill_in_values_and_fall_back_to_the_id_in_english() -> None:
    da, en = i18n.texts("da"), i18n.texts("en")
    assert da.gettext("From %(organisation)s", organisation="Red Barnet") == "Hilsen Red Barnet"
    assert en.gettext("From %(organisation)s", organisation="Red Barnet") == "From Red Barnet"
    with pytest.raises(LookupError):
        i18n.texts("xx")


def test_phone_numbers_are_shown_the_way_people_write_them() -> None:
    assert i18n.phone("+4520123401") == "20 12 34 01"
    assert i18n.phone("+46701234567") == "+46 70 123 45 67"
    assert i18n.phone("not a number") == "not a number"
    assert i18n.phone(None) == ""


def test_two_branches_adding_texts_merge_without_a_conflict(tmp_path: Path) -> None:
    """The merge driver in tools/merge_po.py unions both sides' catalogs."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True
        ).stdout

    def po(entries: dict[str, str]) -> str:
        head = 'msgid ""\nmsgstr ""\n"Language: da\\n"\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        return head + "".join(f'msgid "{k}"\nmsgstr "{v}"\n\n' for k, v in entries.items())

    git("init", "-q", "-b", "main")
    git("config", "user.email", "ci@localhost")
    git("config", "user.name", "ci")
    git("config", "merge.po.driver", f"{sys.executable} {ROOT / 'tools' / 'merge_po.py'} %O %A %B")
    (tmp_path / ".gitattributes").write_text("*.po merge=po\n")
    catalog = tmp_path / "messages.po"
    catalog.write_text(po({"Apple": "Æble", "Cherry": "Kirsebær"}), encoding="utf-8")
    git("add", ".")
    git("commit", "-q", "-m", "base")
    git("checkout", "-q", "-b", "other")
    catalog.write_text(po({"Apple": "Æble", "Banana": "Banan", "Cherry": "Kirsebær"}), "utf-8")
    git("commit", "-q", "-am", "banana")
    git("checkout", "-q", "main")
    catalog.write_text(po({"Apple": "Æble", "Blueberry": "Blåbær", "Cherry": "Kirsebær"}), "utf-8")
    git("commit", "-q", "-am", "blueberry")
    git("merge", "-q", "--no-edit", "other")
    merged = {_key(m)[0]: m.string for m in i18n.read_catalog(catalog) if m.id}
    assert merged == {
        "Apple": "Æble",
        "Banana": "Banan",
        "Blueberry": "Blåbær",
        "Cherry": "Kirsebær",
    }


def test_each_programme_names_its_staff_in_its_own_words() -> None:
    from scheduler.programme import load_all

    titles = {slug: p.staff_title for slug, p in load_all().items()}
    da = i18n.texts("da")
    assert i18n.staff_title(da, titles["mentorbarn"], "Mentorbarn") == "jeres procesleder"
    assert (
        i18n.staff_title(da, titles["hjem-til-os"], "Red Barnet", to="parent")
        == "din kontaktperson i Red Barnet"
    )
    assert i18n.staff_title(da, titles["familien-i-fokus"], "Røde Kors") == "jeres aktivitetsleder"
    assert i18n.staff_noun(i18n.texts("en"), titles["familien-i-fokus"]) == "Activity leader"
