"""Every person's data: `venskab person export` and `venskab person erase`, on the test database."""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import (
    RSVP,
    Audience,
    AuditEntry,
    CancelledBy,
    Channel,
    CheckIn,
    Child,
    ContactPerson,
    Escalation,
    Match,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    SparringRSVP,
    SparringSession,
    Staff,
    SurveyInvitation,
    SurveyResponse,
    Task,
    Visit,
    VisitStatus,
    VolunteerFamily,
)
from tests.test_import import cli, import_examples

SENT = datetime(2026, 3, 9, 18, 0, tzinfo=UTC)
FAMILY_TEXT = "Vi bagte boller og gik en tur"
CHECKIN_TEXT = "Det gik godt, lidt stille i starten"
WORRY_TEXT = "Bekymret: barnet var meget ked af det"


@dataclass
class History:
    family: int
    other_family: int
    contact: int
    other_contact: int
    child: int
    staff: int
    match: int


def by_ref(session: Session, model: Any, ref: str) -> int:
    return int(session.scalars(select(model.id).where(model.external_ref == ref)).one())


def message(
    match_id: int,
    key: str,
    audience: Audience,
    recipient: int,
    body: str | None,
    status: OutboxStatus = OutboxStatus.SENT,
    channel: Channel = Channel.SMS,
) -> OutboxMessage:
    return OutboxMessage(
        idempotency_key=key,
        match_id=match_id,
        touchpoint_id="welcome",
        occurrence_key="0",
        kind="message",
        template="welcome",
        audience=audience,
        recipient_id=recipient,
        channel=channel,
        due_at=SENT,
        status=status,
        body=body,
        sent_at=SENT if status == OutboxStatus.SENT else None,
        last_error="provider said +4520123421 is unreachable"
        if status == OutboxStatus.FAILED
        else None,
    )


def seed_history(db_url: str, factory: sessionmaker[Session]) -> History:
    """The example files, then a few weeks of a match's life: visits, check-ins, messages,
    a sparring RSVP, survey answers, an escalation and a task note."""
    import_examples(db_url)
    with factory.begin() as session:
        family, other_family = (
            by_ref(session, VolunteerFamily, "F-01"),
            by_ref(session, VolunteerFamily, "F-03"),
        )
        contact, other_contact = (
            by_ref(session, ContactPerson, "K-01"),
            by_ref(session, ContactPerson, "K-04"),
        )
        match = session.scalars(select(Match).where(Match.external_ref == "M-01")).one()
        other_match = session.scalars(select(Match).where(Match.external_ref == "M-03")).one()
        visit = Visit(
            match_id=match.id,
            planned_date=date(2026, 3, 9),
            status=VisitStatus.VISITED,
            note=FAMILY_TEXT,
        )
        cancelled = Visit(
            match_id=match.id,
            planned_date=date(2026, 3, 16),
            status=VisitStatus.CANCELLED,
            cancelled_by=CancelledBy.ILLNESS,
        )
        other_visit = Visit(
            match_id=other_match.id,
            planned_date=date(2026, 4, 14),
            status=VisitStatus.VISITED,
            note="Anden families note",
        )
        session.add_all([visit, cancelled, other_visit])
        session.flush()
        session.add_all(
            [
                CheckIn(match_id=match.id, visit_id=visit.id, mood=4, text=CHECKIN_TEXT),
                CheckIn(match_id=other_match.id, mood=5, text="Anden families check-in"),
                message(
                    match.id,
                    "k1",
                    Audience.VOLUNTEER_FAMILY,
                    family,
                    "Hej Kontaktvoksen 1, velkommen",
                ),
                message(
                    match.id, "k2", Audience.VOLUNTEER_FAMILY, family, None, OutboxStatus.PLANNED
                ),
                message(
                    match.id,
                    "k3",
                    Audience.CONTACT_PERSON,
                    contact,
                    "Hej Forælder 1, Barn A starter",
                ),
                message(
                    match.id, "k4", Audience.CONTACT_PERSON, contact, None, OutboxStatus.FAILED
                ),
                message(
                    match.id,
                    "k5",
                    Audience.STAFF,
                    match.staff_id or 0,
                    "Ring til forælder. Procesleder Hovedstaden, procesleder1@example.org",
                    channel=Channel.EMAIL,
                ),
                message(
                    other_match.id,
                    "k6",
                    Audience.VOLUNTEER_FAMILY,
                    other_family,
                    "Hej Kontaktvoksen 3",
                ),
                Escalation(
                    match_id=match.id,
                    rule="worry",
                    summary=WORRY_TEXT,
                    resolution_note="Talt med forælder",
                    evidence=[{"at": SENT.isoformat(), "text": WORRY_TEXT, "mood": 1}],
                ),
                Task(
                    match_id=match.id,
                    kind="call",
                    title="Ring til forælder",
                    due_at=SENT,
                    outcome_note="Forælder 1 var glad",
                    owner_id=match.staff_id,
                ),
            ]
        )
        sparring = SparringSession(programme_id=match.programme_id, starts_at=SENT)
        session.add(sparring)
        session.flush()
        session.add_all(
            [
                SparringRSVP(session_id=sparring.id, volunteer_family_id=family, answer=RSVP.YES),
                SparringRSVP(
                    session_id=sparring.id, volunteer_family_id=other_family, answer=RSVP.NO
                ),
            ]
        )
        invitation = SurveyInvitation(
            match_id=match.id,
            contact_person_id=contact,
            survey_id="sample",
            wave="baseline",
            nonce="n1",
            token_hash="h1",
            expires_at=datetime(2027, 1, 1, tzinfo=UTC),
            sent_at=SENT,
            completed_at=SENT,
        )
        other_invitation = SurveyInvitation(
            match_id=other_match.id,
            contact_person_id=other_contact,
            survey_id="sample",
            wave="baseline",
            nonce="n2",
            token_hash="h2",
            expires_at=datetime(2027, 1, 1, tzinfo=UTC),
        )
        session.add_all([invitation, other_invitation])
        session.flush()
        session.add_all(
            [
                SurveyResponse(invitation_id=invitation.id, question_id="q1", value="4"),
                SurveyResponse(
                    invitation_id=invitation.id, question_id="comment", value="Et godt tilbud"
                ),
                SurveyResponse(invitation_id=other_invitation.id, question_id="q1", value="2"),
            ]
        )
        return History(
            family,
            other_family,
            contact,
            other_contact,
            match.child_id,
            match.staff_id or 0,
            match.id,
        )


