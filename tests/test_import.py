"""CSV import, as an organisation runs it: `venskab import KIND FILE` against the test database."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from store.models import (
    AuditEntry,
    Cadence,
    Channel,
    Child,
    ContactPerson,
    Locale,
    Match,
    Staff,
    StaffRole,
    VolunteerFamily,
)
from tests.support.terminal import run_at_a_terminal
from venskab.cli import main
from venskab.cli.common import AppContext

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PEOPLE_FILES = (("staff", "staff.csv"), ("families", "families.csv"), ("contacts", "contacts.csv"))
MATCHES_HEADER = (
    "ref,programme,child_name,child_birth_year,family_ref,contact_refs,staff_ref,region,"
    "start_date,visit_weekday,visit_time,cadence,sibling"
)
GOOD_MATCH = "M-20,hjem-til-os,Barn D,2017,F-01,K-01,S-01,,2026-03-02,monday,15:30,,no"
FAMILIES_HEADER = "ref,name,contact_name,phone,email,region,locale"
GOOD_FAMILY = "F-20,Venskabsfamilie 20,Kontaktvoksen 20,+45 2012 3420,familie20@example.org,Fyn,da"


def cli(db_url: str, *args: str | Path, lang: str | None = None) -> Result:
    """The command line as staff use it: Danish unless ``lang`` (``venskab --lang``) says."""
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url})
    chosen = ["--lang", lang] if lang else []
    return CliRunner().invoke(main, [*chosen, *(str(a) for a in args)], obj=app)


def import_examples(db_url: str, *, matches: bool = True) -> None:
    files = [*PEOPLE_FILES, ("matches", "matches.csv")] if matches else list(PEOPLE_FILES)
    for kind, name in files:
        result = cli(db_url, "import", kind, EXAMPLES / name)
        assert result.exit_code == 0, result.output


def counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Staff, VolunteerFamily, ContactPerson, Child, Match, AuditEntry)
        }


def write(tmp_path: Path, name: str, *lines: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def match_by_ref(session: Session, ref: str) -> Match:
    return session.scalars(
        select(Match)
        .where(Match.external_ref == ref)
        .options(
            selectinload(Match.contacts),
            selectinload(Match.child),
            selectinload(Match.programme),
            selectinload(Match.volunteer_family),
            selectinload(Match.staff),
        )
    ).one()


def test_it_imports_the_four_example_files_in_order(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    outputs = [
        cli(db_url, "import", kind, EXAMPLES / name)
        for kind, name in [*PEOPLE_FILES, ("matches", "matches.csv")]
    ]
    assert [r.exit_code for r in outputs] == [0, 0, 0, 0], [r.output for r in outputs]
    assert [r.output.strip() for r in outputs] == [
        "staff.csv: 3 oprettet, 0 opdateret",
        "families.csv: 3 oprettet, 0 opdateret",
        "contacts.csv: 4 oprettet, 0 opdateret",
        "matches.csv: 3 oprettet, 0 opdateret",
    ]
    with session_factory() as session:
        first = match_by_ref(session, "M-01")
        assert first.programme.slug == "hjem-til-os"
        assert (first.child.first_name, first.child.birth_year) == ("Barn A", 2018)
        assert first.volunteer_family.external_ref == "F-01"
        assert [c.external_ref for c in first.contacts] == ["K-01", "K-02"]
        assert first.staff is not None and first.staff.external_ref == "S-01"
        assert (first.start_date, first.visit_weekday, first.visit_time) == (
            date(2026, 3, 2),
            0,
            time(15, 30),
        )
        assert first.cadence == Cadence.WEEKLY and first.sibling is False
        second = match_by_ref(session, "M-02")
        assert second.region == "Midtjylland"  # empty: the family's region
        assert second.cadence == Cadence.TWO_THREE_MONTHLY  # empty: the programme's cadence
        third = match_by_ref(session, "M-03")
        assert (
            third.cadence == Cadence.BIWEEKLY and third.sibling is True and third.visit_time is None
        )

        family = session.scalars(
            select(VolunteerFamily).where(VolunteerFamily.external_ref == "F-01")
        ).one()
        assert (family.phone, family.email) == ("+4520123411", "familie1@example.org")
        coordinator = session.scalars(select(Staff).where(Staff.external_ref == "S-03")).one()
        assert (coordinator.role, coordinator.locale, coordinator.region) == (
            StaffRole.COORDINATOR,
            Locale.EN,
            "",
        )
        parent = session.scalars(
            select(ContactPerson).where(ContactPerson.external_ref == "K-04")
        ).one()
        assert parent.preferred_channel == Channel.SMS and parent.email is None

        audits = session.scalars(select(AuditEntry).where(AuditEntry.actor == "cli:import")).all()
        assert len(audits) == 3 + 3 + 4 + 3
        assert {a.action for a in audits} == {"import.create"}
        for entry in audits:
            assert "@" not in str(entry.details) and "+45" not in str(entry.details)


def test_it_updates_on_reimport_without_duplicates(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    import_examples(db_url)
    before = counts(session_factory)
    for kind, name in [*PEOPLE_FILES, ("matches", "matches.csv")]:
        again = cli(db_url, "import", kind, EXAMPLES / name)
        assert again.exit_code == 0 and "0 oprettet, 0 opdateret" in again.output
    assert counts(session_factory) == before  # no duplicates, and no audit entries for no change
    with session_factory() as session:
        versions = {m.external_ref: m.plan_version for m in session.scalars(select(Match))}

    lines = (EXAMPLES / "families.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = "F-02,Venskabsfamilie 2,Kontaktvoksen 2,+45 2012 3499,,Midtjylland,da"
    families = write(tmp_path, "families.csv", *lines)
    changed = cli(db_url, "import", "families", families)
    assert changed.exit_code == 0, changed.output
    assert changed.output.strip() == "families.csv: 0 oprettet, 1 opdateret, 2 uændret"

    lines = (EXAMPLES / "matches.csv").read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace("2026-03-02", "2026-03-09")
    moved = cli(db_url, "import", "matches", write(tmp_path, "matches.csv", *lines), lang="en")
    assert moved.output.strip() == "matches.csv: 0 created, 1 updated, 2 unchanged"

    after = counts(session_factory)
    assert after == {**before, "AuditEntry": before["AuditEntry"] + 2}
    with session_factory() as session:
        family = session.scalars(
            select(VolunteerFamily).where(VolunteerFamily.external_ref == "F-02")
        ).one()
        assert family.phone == "+4520123499"
        update = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "import.update", AuditEntry.entity == "volunteer_family"
            )
        ).one()
        assert update.entity_id == family.id and update.details == {"line": 3, "fields": ["phone"]}
        first = match_by_ref(session, "M-01")
        assert first.start_date == date(2026, 3, 9)
        new_versions = {m.external_ref: m.plan_version for m in session.scalars(select(Match))}
        # M-01 moved, M-02 belongs to the family whose phone changed: both are re-planned.
        assert new_versions == {
            "M-01": versions["M-01"] + 1,
            "M-02": versions["M-02"] + 1,
            "M-03": versions["M-03"],
        }


def test_it_reads_semicolons_a_bom_and_danish_weekdays(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    import_examples(db_url, matches=False)
    excel = cli(db_url, "import", "matches", EXAMPLES / "matches-excel-da.csv")
    assert excel.exit_code == 0, excel.output
    assert excel.output.strip() == "matches-excel-da.csv: 3 oprettet, 0 opdateret"
    with session_factory() as session:
        assert {m.external_ref: m.visit_weekday for m in session.scalars(select(Match))} == {
            "M-01": 0,
            "M-02": 2,
            "M-03": 1,
        }
        assert match_by_ref(session, "M-02").visit_time == time(16, 0)  # written 16.00
        assert match_by_ref(session, "M-03").sibling is True  # written ja
    # The same matches as the comma-separated example, so importing that one changes nothing.
    same = cli(db_url, "import", "matches", EXAMPLES / "matches.csv")
    assert same.output.strip() == "matches.csv: 0 oprettet, 0 opdateret, 3 uændret"

    semicolons = write(
        tmp_path,
        "familier.csv",
        "REF; Name; Contact_Name; Phone; Email; Region",
        "F-30;Venskabsfamilie Ø;Kontaktvoksen på Ærø;20 12 34 30;;Sjælland",
        encoding="utf-8-sig",
    )
    result = cli(db_url, "import", "families", semicolons)
    assert result.exit_code == 0, result.output
    with session_factory() as session:
        family = session.scalars(
            select(VolunteerFamily).where(VolunteerFamily.external_ref == "F-30")
        ).one()
        assert (family.name, family.contact_name) == ("Venskabsfamilie Ø", "Kontaktvoksen på Ærø")
        assert (family.phone, family.region, family.locale) == (
            "+4520123430",
            "Sjælland",
            Locale.DA,
        )


# Bad rows, and the problem staff read (in English here: `venskab --lang en`).
BAD_ROWS = [
    pytest.param(
        "families",
        [FAMILIES_HEADER, GOOD_FAMILY, "F-21,Venskabsfamilie 21,Voksen,+45 12,,Fyn,da"],
        "line 3, column phone: not a valid phone number (check the digits and the country code)",
        id="bad phone",
    ),
    pytest.param(
        "families",
        [FAMILIES_HEADER, GOOD_FAMILY, "F-21,Venskabsfamilie 21,Voksen,,nobody@,Fyn,da"],
        "line 3, column email: not a valid email address",
        id="bad email",
    ),
    pytest.param(
        "families",
        [FAMILIES_HEADER, GOOD_FAMILY, "F-21,Venskabsfamilie 21,Voksen,,,Fyn,da"],
        "line 3, column phone: give a phone number or an email address (at least one)",
        id="no address",
    ),
    pytest.param(
        "families",
        [
            FAMILIES_HEADER,
            "F-21,Familien 010203-1234,Voksen,+45 2012 3421,,Fyn,da",
            GOOD_FAMILY,
        ],
        "line 2, column name: looks like a CPR number; CPR numbers must never be imported",
        id="CPR in a family name",
    ),
    pytest.param(
        "families",
        ["ref,name,phone,email,region", "F-21,Venskabsfamilie 21,+45 2012 3421,,Fyn"],
        "line 1, column contact_name: this required column is missing",
        id="missing column",
    ),
    pytest.param(
        "families",
        [FAMILIES_HEADER + ",telefon", GOOD_FAMILY + ",+45 2012 3422"],
        "line 1, column 'telefon': unknown column (check the spelling",
        id="unknown column",
    ),
    pytest.param(
        "matches",
        [
            MATCHES_HEADER,
            GOOD_MATCH,
            GOOD_MATCH.replace("M-20", "M-21").replace("2026-03-02", "2026-02-30"),
        ],
        "line 3, column start_date: '2026-02-30' is not a date such as 2026-03-02 (YYYY-MM-DD)",
        id="bad date",
    ),
    pytest.param(
        "matches",
        [
            MATCHES_HEADER,
            GOOD_MATCH.replace("M-20", "M-21").replace("hjem-til-os", "hjem-til-dem"),
            GOOD_MATCH,
        ],
        "line 2, column programme: no programme 'hjem-til-dem' (the programmes are "
        "familien-i-fokus, hjem-til-os, mentorbarn)",
        id="unknown programme",
    ),
    pytest.param(
        "matches",
        [
            MATCHES_HEADER,
            GOOD_MATCH,
            GOOD_MATCH.replace("M-20", "M-21").replace("F-01", "F-99"),
        ],
        "line 3, column family_ref: no volunteer family with ref 'F-99' (import families first)",
        id="unknown family ref",
    ),
    pytest.param(
        "matches",
        [
            MATCHES_HEADER,
            GOOD_MATCH,
            GOOD_MATCH.replace("M-20", "M-21").replace("Barn D", "0102031234"),
        ],
        "line 3, column child_name: looks like a CPR number; CPR numbers must never be imported",
        id="CPR as a child's name",
    ),
    pytest.param(
        "matches",
        [
            MATCHES_HEADER,
            GOOD_MATCH,
            GOOD_MATCH.replace("M-20", "M-21").replace("monday", "mondag"),
        ],
        "line 3, column visit_weekday: 'mondag' is not a weekday: "
        "monday..sunday, mandag..søndag or 0-6",
        id="bad weekday",
    ),
    pytest.param(
        "matches",
        [
            MATCHES_HEADER,
            GOOD_MATCH,
            GOOD_MATCH.replace("M-20", "M-21").replace("monday", "+45 2012 3401"),
        ],
        "line 3, column visit_weekday: a value that looks like a phone number or an email "
        "address is not a weekday",
        id="a phone number in the wrong column",
    ),
    pytest.param(
        "matches",
        [MATCHES_HEADER, GOOD_MATCH, GOOD_MATCH],
        "line 3, column ref: the ref 'M-20' is used on line 2 too",
        id="duplicate ref",
    ),
    pytest.param(
        "families",
        [FAMILIES_HEADER, GOOD_FAMILY.replace("Venskabsfamilie 20", "Venskab\x00sfamilie")],
        "line 2, column name: contains a control character (such as NUL or ESC); remove it",
        id="a name with NUL",
    ),
    pytest.param(
        "matches",
        [MATCHES_HEADER, GOOD_MATCH.replace("Barn D", "\x1b[2J\x1b[31mBarn")],
        "line 2, column child_name: contains a control character (such as NUL or ESC); remove it",
        id="a name with a terminal escape sequence",
    ),
]


@pytest.mark.parametrize(("kind", "lines", "expected"), BAD_ROWS)
def test_it_names_file_line_and_column_of_a_bad_row_and_writes_nothing(
    db_url: str,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    kind: str,
    lines: list[str],
    expected: str,
) -> None:
    import_examples(db_url, matches=False)
    before = counts(session_factory)
    result = cli(db_url, "import", kind, write(tmp_path, f"{kind}.csv", *lines), lang="en")
    assert result.exit_code == 2, result.output
    assert f"{kind}.csv: 1 problem, nothing was imported" in result.output
    assert f"{kind}.csv, {expected}" in result.output
    assert counts(session_factory) == before
    for secret in ("+45 12", "nobody@", "2012 34", "Voksen", "Barn D"):
        assert secret not in result.output


# The same bad rows, as staff read them by default: in Danish.
IN_DANISH = {
    "bad date": "linje 3, kolonne start_date: '2026-02-30' er ikke en dato som 2026-03-02 "
    "(ÅÅÅÅ-MM-DD)",
    "unknown family ref": "linje 3, kolonne family_ref: ingen venskabsfamilie med ref 'F-99' "
    "(importér familier først)",
    "a phone number in the wrong column": "linje 3, kolonne visit_weekday: en værdi, der ligner "
    "et telefonnummer eller en e-mailadresse er ikke en ugedag",
    "unknown column": "linje 1, kolonne 'telefon': ukendt kolonne (tjek stavningen; kolonnerne "
    "er ref,",
    "CPR as a child's name": "linje 3, kolonne child_name: ligner et CPR-nummer; CPR-numre må "
    "aldrig importeres",
}


@pytest.mark.parametrize(
    ("kind", "lines", "expected"),
    [
        pytest.param(*row.values[:2], IN_DANISH[row.id], id=row.id)
        for row in BAD_ROWS
        if row.id in IN_DANISH
    ],
)
def test_staff_read_the_problems_in_danish_by_default(
    db_url: str,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    kind: str,
    lines: list[str],
    expected: str,
) -> None:
    import_examples(db_url, matches=False)
    result = cli(db_url, "import", kind, write(tmp_path, f"{kind}.csv", *lines))
    assert result.exit_code == 2, result.output
    assert f"{kind}.csv: 1 problem, intet blev importeret" in result.output
    assert f"{kind}.csv, {expected}" in result.output, result.output
    assert counts(session_factory)["Match"] == 0


def test_it_reports_every_bad_row_at_once_up_to_twenty(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = [f"F-{n},Venskabsfamilie {n},Voksen,+45 {n},,Fyn,da" for n in range(100, 125)]
    result = cli(
        db_url,
        "import",
        "families",
        write(tmp_path, "families.csv", FAMILIES_HEADER, GOOD_FAMILY, *rows),
    )
    assert result.exit_code == 2
    assert "families.csv: 25 problemer, intet blev importeret" in result.output
    assert "families.csv, linje 3, kolonne phone: ikke et gyldigt telefonnummer" in result.output
    assert "families.csv, linje 22, kolonne phone" in result.output
    assert "linje 23," not in result.output and "... og 5 mere" in result.output
    assert counts(session_factory)["VolunteerFamily"] == 0


def test_it_refuses_a_file_that_is_not_utf8(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "families.csv",
        FAMILIES_HEADER,
        GOOD_FAMILY.replace("Fyn", "Sjælland"),
        encoding="cp1252",
    )
    result = cli(db_url, "import", "families", path)
    assert result.exit_code == 2
    assert "families.csv, linje 2: filen er ikke UTF-8-tekst; gem den i Excel" in result.output


def test_a_dry_run_checks_the_file_and_writes_nothing(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    result = cli(db_url, "import", "staff", EXAMPLES / "staff.csv", "--dry-run")
    assert result.exit_code == 0, result.output
    assert (
        result.output.strip() == "staff.csv: 3 oprettet, 0 opdateret (prøvekørsel: intet blev gemt)"
    )
    english = cli(db_url, "import", "staff", EXAMPLES / "staff.csv", "--dry-run", lang="en")
    assert (
        english.output.strip() == "staff.csv: 3 created, 0 updated (dry run: nothing was written)"
    )
    assert counts(session_factory)["Staff"] == 0


def test_a_contact_without_a_phone_prefers_email_unless_told_otherwise(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    header = "ref,name,relation,phone,email,locale,preferred_channel"
    asked_for_sms = cli(
        db_url,
        "import",
        "contacts",
        write(tmp_path, "contacts.csv", header, "K-30,Forælder 30,parent,,f30@example.org,da,sms"),
        lang="en",
    )
    assert asked_for_sms.exit_code == 2
    assert "contacts.csv, line 2, column preferred_channel: sms needs a phone number" in (
        asked_for_sms.output
    )
    left_empty = cli(
        db_url,
        "import",
        "contacts",
        write(tmp_path, "contacts.csv", header, "K-30,Forælder 30,Parent,,f30@example.org,EN,"),
    )
    assert left_empty.exit_code == 0, left_empty.output
    with session_factory() as session:
        contact = session.scalars(select(ContactPerson)).one()
        assert (contact.preferred_channel, contact.relation, contact.locale) == (
            Channel.EMAIL,
            "parent",
            Locale.EN,
        )


def test_a_long_import_shows_its_progress_on_a_terminal_and_its_summary_at_the_end(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Six hundred families, imported at a terminal (stderr is a pseudo-terminal here): a bar
    while the rows are checked and another while they are written, then one summary line."""
    rows = [
        f"F-{n:03d},Venskabsfamilie {n},Kontaktvoksen {n},+45 20 12 {n // 100:02d} {n % 100:02d},,Fyn,da"
        for n in range(600)
    ]
    big = write(tmp_path, "families.csv", FAMILIES_HEADER, *rows)
    done, terminal = run_at_a_terminal(
        ["import", "families", str(big)], {"VENSKAB_DATABASE_URL": db_url}
    )
    assert done.returncode == 0, terminal
    assert "kontrollerer rækker" in terminal and "skriver rækker" in terminal and "100%" in terminal
    assert "600" in done.stdout and "checking" not in done.stdout  # the summary, on stdout
    assert counts(session_factory)["VolunteerFamily"] == 600
