"""Export and erasure that are complete: a family, a parent, a child and a staff member are seeded
into every table that can hold them; the export finds each piece, and after erasure no table
holds any of it. The tables are enumerated from the models: a new table that can hold a person
fails the test until it is listed here, with the export that finds it."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from followup.erasure import erase_person
from followup.people import export_person
from followup.people_html import HEADINGS
from store.audit import record
from store.models import (
    RSVP,
    Audience,
    AuditEntry,
    Base,
    BotState,
    CalendarFeed,
    Channel,
    CheckIn,
    ContactPerson,
    Escalation,
    HouseholdMember,
    InviteToken,
    Locale,
    MatchNote,
    MatchPause,
    MatchStatus,
    Moment,
    OutboxMessage,
    OutboxStatus,
    Referral,
    SparringRSVP,
    SparringSession,
    StaffContact,
    StaffCredential,
    StaffSession,
    SurveyConversation,
    SurveyInvitation,
    SurveyResponse,
    Task,
    Visit,
    VisitStatus,
    WaitStatus,
)
from tests.support.cast import make_match
from tests.test_cli import cli
from tests.test_survey_browser import browser as browser  # headless Debian chromium

NOW = datetime(2026, 9, 1, 12, tzinfo=UTC)
SENT = datetime(2026, 3, 9, 18, tzinfo=UTC)

FAMILY = {
    "record": "Familien Eksempel",
    "visit": "Vi byggede en hule i stuen",
    "checkin": "Hun grinede hele vejen hjem",
    "message": "Hej Kontaktvoksen, husk besøget",
    "wrote": "Vi er på ferie i uge 30, kan vi flytte besøget",
    "bot": "halvt skrevet besked om cyklen",
    "note": "Talte med familien om sommerferien",
    "greeting": "Vi så et egern i skoven",
}
PHOTO = b"\xff\xd8\xff\xe0" + b"a photo of the hut" * 4
CHILD = {
    "record": "Barn A",
    "visit": FAMILY["visit"],
    "checkin": FAMILY["checkin"],
    "message": "Hej […], husk besøget",  # the adults' names and addresses are left out
    "wrote": FAMILY["wrote"],
    "note": FAMILY["note"],
    "greeting": FAMILY["greeting"],
    "pause": "[…] er i sommerhus",
}
STAFF = {"record": "Procesleder", "email": "procesleder@example.org", "task": "Ring op"}
PARENT = {
    "record": "Forælder",
    "message": "Hej Forælder, her er spørgeskemaet",
    "answer": "Min datter glæder sig til hver mandag",
    "wrote": "Kan I ringe efter klokken 16",
}


def outbox(match_id: int, key: str, audience: Audience, recipient: int, body: str) -> OutboxMessage:
    return OutboxMessage(
        idempotency_key=key,
        match_id=match_id,
        touchpoint_id="welcome",
        occurrence_key="0",
        kind="message",
        template="welcome",
        audience=audience,
        recipient_id=recipient,
        channel=Channel.SMS,
        due_at=SENT,
        status=OutboxStatus.SENT,
        body=body,
        sent_at=SENT,
    )


# Where each table that can hold a person is found: (kind of person, the export's key); None
# for rows that are only deleted (a password hash, session tokens).
HOLDS: dict[str, tuple[str, str | None]] = {
    "audit_entry": ("family", "audit"),
    "bot_state": ("family", "bot_state"),
    "calendar_feed": ("family", "calendar_feeds"),
    "checkin": ("child", "checkins"),
    "child": ("child", "record"),
    "contact_person": ("contact", "record"),
    "escalation": ("child", "escalations"),
    "household_member": ("family", "household"),
    "invite_token": ("staff", "invites"),
    "match": ("child", "matches"),
    "match_contact": ("contact", "matches"),
    "match_note": ("child", "match_notes"),
    "match_pause": ("child", "pauses"),
    "moment": ("child", "moments"),
    "outbox_message": ("child", "messages"),
    "referral": ("child", "referrals"),
    "sparring_rsvp": ("family", "sparring_rsvps"),
    "staff": ("staff", "record"),
    "staff_contact": ("staff", "contacts"),
    "staff_credential": ("staff", None),
    "staff_session": ("staff", None),
    "survey_conversation": ("contact", "sms_surveys"),
    "survey_invitation": ("contact", "surveys"),
    "survey_response": ("contact", "surveys"),
    "task": ("staff", "tasks"),
    "visit": ("child", "visits"),
    "volunteer_family": ("family", "record"),
}
# Tables that hold no person: the app's secrets, programmes, sparring sessions (a time and a
# meeting link), and the providers' ids of webhooks already recorded.
NO_PERSON = {"app_secret", "programme", "sparring_session", "webhook_receipt"}


def seed_others(session: Session, match: Any) -> None:
    """The child's referral, the family's household, calendar feed and invitation, the staff
    member's login, session, invitation and a contact they recorded."""
    family, staff = match.volunteer_family, match.staff
    session.add_all(
        [
            Referral(
                programme_id=match.programme_id,
                child_id=match.child_id,
                contact_person_id=match.contacts[0].id,
                staff_id=staff.id,
                status=WaitStatus.MATCHED,
                status_since=date(2026, 3, 1),
                match_id=match.id,
            ),
            HouseholdMember(volunteer_family_id=family.id, first_name="Ung C", birth_year=2009),
            CalendarFeed(token_hash="c" * 64, volunteer_family_id=family.id),
            *(
                InviteToken(
                    token_hash=h * 64, kind=k, subject_id=i, created_by="cli", expires_at=NOW
                )
                for h, k, i in (("f", "family", family.id), ("s", "staff", staff.id))
            ),
            StaffCredential(staff_id=staff.id, password_hash="scrypt$hash-of-the-password"),
            StaffSession(token_hash="t" * 64, staff_id=staff.id, csrf="x", expires_at=NOW),
            StaffContact(
                match_id=match.id,
                party="volunteer_family",
                kind="call",
                on_date=date(2026, 4, 1),
                staff_id=staff.id,
            ),
        ]
    )