def export(db_url: str, kind: str, ident: int | str) -> dict[str, Any]:
    result = cli(db_url, "person", "export", kind, str(ident))
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def end_match(db_url: str, match_id: int) -> None:
    result = cli(
        db_url, "match", "end", str(match_id), "--on", "2026-06-01", "--by", "volunteer_family"
    )
    assert result.exit_code == 0, result.output


def erase(db_url: str, kind: str, ident: int) -> Result:
    return cli(db_url, "person", "erase", kind, str(ident), "--yes")


def test_it_exports_everything_held_about_a_family_and_nothing_of_another(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    seen = seed_history(db_url, session_factory)
    data = export(db_url, "family", "ref:F-01")
    assert data["kind"] == "family" and data["record"]["id"] == seen.family
    assert (
        data["record"]["phone"] == "+4520123411"
        and data["record"]["email"] == "familie1@example.org"
    )
    assert data["record"]["contact_name"] == "Kontaktvoksen 1"
    assert [m["id"] for m in data["matches"]] == [seen.match]
    assert (
        data["matches"][0]["programme"] == "hjem-til-os"
        and data["matches"][0]["status"] == "active"
    )
    assert [(v["status"], v["note"]) for v in data["visits"]] == [
        ("visited", FAMILY_TEXT),
        ("cancelled", None),
    ]
    assert [(c["mood"], c["text"]) for c in data["checkins"]] == [(4, CHECKIN_TEXT)]
    assert [(m["status"], m["channel"], m["body"]) for m in data["messages"]] == [
        ("sent", "sms", "Hej Kontaktvoksen 1, velkommen"),
        ("planned", "sms", None),
    ]
    assert [r["answer"] for r in data["sparring_rsvps"]] == ["yes"]
    text = json.dumps(data, ensure_ascii=False)
    for other in (
        "Forælder 1",
        "+4520123421",
        "foraelder1@example.org",
        "Barn A",
        "Kontaktvoksen 3",
        "Venskabsfamilie 3",
        "Anden families",
        "familie3@example.org",
        "Et godt tilbud",
    ):
        assert other not in text
    assert export(db_url, "family", str(seen.family))["record"] == data["record"]


def test_it_exports_a_contact_with_messages_and_survey_answers_to_a_private_file(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    seen = seed_history(db_url, session_factory)
    out = tmp_path / "forælder.json"
    result = cli(db_url, "person", "export", "contact", str(seen.contact), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"skrev alt, hvad vi har om contact {seen.contact}, til " in result.output
    assert "+45" not in result.output  # the data goes to the file only
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["record"]["name"] == "Forælder 1" and data["record"]["phone"] == "+4520123421"
    assert [m["body"] for m in data["messages"]] == ["Hej Forælder 1, Barn A starter", None]
    assert len(data["surveys"]) == 1
    assert {(r["question_id"], r["value"]) for r in data["surveys"][0]["responses"]} == {
        ("q1", "4"),
        ("comment", "Et godt tilbud"),
    }
    text = json.dumps(data, ensure_ascii=False)
    for other in (
        "Kontaktvoksen",
        "+4520123411",
        "familie1@example.org",
        CHECKIN_TEXT,
        "Forælder 2",
    ):
        assert other not in text
    with session_factory() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "person.export")
        ).one()
        assert (entry.actor, entry.entity, entry.entity_id) == (
            "cli",
            "contact_person",
            seen.contact,
        )


def test_it_exports_a_child_and_a_staff_member(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    seen = seed_history(db_url, session_factory)
    child = export(db_url, "child", seen.child)
    assert (child["record"]["first_name"], child["record"]["birth_year"]) == ("Barn A", 2018)
    assert [m["id"] for m in child["matches"]] == [seen.match]
    assert "Kontaktvoksen" not in json.dumps(child, ensure_ascii=False)
    staff = export(db_url, "staff", "ref:S-01")
    assert staff["record"]["email"] == "procesleder1@example.org"
    assert len(staff["matches"]) == 2 and [t["title"] for t in staff["tasks"]] == [
        "Ring til forælder"
    ]
    assert [m["channel"] for m in staff["messages"]] == ["email"]
    assert "Forælder 1 var glad" not in json.dumps(staff, ensure_ascii=False)


def test_it_erases_a_family_but_keeps_the_statistics(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    seen = seed_history(db_url, session_factory)
    end_match(db_url, seen.match)
    result = erase(db_url, "family", seen.family)
    assert result.exit_code == 0, result.output
    assert f"family {seen.family} er slettet; 1 match er gemt til statistikken" in result.output
    assert "1 tekst fra tjek-ind ryddet" in result.output
    assert "1 tilmelding til sparring slettet" in result.output
    with session_factory() as session:
        family = session.get(VolunteerFamily, seen.family)
        assert family is not None
        assert (family.name, family.contact_name, family.phone, family.email) == (
            "erased",
            "erased",
            None,
            None,
        )
        assert family.telegram_chat_id is None and family.external_ref is None
        match = session.get(Match, seen.match)
        assert (
            match is not None
            and match.status == MatchStatus.ENDED
            and match.end_date == date(2026, 6, 1)
        )
        visits = session.scalars(
            select(Visit).where(Visit.match_id == seen.match).order_by(Visit.planned_date)
        ).all()
        assert [(v.status, v.note) for v in visits] == [
            (VisitStatus.VISITED, None),
            (VisitStatus.CANCELLED, None),
        ]
        checkin = session.scalars(select(CheckIn).where(CheckIn.match_id == seen.match)).one()
        assert (checkin.mood, checkin.text) == (4, None)
        messages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.match_id == seen.match)
        ).all()
        assert all(m.body is None for m in messages)
        assert {m.idempotency_key: m.status for m in messages}["k1"] == OutboxStatus.SENT
        assert {m.idempotency_key: m.status for m in messages}["k2"] == OutboxStatus.CANCELLED
        assert {m.idempotency_key: m.sent_at for m in messages}["k1"] == SENT
        escalation = session.scalars(
            select(Escalation).where(Escalation.match_id == seen.match)
        ).one()
        assert (
            WORRY_TEXT not in str(escalation.evidence) + escalation.summary
            and escalation.resolution_note is None
        )
        assert escalation.evidence[0]["mood"] == 1
        task = session.scalars(select(Task).where(Task.match_id == seen.match)).one()
        assert task.outcome_note is None and task.title == "Ring til forælder"
        assert [r.volunteer_family_id for r in session.scalars(select(SparringRSVP))] == [
            seen.other_family
        ]
        # The other family's data is untouched.
        other = session.get(VolunteerFamily, seen.other_family)
        assert other is not None and other.email == "familie3@example.org"
        assert session.scalars(
            select(OutboxMessage.body).where(OutboxMessage.idempotency_key == "k6")
        ).one()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "person.erase")).one()
        assert (entry.entity, entry.entity_id, entry.details["checkin_texts_cleared"]) == (
            "volunteer_family",
            seen.family,
            1,
        )
        assert "Kontaktvoksen" not in str(entry.details) and "@" not in str(entry.details)

    again = export(db_url, "family", seen.family)
    text = json.dumps(again, ensure_ascii=False)
    for gone in (
        "+4520123411",
        "familie1@example.org",
        "Familien Eksempel",
        "Kontaktvoksen 1",
        FAMILY_TEXT,
        CHECKIN_TEXT,
        "F-01",
    ):
        assert gone not in text
    assert [v["status"] for v in again["visits"]] == ["visited", "cancelled"]
    assert again["matches"][0]["status"] == "ended"


