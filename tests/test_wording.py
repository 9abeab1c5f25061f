"""An organisation's own wording without code, and Arabic switched on explicitly.

Through the real command line: ``venskab texts check|export|import`` with the settings an
operator sets (``VENSKAB_TEXTS_DIR``, ``VENSKAB_LANGUAGES``), and the real renderer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduler import i18n, render
from store.models import ContactPerson, Locale
from venskab.cli import main
from venskab.cli.common import AppContext
from venskab.settings import SettingsError, load_settings

VISIT = {
    "recipient": {"name": "Familien Holm"},
    "child": {"first_name": "Barn A"},
    "match": {"cadence": "weekly", "visit_weekday": 0},
    "programme": {"organisation": "Red Barnet", "name": "Hjem til Os"},
    "reminder": False,
    "visit_day": None,
    "bot_hint": False,
}


@pytest.fixture(autouse=True)
def _shipped_wording_after() -> Iterator[None]:
    yield
    i18n.configure(None)


def po(language: str, entries: str) -> str:
    head = f'msgid ""\nmsgstr ""\n"Language: {language}\\n"\n'
    return head + '"Content-Type: text/plain; charset=utf-8\\n"\n\n' + entries


def cli(env: dict[str, str], *args: str) -> Result:
    app = AppContext(env={"LANG": "da_DK.UTF-8", **env})
    return CliRunner().invoke(main, list(args), obj=app)


def test_an_organisation_rewords_a_message_and_an_sms_without_code(tmp_path: Path) -> None:
    (tmp_path / "da.po").write_text(
        po("da", 'msgid "From %(organisation)s"\nmsgstr "Kærlig hilsen %(organisation)s"\n'),
        encoding="utf-8",
    )
    shipped = render.render("visit_prompt", "sms", "da", VISIT).body
    assert shipped.endswith("Hilsen Red Barnet")

    assert cli({"VENSKAB_TEXTS_DIR": str(tmp_path)}, "texts", "check").exit_code == 0
    assert render.render("visit_prompt", "sms", "da", VISIT).body.endswith(
        "Kærlig hilsen Red Barnet"
    )
    # English keeps its text; a template override replaces one file, for every language.
    assert render.render("visit_prompt", "sms", "en", VISIT).body.endswith("From Red Barnet")
    own = tmp_path / "templates" / "visit_prompt"
    own.mkdir(parents=True)
    (own / "sms.j2").write_text(
        '{{ _("Hi %(name)s. Did %(child)s visit you today?", name=recipient.name, '
        'child=child.first_name) }} {{ _("Reply with a number:") }} 1/2/3\n',
        encoding="utf-8",
    )
    i18n.configure(tmp_path)
    assert render.render("visit_prompt", "sms", "da", VISIT).body == (
        "Hej Familien Holm. Kom Barn A på besøg i dag? Svar med et tal: 1/2/3"
    )
    # The shipped Telegram template is still used.
    telegram = render.render("visit_prompt", "telegram", "da", VISIT).body
    assert telegram == "Hej Familien Holm. Kom Barn A på besøg i dag?"  # buttons carry the answers


def test_texts_check_names_every_problem_on_its_own_line(tmp_path: Path) -> None:
    (tmp_path / "da.po").write_text(
        po(
            "da",
            'msgid "From %(organisation)s"\nmsgstr "Hilsen %(org)s"\n\n'
            'msgid "Reply with a numbr:"\nmsgstr "Svar med et tal:"\n\n'
            'msgid "Reply with a number, e.g. 0, 1 or 2."\nmsgstr "'
            + "Svar med et tal. " * 25
            + '"\n',
        ),
        encoding="utf-8",
    )
    broken = tmp_path / "templates" / "visit_prompt"
    broken.mkdir(parents=True)
    (broken / "sms.j2").write_text("{{ _('Hello') }}\n{% if %}\n", encoding="utf-8")
    new = tmp_path / "templates" / "welcome"
    new.mkdir(parents=True)
    (new / "telegram.j2").write_text('{{ _("Welcome, %(name)s!", name="x") }}\n', "utf-8")
    (tmp_path / "templates" / "no_such_message").mkdir()
    (tmp_path / "templates" / "no_such_message" / "sms.j2").write_text("x", "utf-8")
    (tmp_path / "fr.po").write_text(po("fr", ""), encoding="utf-8")

    result = cli({"VENSKAB_TEXTS_DIR": str(tmp_path)}, "texts", "check")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    expected = [
        "templates/visit_prompt/sms.j2:2: skabelonen kan ikke læses: Expected an expression, "
        "got 'end of statement block'",
        "templates/no_such_message/sms.j2, der er ingen beskedskabelon no_such_message",
        'da.po:6: "From %(organisation)s": pladsholderne passer ikke: teksten skal have '
        "%(organisation)s, den her har %(org)s",
        'da.po:9: "Reply with a numbr:" er ikke en tekst, vi bruger, så den her tekst bliver '
        'aldrig vist. Mente du "Reply with a number:"?',
        'da.po:12: "Reply with a number, e.g. 0, 1 or 2." er en del af en sms og fylder alene 3 '
        "dele",
        "fr.po, ikke en af de filer, mappen rummer",
        'templates/welcome/telegram.j2, teksten "Welcome, %(name)s!" står ikke i noget katalog: '
        "tilføj den i da.po",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, lines)
    assert lines[-1] == f"venskab: 7 problemer i {tmp_path}"
    assert "dansk: sms sendes som GSM-7, 160 tegn i én del" in result.stdout


def test_texts_check_without_a_folder_says_which_setting_to_set() -> None:
    result = cli({}, "texts", "check")
    assert result.exit_code == 2
    assert "VENSKAB_TEXTS_DIR er ikke sat" in result.stderr


def _rows(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the BOM
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(("\ufeff" + out.getvalue()).encode("utf-8"))


def test_a_coordinator_edits_the_texts_in_a_spreadsheet_and_imports_them(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    env = {"VENSKAB_TEXTS_DIR": str(folder)}
    sheet = tmp_path / "texts.csv"
    assert cli(env, "texts", "export", str(sheet)).exit_code == 0
    rows = _rows(sheet)
    assert list(rows[0]) == ["id", "context", "plural", "form", "en", "da"]  # no ar: it is off
    by_id = {(r["id"], r["context"], r["form"]): r for r in rows}
    assert by_id[("From %(organisation)s", "", "")]["da"] == "Hilsen %(organisation)s"
    assert by_id[("Case lead", "staff title", "")]["da"] == "Procesleder"
    plural = by_id[("%(file)s: %(num)d text", "", "1")]
    assert (plural["plural"], plural["da"]) == (
        "%(file)s: %(num)d texts",
        "%(file)s: %(num)d tekster",
    )

    by_id[("From %(organisation)s", "", "")]["da"] = "Mange hilsner fra %(organisation)s"
    by_id[("Reply with a number:", "", "")]["en"] = "Answer with a number:"
    _write(sheet, rows)
    result = cli(env, "texts", "import", str(sheet))
    assert result.exit_code == 0, result.output
    assert f"{folder / 'da.po'}: 1 egen tekst" in result.output
    assert render.render("visit_prompt", "sms", "da", VISIT).body.endswith(
        "Mange hilsner fra Red Barnet"
    )
    assert "Answer with a number:" in render.render("visit_prompt", "sms", "en", VISIT).body
    assert cli(env, "texts", "check").exit_code == 0

    # Exported again, the file shows the organisation's own texts: the round trip holds.
    again = tmp_path / "again.csv"
    assert cli(env, "texts", "export", str(again)).exit_code == 0
    assert _rows(again) == rows
    # Back to the shipped text: the override goes.
    by_id[("From %(organisation)s", "", "")]["da"] = "Hilsen %(organisation)s"
    _write(sheet, rows)
    assert cli(env, "texts", "import", str(sheet)).exit_code == 0
    held = i18n.read_catalog(folder / "da.po")
    assert [m.id for m in held if m.id] == []


def test_the_spreadsheet_carries_no_formula_and_no_control_character(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    own = 'msgctxt "staff title"\nmsgid "Case lead"\nmsgstr "=1+1\x07 Procesleder"\n'
    (folder / "da.po").write_text(po("da", own), encoding="utf-8")
    env = {"VENSKAB_TEXTS_DIR": str(folder)}
    sheet = tmp_path / "texts.csv"
    assert cli(env, "texts", "export", str(sheet)).exit_code == 0

    rows = _rows(sheet)
    by_id = {(r["id"], r["context"], r["form"]): r for r in rows}
    assert by_id[("Case lead", "staff title", "")]["da"] == "'=1+1 Procesleder"
    # A message of several lines keeps its line breaks, so that it is found again on import.
    assert any("\n" in r["id"] and "\n" in r["da"] for r in rows)

    result = cli(env, "texts", "import", str(sheet))
    assert result.exit_code == 0, result.output
    held = i18n.read_catalog(folder / "da.po")
    assert [(m.id, m.string) for m in held if m.id] == [("Case lead", "=1+1 Procesleder")]


def test_a_bad_row_is_refused_by_its_line_and_nothing_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    env = {"VENSKAB_TEXTS_DIR": str(folder)}
    sheet = tmp_path / "texts.csv"
    cli(env, "texts", "export", str(sheet))
    rows = _rows(sheet)
    line = {r["id"]: n for n, r in enumerate(rows, start=2) if not r["form"]}
    rows[line["1 = yes"] - 2]["da"] = "1 = ja tak"  # a good change, not written either
    rows[line["From %(organisation)s"] - 2]["da"] = "Hilsen %(organisationen)s"
    rows[line["Reply with a number:"] - 2]["id"] = "No such message"
    _write(sheet, rows)
    result = cli(env, "texts", "import", str(sheet))
    assert result.exit_code == 2
    bad = line["From %(organisation)s"]
    assert (
        f"texts.csv:{bad}: kolonne da: pladsholderne passer ikke: teksten skal have "
        "%(organisation)s, den her har %(organisationen)s" in result.stderr
    )
    unknown = line["Reply with a number:"]
    assert f'texts.csv:{unknown}: "No such message" er ikke en tekst, vi bruger' in result.stderr
    assert "venskab: 2 problemer: intet er gemt" in result.stderr
    assert list(folder.iterdir()) == []


def test_arabic_is_off_until_the_organisation_turns_it_on(
    tmp_path: Path, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    assert i18n.language("ar").direction == "rtl"
    assert not i18n.language("ar").reviewed
    assert "ar" not in load_settings({}).enabled_languages
    assert "ar" in load_settings({"VENSKAB_LANGUAGES": "ar"}).enabled_languages
    with pytest.raises(SettingsError, match="VENSKAB_LANGUAGES: no message catalog for 'xx'"):
        load_settings({"VENSKAB_LANGUAGES": "ar,xx"})

    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "ref,name,relation,phone,email,locale\nK-AR-1,Mona,parent,+4520123499,,ar\n", "utf-8"
    )
    base = {"VENSKAB_DATABASE_URL": db_url}
    refused = cli(base, "import", "contacts", str(contacts))
    assert refused.exit_code == 2
    assert "VENSKAB_LANGUAGES=ar" in refused.stderr
    done = cli({**base, "VENSKAB_LANGUAGES": "ar"}, "import", "contacts", str(contacts))
    assert done.exit_code == 0, done.output
    with session_factory() as session:
        mona = session.scalars(
            select(ContactPerson).where(ContactPerson.external_ref == "K-AR-1")
        ).one()
        assert mona.locale == Locale("ar") and mona.locale.value == "ar"

    # An SMS in Arabic is UCS-2, and texts check says what that costs.
    body = render.render("visit_prompt", "sms", "ar", VISIT).body
    assert body.startswith("مرحبًا Familien Holm. هل زاركم Barn A اليوم؟")
    folder = tmp_path / "texts"
    folder.mkdir()
    result = cli({"VENSKAB_TEXTS_DIR": str(folder), "VENSKAB_LANGUAGES": "ar"}, "texts", "check")
    assert "arabisk: sms sendes som UCS-2, 70 tegn i én del, 67 pr. del" in result.stdout


def test_the_spreadsheet_takes_arabic_only_once_it_is_on(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    sheet = tmp_path / "texts.csv"
    on = {"VENSKAB_TEXTS_DIR": str(folder), "VENSKAB_LANGUAGES": "ar"}
    cli(on, "texts", "export", str(sheet))
    rows = _rows(sheet)
    assert list(rows[0]) == ["id", "context", "plural", "form", "en", "ar", "da"]
    forms = [r for r in rows if r["id"] == "%(num)d problem: nothing was written"]
    assert [r["form"] for r in forms] == ["0", "1", "2", "3", "4", "5"]  # Arabic has six
    assert [bool(r["da"]) for r in forms] == [True, True, False, False, False, False]
    off = {"VENSKAB_TEXTS_DIR": str(folder)}
    result = cli(off, "texts", "import", str(sheet))
    assert result.exit_code == 2
    assert "texts.csv:1: kolonne ar: arabisk er ikke slået til" in result.stderr
    assert cli(on, "texts", "import", str(sheet)).exit_code == 0


def test_an_arabic_message_reads_from_the_right_and_the_languages_follow_the_setting() -> None:
    # The email layout and the web pages write <html dir="{{ direction() }}">.
    page = render.environment().from_string(
        '<html lang="{{ locale }}" dir="{{ direction() }}">{{ _("Reply with a number:") }}</html>'
    )
    assert page.render(locale="ar") == '<html lang="ar" dir="rtl">أجيبوا برقم:</html>'
    assert page.render(locale="da") == '<html lang="da" dir="ltr">Svar med et tal:</html>'
    # The bot and the web app ask i18n which languages to offer: the setting decides.
    assert cli({}, "texts", "check").exit_code == 2
    assert "ar" not in i18n.enabled_languages()
    assert cli({"VENSKAB_LANGUAGES": "ar"}, "texts", "check").exit_code == 2
    assert set(i18n.enabled_languages()) == {"da", "en", "ar"}


def test_a_texts_folder_that_is_not_there_is_a_clear_setting_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(SettingsError, match=r"VENSKAB_TEXTS_DIR: .* is not a folder"):
        load_settings({"VENSKAB_TEXTS_DIR": str(missing)})
    result = cli({"VENSKAB_TEXTS_DIR": str(missing)}, "texts", "check")
    assert result.exit_code == 2 and "VENSKAB_TEXTS_DIR" in result.stderr
    assert load_settings({"VENSKAB_TEXTS_DIR": str(tmp_path)}).texts_dir == tmp_path