def seed(session: Session) -> tuple[int, int]:
    match = make_match(session)
    family, parent = match.volunteer_family, match.contacts[0]
    seed_others(session, match)
    visit = Visit(
        match_id=match.id,
        planned_date=date(2026, 3, 9),
        status=VisitStatus.VISITED,
        note=FAMILY["visit"],
    )
    session.add(visit)
    session.flush()
    sparring = SparringSession(programme_id=match.programme_id, starts_at=SENT)
    invitation = SurveyInvitation(
        match_id=match.id,
        contact_person_id=parent.id,
        survey_id="parent-sample",
        wave="baseline",
        nonce="n",
        token_hash="h",
        expires_at=datetime(2027, 1, 1, tzinfo=UTC),
        sent_at=SENT,
    )
    session.add_all([sparring, invitation])
    session.flush()
    session.add_all(
        [
            CheckIn(match_id=match.id, visit_id=visit.id, mood=4, text=FAMILY["checkin"]),
            outbox(match.id, "f1", Audience.VOLUNTEER_FAMILY, family.id, FAMILY["message"]),
            outbox(match.id, "p1", Audience.CONTACT_PERSON, parent.id, PARENT["message"]),
            Escalation(
                match_id=match.id,
                rule="message_from_family",
                summary="Besked fra familien",
                evidence=[{"at": SENT.isoformat(), "source": "telegram", "text": FAMILY["wrote"]}],
            ),
            Escalation(
                match_id=match.id,
                rule="message_from_parent",
                summary="Besked fra forælder",
                evidence=[
                    {
                        "at": SENT.isoformat(),
                        "channel": "sms",
                        "contact_id": parent.id,
                        "text": PARENT["wrote"],
                    }
                ],
            ),
            Task(
                match_id=match.id,
                kind="call",
                title="Ring op",
                owner_id=match.staff_id,
                due_at=SENT,
                outcome_note="Talte med Kontaktvoksen om ferien",
            ),
            MatchPause(
                match_id=match.id,
                start_date=date(2026, 7, 1),
                end_date=date(2026, 8, 1),
                reason="Familien Eksempel er i sommerhus",
            ),
            SparringRSVP(session_id=sparring.id, volunteer_family_id=family.id, answer=RSVP.YES),
            MatchNote(match_id=match.id, staff_id=match.staff_id, text=FAMILY["note"]),
            Moment(
                match_id=match.id,
                text=FAMILY["greeting"],
                photo=PHOTO,
                photo_type="image/jpeg",
                photo_size=len(PHOTO),
                had_photo=True,
                sent_at=SENT,
                photo_until=datetime(2030, 1, 1, tzinfo=UTC),
            ),
            BotState(
                namespace="chat", key=str(family.telegram_chat_id), data={"draft": FAMILY["bot"]}
            ),
            SurveyResponse(
                invitation_id=invitation.id, question_id="comment", value=PARENT["answer"]
            ),
            SurveyConversation(
                invitation_id=invitation.id, contact_person_id=parent.id, question_id="q1"
            ),
        ]
    )
    record(session, f"family:{family.id}", "family.message", "volunteer_family", family.id)
    record(session, "cli", "contact.import", "contact_person", parent.id)
    match.status = MatchStatus.ENDED
    match.end_date = date(2026, 6, 1)
    match.end_reason = "Familien Eksempel flytter"
    session.flush()
    return family.id, parent.id