def test_it_erases_a_contact_and_their_survey_answers(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    seen = seed_history(db_url, session_factory)
    result = erase(
        db_url, "contact", seen.contact
    )  # allowed while the match runs: the contact leaves it
    assert result.exit_code == 0, result.output
    with session_factory() as session:
        contact = session.get(ContactPerson, seen.contact)
        assert contact is not None
        assert (contact.name, contact.phone, contact.email, contact.opted_out) == (
            "erased",
            None,
            None,
            True,
        )
        invitation = session.scalars(
            select(SurveyInvitation).where(SurveyInvitation.contact_person_id == seen.contact)
        ).one()
        assert (
            invitation.completed_at == SENT and invitation.sent_at == SENT
        )  # the response rate stays
        assert session.scalars(select(SurveyResponse.invitation_id)).all() == [
            session.scalars(
                select(SurveyInvitation.id).where(
                    SurveyInvitation.contact_person_id == seen.other_contact
                )
            ).one()
        ]
        to_contact = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.audience == Audience.CONTACT_PERSON,
                OutboxMessage.recipient_id == seen.contact,
            )
            .order_by(OutboxMessage.idempotency_key)
        ).all()
        assert [(m.status, m.body) for m in to_contact] == [
            (OutboxStatus.SENT, None),
            (OutboxStatus.FAILED, None),
        ]
        assert "+45" not in str([m.last_error for m in to_contact])
        match = session.get(Match, seen.match)
        assert match is not None and match.status == MatchStatus.ACTIVE
        assert [c.external_ref for c in match.contacts] == ["K-02"]
        # The family's message and texts are theirs, not the contact's: they stay.
        assert session.scalars(
            select(OutboxMessage.body).where(OutboxMessage.idempotency_key == "k1")
        ).one()
    again = export(db_url, "contact", seen.contact)
    assert again["surveys"][0]["responses"] == []
    assert "Forælder 1" not in json.dumps(again, ensure_ascii=False)


