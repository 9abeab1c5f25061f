"""The waiting list and the certificates where staff look and where people's data goes: the Today
page's waiting list and the match page's certificates (each role sees its own), the household and
referral files' problems by line with nothing half-imported, and export and erasure of
everything stored about a household and a waiting child."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from followup.waiting import plan_waiting
from store.models import (
    Child,
    ContactPerson,
    HouseholdMember,
    Match,
    OutboxMessage,
    OutboxStatus,
    Referral,
    Staff,
    Task,
    VolunteerFamily,
    WaitStatus,
)
from store.models import Programme as ProgrammeRow
from tests.support import staff_app
from tests.support.cast import PROGRAMMES, make_match
from tests.support.staff_app import NOW, World, signed_in
from tests.test_cli import cli
from tests.test_year_simulation import ZONE
from venskab.cli.common import AppContext
from venskab.demo import replay, seed
from venskab.runtime import Runtime

_served = staff_app._served
world = staff_app.world


def _waiting_world(session: Session, match_id: int) -> None:
    """A waiting family and a waiting child in Hovedstaden; the first match's family with an
    adult whose child record certificate ran out and a child too young for certificates."""
    programme = session.scalars(
        select(ProgrammeRow).where(ProgrammeRow.slug == "hjem-til-os")
    ).one()
    match = session.get(Match, match_id)
    assert match is not None
    session.add(
        VolunteerFamily(
            name="Familien Venter",
            contact_name="Kontaktvoksen",
            phone="+4520123499",
            region="Hovedstaden",
            status=WaitStatus.WAITING,
            status_since=date(2026, 1, 5),
            programme_id=programme.id,
        )
    )
    parent = ContactPerson(name="Forælder H", phone="+4520123498")
    session.add(
        Referral(
            programme_id=programme.id,
            child=Child(first_name="Barn H", birth_year=2017),
            contact_person=parent,
            staff_id=match.staff_id,
            region="Hovedstaden",
            status=WaitStatus.WAITING,
            status_since=date(2026, 3, 30),
        )
    )
    session.add_all(
        [
            HouseholdMember(
                volunteer_family_id=match.volunteer_family_id,
                first_name="Voksen A",
                birth_year=1980,
                child_certificate_on=date(2024, 3, 1),
                criminal_record_on=date(2025, 6, 1),
            ),
            HouseholdMember(
                volunteer_family_id=match.volunteer_family_id,
                first_name="Lille A",
                birth_year=2016,
            ),
        ]
    )


def test_today_lists_who_waits_and_the_match_page_shows_the_certificates(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        _waiting_world(session, world.match)
    with world.client("coordinator") as client:
        today = client.get("/today").text
        waiting = today.split('id="waiting-h"')[1].split("</section>")[0]
        assert "Venteliste (2)" in today
        # Longest first; the family has waited past the programme's 12 weeks.
        assert waiting.index("Familien Venter") < waiting.index("Barn H")
        assert 'class="tag red">har ventet 14 uger' in waiting
        assert "Barn H" in waiting and "har ventet 2 uger" in waiting
        assert "+45" not in waiting
    with world.client("procesleder") as client:
        waiting = client.get("/today").text.split('id="waiting-h"')[1].split("</section>")[0]
        assert "Barn H" in waiting and "Familien Venter" not in waiting  # her own referral
        page = client.get(f"/matches/{world.match}").text
        household = page.split('id="household-h"')[1].split("</section>")[0]
        assert "Voksen A" in household and "(1980)" in household
        assert 'class="tag red">udløbet' in household  # the child record certificate
        assert "gyldig til" in household  # the criminal record certificate
        assert "Lille A" in household and "for ung til attest endnu" in household
    with world.client("other") as client:  # another region's procesleder
        assert "Venteliste (0)" in client.get("/today").text


def test_a_bad_household_or_referral_row_is_named_by_line_and_nothing_is_imported(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory.begin() as session:
        make_match(session)
        session.scalars(select(VolunteerFamily)).one().external_ref = "F-01"
    household = tmp_path / "household.csv"
    household.write_text(
        "family_ref;first_name;birth_year;child_certificate_on;criminal_record_on\n"
        "F-01;Voksen A;1980;2025-01-10;2025-01-12\n"
        "F-02;Voksen B;1981;;\n"
        "F-01;Ung 2;2011;;\n"
        "F-01;Voksen C;1985;2030-01-01;\n"
        "F-01;Voksen A;1980;;\n",
        encoding="utf-8",
    )
    result = cli(db_url, "import", "household", str(household), now=NOW)
    assert result.exit_code == 2
    assert "linje 3, kolonne family_ref: ingen venskabsfamilie med ref" in result.output
    assert "linje 4, kolonne first_name: fornavnet må ikke indeholde tal" in result.output
    assert "linje 5, kolonne child_certificate_on: " in result.output
    assert "ikke senere end i dag" in result.output
    assert "linje 6, kolonne first_name: den samme person står også på linje 2" in result.output
    referrals = tmp_path / "referrals.csv"
    referrals.write_text(
        "ref,programme,child_name,child_birth_year,contact_ref,status\n"
        "R-01,hjem-til-os,Barn H,2017,K-99,waiting\n"
        "R-02,hjem-til-os,0101901234,2017,,sometime\n",
        encoding="utf-8",
    )
    result = cli(db_url, "import", "referrals", str(referrals), now=NOW)
    assert result.exit_code == 2
    assert "linje 2, kolonne contact_ref: ingen kontaktperson med ref" in result.output
    assert "linje 3, kolonne child_name: ligner et CPR-nummer" in result.output
    assert "linje 3, kolonne status: " in result.output
    families = tmp_path / "families.csv"
    families.write_text(
        "ref,name,contact_name,phone,region,status\n"
        "F-05,Familien Ny,Kontaktvoksen,+45 2012 3455,Hovedstaden,waiting\n",
        encoding="utf-8",
    )
    result = cli(db_url, "import", "families", str(families), now=NOW)
    assert result.exit_code == 2
    assert "linje 2, kolonne programme: en familie, der venter på et match, skal have det" in (
        result.output
    )
    with session_factory() as session:
        assert session.scalars(select(HouseholdMember)).all() == []
        assert session.scalars(select(Referral)).all() == []
        assert len(session.scalars(select(VolunteerFamily)).all()) == 1


def test_export_holds_the_household_and_the_waiting_and_erasure_removes_them(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)
        _waiting_world(session, match.id)
        session.flush()
        plan_waiting(session, PROGRAMMES, NOW, ZONE, timedelta(days=60))
        ids = {
            "family": match.volunteer_family_id,
            "waiting_family": session.scalars(
                select(VolunteerFamily.id).where(VolunteerFamily.name == "Familien Venter")
            ).one(),
            "child": session.scalars(select(Referral.child_id)).one(),
            "parent": session.scalars(
                select(ContactPerson.id).where(ContactPerson.name == "Forælder H")
            ).one(),
        }
        titles = [t.title for t in session.scalars(select(Task))]
    assert any("Voksen A" in t and "børneattesten" in t for t in titles)
    assert any("Familien Venter har ventet" in t for t in titles)
    exported = cli(db_url, "person", "export", "family", str(ids["family"]), now=NOW)
    data = json.loads(exported.output)
    assert [(m["first_name"], m["birth_year"]) for m in data["household"]] == [
        ("Voksen A", 1980),
        ("Lille A", 2016),
    ]
    assert data["household"][0]["child_certificate_on"] == "2024-03-01"
    assert any("Voksen A" in t["title"] for t in data["waiting_tasks"])
    waiting = json.loads(
        cli(db_url, "person", "export", "family", str(ids["waiting_family"]), now=NOW).output
    )
    assert (waiting["record"]["status"], waiting["record"]["status_since"]) == (
        "waiting",
        "2026-01-05",
    )
    assert any(m["kind"] == "waiting_note" for m in waiting["messages"])
    child = json.loads(cli(db_url, "person", "export", "child", str(ids["child"]), now=NOW).output)
    assert [r["status"] for r in child["referrals"]] == ["waiting"]
    parent = json.loads(
        cli(db_url, "person", "export", "contact", str(ids["parent"]), now=NOW).output
    )
    assert len(parent["referrals"]) == 1 and parent["messages"][0]["kind"] == "waiting_note"

    later = NOW + timedelta(days=1)
    with session_factory.begin() as session:
        for m in session.scalars(select(Match)):  # a family's matches end before it goes
            m.status, m.end_date = m.status.ENDED, date(2026, 4, 1)
    for kind, key in (
        ("family", "family"),
        ("family", "waiting_family"),
        ("child", "child"),
        ("contact", "parent"),
    ):
        erased = cli(db_url, "person", "erase", kind, str(ids[key]), "--yes", now=later)
        assert erased.exit_code == 0, erased.output
    with session_factory() as session:
        assert session.scalars(select(HouseholdMember)).all() == []
        left = session.scalars(
            select(VolunteerFamily).where(VolunteerFamily.id == ids["waiting_family"])
        ).one()
        assert (left.status, left.status_since) == (WaitStatus.LEFT, later.date())
        referral = session.scalars(select(Referral)).one()
        assert (referral.status, referral.contact_person_id) == (WaitStatus.LEFT, None)
        everything = " ".join(t.title for t in session.scalars(select(Task)))
        for name in ("Voksen A", "Lille A", "Familien Venter", "Barn H"):
            assert name not in everything
        pending = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "waiting_note", OutboxMessage.status == OutboxStatus.PLANNED
            )
        ).all()
        assert pending == []
        # Planning again sends nothing to anyone erased.
        assert plan_waiting(session, PROGRAMMES, later, ZONE, timedelta(days=60)).notes == 0
        assert session.scalars(select(Staff)).first() is not None


def test_the_example_files_import_with_a_waiting_child_and_the_households(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    for kind in ("staff", "families", "contacts", "matches", "referrals", "household"):
        result = cli(db_url, "import", kind, str(examples / f"{kind}.csv"), now=NOW)
        assert result.exit_code == 0, result.output
    with session_factory() as session:
        assert len(session.scalars(select(HouseholdMember)).all()) == 3
        referral = session.scalars(select(Referral)).one()
        assert (referral.status, referral.child.first_name) == (WaitStatus.WAITING, "Barn H")


async def test_the_demo_has_people_waiting_and_certificates_to_renew(
    db_url: str, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, _engine=engine)
    seed(app, now)
    await replay(app, now, Runtime)
    with session_factory() as session:
        notes = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "waiting_note", OutboxMessage.status == OutboxStatus.SENT
            )
        ).all()
        # The family waiting 13 weeks heard from us after 6 and 12; the child's parent after 6.
        assert sorted(n.audience.value for n in notes) == [
            "contact_person",
            "volunteer_family",
            "volunteer_family",
        ]
        assert all("Vi har ikke glemt" in (n.body or "") for n in notes)
        titles = [t.title for t in session.scalars(select(Task))]
        assert any(t.startswith("Venskabsfamilie 4 (demo) har ventet 12 uger") for t in titles)
        assert any(t.startswith("Forny børneattesten for Voksen A") for t in titles)
        assert any(
            t.startswith("Ung A (Venskabsfamilie 1 (demo)) fylder 15 i 2026") for t in titles
        )
    report = cli(db_url, "report", "waiting", now=now)
    assert report.exit_code == 0
    assert report.output.count("waiting,") >= 2 and ",screening," in report.output


def test_the_import_page_refuses_a_match_for_a_family_lacking_a_certificate(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match = session.get(Match, world.match)
        assert match is not None and match.staff is not None
        match.staff.external_ref, match.contacts[0].external_ref = "S-W", "K-W"
        family = VolunteerFamily(
            name="Familien Ny",
            contact_name="Kontaktvoksen",
            phone="+4520123477",
            external_ref="F-W",
        )
        session.add(family)
        session.flush()
        session.add(
            HouseholdMember(volunteer_family_id=family.id, first_name="Ung C", birth_year=2010)
        )
    rows = (
        "ref,programme,child_name,child_birth_year,family_ref,contact_refs,staff_ref,region,"
        "start_date,visit_weekday\n"
        "M-W,hjem-til-os,Barn W,2017,F-W,K-W,S-W,,2026-05-04,monday\n"
    )
    with signed_in(world.url, session_factory) as (client, csrf):
        form = client.get("/import?lang=da").text
        assert "Husstande og attester" in form and "Børn på venteliste" in form
        files = {"file": ("matches.csv", rows.encode(), "text/csv")}
        answer = client.post(
            f"/import/check?lang=en&csrf={csrf}", data={"kind": "matches"}, files=files
        )
        assert answer.status_code == 422 and "Nothing was saved." in answer.text
        assert '<td class="n">2</td><td class="c">family_ref</td>' in answer.text
        assert (
            "Ung C (born 2010) has neither a valid child record certificate nor a valid criminal"
            in answer.text
        )
        files = {"file": ("matches.csv", rows.encode(), "text/csv")}
        danish = client.post(
            f"/import/check?lang=da&csrf={csrf}", data={"kind": "matches"}, files=files
        )
        assert danish.status_code == 422
        assert "venskabsfamilien kan ikke matches fra 2026-05-04" in danish.text
        assert (
            "Ung C (født 2010) har hverken en gyldig børneattest eller en gyldig straffeattest"
            in (danish.text)
        )
    with session_factory() as session:
        assert session.scalars(select(Match).where(Match.external_ref == "M-W")).first() is None