def everything(session: Session) -> str:
    """Every value of every row of every table, as text."""
    parts = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            parts.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(parts)


def test_the_export_finds_a_family_and_a_parent_in_every_table_that_holds_them(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        family_id, parent_id = seed(session)
        family = export_person(session, "family", family_id, now=NOW)
        parent = export_person(session, "contact", parent_id, now=NOW)
    family_text = json.dumps(family, ensure_ascii=False)
    parent_text = json.dumps(parent, ensure_ascii=False)
    for what, text in FAMILY.items():
        assert text in family_text, what
    for what, text in PARENT.items():
        assert text in parent_text, what
    # Each finds its own, not the other's.
    assert PARENT["wrote"] not in family_text and FAMILY["wrote"] not in parent_text
    assert [a["action"] for a in family["audit"]] == ["family.message"]
    assert [a["action"] for a in parent["audit"]] == ["contact.import"]
    assert [c["question_id"] for c in parent["sms_surveys"]] == ["q1"]
    (moment,) = family["moments"]
    assert base64.b64decode(moment["photo_base64"]) == PHOTO  # the photo itself, while kept
    assert family["bot_state"] == [
        {"namespace": "chat", "key": "5001", "data": {"draft": FAMILY["bot"]}}
    ]


def test_every_table_that_can_hold_a_person_is_seeded_and_found_by_an_export(
    session_factory: sessionmaker[Session],
) -> None:
    tables = {table.name for table in Base.metadata.sorted_tables}
    assert tables - NO_PERSON == set(HOLDS), "list the new table in HOLDS or NO_PERSON"
    with session_factory.begin() as session:
        seed(session)
        match = session.scalars(select(Referral)).one().match
        assert match is not None
        assert match.staff_id is not None
        ids = {"family": match.volunteer_family_id, "contact": match.contacts[0].id}
        ids |= {"child": match.child_id, "staff": match.staff_id}
        exports = {
            kind: export_person(session, kind, person, now=NOW) for kind, person in ids.items()
        }
        for table in Base.metadata.sorted_tables:
            if table.name in NO_PERSON:
                continue
            assert session.execute(select(table)).first() is not None, f"{table.name} not seeded"
            kind, key = HOLDS[table.name]
            if key is not None:
                assert exports[kind][key], (table.name, kind, key)
    # A person who asks reads every part of their export under a heading in words.
    for kind, export in exports.items():
        sections = {key for key, value in export.items() if isinstance(value, list)}
        assert sorted(sections - set(HEADINGS)) == [], kind
    for kind, expected in (("child", CHILD), ("staff", STAFF)):
        text = json.dumps(exports[kind], ensure_ascii=False)
        for what, value in expected.items():
            assert value in text, (kind, what)
    # The child's export names no other adult's contact details.
    child_text = json.dumps(exports["child"], ensure_ascii=False)
    for other in ("Kontaktvoksen", "+4520123411", "familie@example.org", "foraelder@example.org"):
        assert other not in child_text


def test_erasure_leaves_nothing_of_them_in_any_table_and_keeps_the_statistics(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        family_id, parent_id = seed(session)
    with session_factory.begin() as session:
        match = session.scalars(select(Referral)).one().match
        assert match is not None
        child_id, staff_id = match.child_id, match.staff_id
        assert staff_id is not None
    with session_factory.begin() as session:
        erase_person(session, "contact", parent_id, "cli", now=NOW)
        erase_person(session, "family", family_id, "cli", now=NOW)
        erase_person(session, "child", child_id, "cli", now=NOW)
        erase_person(session, "staff", staff_id, "cli", now=NOW)
    with session_factory() as session:
        dump = everything(session)
        erased = {
            (a.entity, a.entity_id)
            for a in session.scalars(select(AuditEntry).where(AuditEntry.action == "person.erase"))
        }
        gone = {
            model.__tablename__: session.scalars(select(model)).all()
            for model in (StaffSession, StaffCredential, HouseholdMember, CalendarFeed, InviteToken)
        }
        referral = session.scalars(select(Referral)).one()
        kept: dict[str, Any] = {
            "visits": len(session.scalars(select(Visit)).all()),
            "checkins": [c.mood for c in session.scalars(select(CheckIn))],
            "messages": len(session.scalars(select(OutboxMessage)).all()),
            "escalations": sorted(e.rule for e in session.scalars(select(Escalation))),
        }
    leftovers = [
        text
        for text in [
            *FAMILY.values(),
            *PARENT.values(),
            "+4520123411",
            "+4520123421",
            "familie@example.org",
            "foraelder@example.org",
            "Kontaktvoksen",
            "sommerhus",
            "flytter",
            "a photo of the hut",
            *CHILD.values(),
            STAFF["record"],
            STAFF["email"],
            "+4520123401",
            "Ung C",
            "scrypt$hash-of-the-password",
        ]
        if text in dump
    ]
    assert leftovers == []
    assert erased == {
        ("contact_person", parent_id),
        ("volunteer_family", family_id),
        ("child", child_id),
        ("staff", staff_id),
    }
    assert {table: rows for table, rows in gone.items() if rows} == {}
    # The referral stays for the statistics, without the parent; the child is pseudonymised.
    assert referral.contact_person_id is None and referral.status == WaitStatus.MATCHED
    assert kept["visits"] == 1 and kept["checkins"] == [4] and kept["messages"] == 2
    assert kept["escalations"] == ["message_from_family", "message_from_parent"]
    assert "person.erase" in dump


def test_a_parent_who_asks_gets_a_readable_page_in_their_language(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path, browser: Any
) -> None:
    with session_factory.begin() as session:
        _, parent_id = seed(session)
        session.get(ContactPerson, parent_id).locale = Locale.EN  # type: ignore[union-attr]
    out = tmp_path / "parent.html"
    result = cli(
        db_url, "person", "export", "contact", str(parent_id), "--format", "html", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    page = browser.new_page()
    try:
        page.goto(out.as_uri())
        assert page.title() == "What we hold about you"
        headings = page.locator("h2").all_inner_texts()
        assert "Messages sent to you" in headings and "What you wrote to us" in headings
        body = page.inner_text("body")
        for text in PARENT.values():
            assert text in body
        assert FAMILY["wrote"] not in body
    finally:
        page.close()
