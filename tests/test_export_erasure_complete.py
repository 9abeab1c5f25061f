"""Export and erasure that are complete: one family and one parent are seeded into every table
that can hold them; the export finds each piece, and after erasure no table holds any of it."""

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
from store.audit import record
from store.models import (
    RSVP,
    Audience,
    Base,
    BotState,
    Channel,
    CheckIn,
    ContactPerson,
    Escalation,
    Locale,
    MatchNote,
    MatchPause,
    MatchStatus,
    Moment,
    OutboxMessage,
    OutboxStatus,
    SparringRSVP,
    SparringSession,
    SurveyConversation,
    SurveyInvitation,
    SurveyResponse,
    Task,
    Visit,
    VisitStatus,
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


def seed(session: Session) -> tuple[int, int]:
    match = make_match(session)
    family, parent = match.volunteer_family, match.contacts[0]
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


def test_erasure_leaves_nothing_of_them_in_any_table_and_keeps_the_statistics(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        family_id, parent_id = seed(session)
    with session_factory.begin() as session:
        erase_person(session, "contact", parent_id, "cli", now=NOW)
        erase_person(session, "family", family_id, "cli", now=NOW)
    with session_factory() as session:
        dump = everything(session)
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
        ]
        if text in dump
    ]
    assert leftovers == []
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