def test_it_erases_a_child_and_the_check_in_texts_about_it(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    seen = seed_history(db_url, session_factory)
    end_match(db_url, seen.match)
    result = erase(db_url, "child", seen.child)
    assert result.exit_code == 0, result.output
    with session_factory() as session:
        child = session.get(Child, seen.child)
        assert child is not None and (child.first_name, child.birth_year) == ("erased", None)
        assert session.scalars(
            select(CheckIn.text).where(CheckIn.match_id == seen.match)
        ).all() == [None]
        assert (
            session.scalars(
                select(OutboxMessage.body).where(OutboxMessage.idempotency_key == "k3")
            ).one()
            is None
        )
        assert session.scalars(
            select(CheckIn.text).where(CheckIn.match_id != seen.match)
        ).all() == ["Anden families check-in"]
        match = session.get(Match, seen.match)
        assert match is not None and match.status == MatchStatus.ENDED
    assert export(db_url, "child", seen.child)["record"]["first_name"] == "erased"


def test_it_erases_a_staff_member_once_their_matches_have_ended(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    seen = seed_history(db_url, session_factory)
    refused = erase(db_url, "staff", seen.staff)
    assert refused.exit_code == 2 and "har match, der ikke er afsluttet" in refused.output
    with session_factory() as session:
        for match in session.scalars(select(Match).where(Match.staff_id == seen.staff)):
            end_match(db_url, match.id)
    result = erase(db_url, "staff", seen.staff)
    assert result.exit_code == 0, result.output
    with session_factory() as session:
        staff = session.get(Staff, seen.staff)
        assert staff is not None and (staff.name, staff.email, staff.phone, staff.active) == (
            "erased",
            None,
            None,
            False,
        )
        assert (
            session.scalars(
                select(OutboxMessage.body).where(OutboxMessage.idempotency_key == "k5")
            ).one()
            is None
        )
        assert (
            session.scalars(select(Task.owner_id)).one() == seen.staff
        )  # the work done is still counted


def test_it_refuses_to_erase_without_yes_an_unknown_id_or_a_running_match(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    seen = seed_history(db_url, session_factory)
    without = cli(db_url, "person", "erase", "family", str(seen.family))
    assert (
        without.exit_code == 2
        and "kan ikke fortrydes" in without.output
        and "--yes" in without.output
    )
    running = erase(db_url, "family", seen.family)
    assert running.exit_code == 2
    assert (
        f"family {seen.family} har match, der ikke er afsluttet ({seen.match}): afslut dem først"
        in running.output
    )
    unknown = erase(db_url, "contact", 9999)
    assert unknown.exit_code == 2 and "der er ingen contact med id 9999" in unknown.output
    missing = cli(db_url, "--lang", "en", "person", "export", "family", "ref:F-99")
    assert missing.exit_code == 2 and "there is no family with ref 'F-99'" in missing.output
    with session_factory() as session:
        family = session.get(VolunteerFamily, seen.family)
        assert family is not None and family.name == "Familien Eksempel"
        assert (
            session.scalars(select(AuditEntry).where(AuditEntry.action == "person.erase")).all()
            == []
        )
