"""Inbound SMS through the Twilio webhook, signed as Twilio signs it: STOP and START in any case
and in Danish, HELP, messages passed to staff, unknown numbers, the SMS survey conversation, and
requests that are not from Twilio."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from followup.escalations import raise_escalation
from scheduler.planner import plan_all
from store.models import (
    AuditEntry,
    ContactPerson,
    Escalation,
    Locale,
    Match,
    OutboxMessage,
    OutboxStatus,
    SurveyConversation,
    SurveyInvitation,
)
from tests.support import survey_app
from tests.support.cast import PROGRAMMES, make_match
from tests.support.survey_app import PARENT_PHONE, LiveApp, answers, invite

# The live web app from tests.support.survey_app (module-scoped server, per-test clock).
_served = survey_app._served
live = survey_app.live

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def reply(response_text: str) -> str:
    """The text of the TwiML <Message>, or "" when there is none."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(response_text)
    assert root.tag == "Response"
    return " ".join((m.text or "") for m in root.iter("Message"))


def parent(factory: sessionmaker[Session], contact_id: int | None = None) -> ContactPerson:
    with factory() as session:
        query = select(ContactPerson).order_by(ContactPerson.id)
        if contact_id is not None:
            query = query.where(ContactPerson.id == contact_id)
        found = session.scalars(query).first()
        assert found is not None
        return found


def escalations(factory: sessionmaker[Session], rule: str | None = None) -> list[Escalation]:
    with factory() as session:
        query = select(Escalation).order_by(Escalation.id)
        if rule is not None:
            query = query.where(Escalation.rule == rule)
        return list(session.scalars(query))


@pytest.mark.parametrize(
    "word", ["STOP", "sToP", "stop.", "Stopp", "STOPP", "afmeld", "Afmeld", " AFMELD! "]
)
def test_stop_in_any_case_and_in_danish_opts_the_parent_out_and_confirms(
    word: str, engine: Engine, live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)
        match_id, version = match.id, match.plan_version
    plan_all(engine, session_factory, PROGRAMMES, NOW, report=raise_escalation)

    response = live.sms(word)

    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "application/xml"
    )
    text = reply(response.text)
    assert "afmeldt" in text and "START" in text
    assert parent(session_factory).opted_out is True
    with session_factory() as session:
        match_row = session.get(Match, match_id)
        assert match_row is not None and match_row.plan_version == version + 1
    (escalation,) = escalations(session_factory, "opt_out")
    assert escalation.match_id == match_id
    # The planner re-plans: the survey invitation (not essential) is cancelled, the call
    # announcement about an agreed call (essential) stays.
    plan_all(engine, session_factory, PROGRAMMES, NOW, report=raise_escalation)
    with session_factory() as session:
        rows = {
            (r.touchpoint_id, r.occurrence_key): r.status
            for r in session.scalars(
                select(OutboxMessage).where(OutboxMessage.audience == "contact_person")
            )
        }
    assert rows[("baseline-survey", "1")] == OutboxStatus.CANCELLED
    assert rows[("first-visit-call", "1:announce")] == OutboxStatus.PLANNED


def test_start_and_tilmeld_opt_back_in_and_the_plan_comes_back(
    engine: Engine, live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session, parent_locale=Locale.EN)
    plan_all(engine, session_factory, PROGRAMMES, NOW, report=raise_escalation)
    stopped = reply(live.sms("Stop").text)
    assert "You will no longer get messages" in stopped  # in the parent's language
    plan_all(engine, session_factory, PROGRAMMES, NOW, report=raise_escalation)

    for word in ("tilmeld", "START"):
        again = reply(live.sms(word).text)
        assert "Welcome back" in again
        assert parent(session_factory).opted_out is False
    plan_all(engine, session_factory, PROGRAMMES, NOW, report=raise_escalation)
    with session_factory() as session:
        survey = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.touchpoint_id == "baseline-survey",
                OutboxMessage.occurrence_key == "1",
            )
        ).one()
        actions = list(
            session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "contact_person"))
        )
    assert survey.status == OutboxStatus.PLANNED
    assert actions == ["contact.opt_out", "contact.opt_in"]  # the second START changed nothing


def test_help_says_who_to_contact(live: LiveApp, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        make_match(session)
    danish = reply(live.sms("hjælp").text)
    assert "Procesleder" in danish and "tlf. 20 12 34 01" in danish and "STOP" in danish
    assert reply(live.sms("HJÆLP").text) == danish
    assert reply(live.sms("Help").text) == danish  # the parent reads Danish
    assert escalations(session_factory) == []


def test_any_other_text_reaches_the_staff_member_with_cpr_redacted_and_never_in_the_log(
    live: LiveApp, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
    caplog.set_level(logging.DEBUG)

    response = live.sms(
        "Barn A er syg i dag og kommer ikke. Mit CPR er 010203-1234", sid="SM" + "7" * 32
    )

    assert reply(response.text) == "Tak for din besked. Den er givet videre til Procesleder."
    (escalation,) = escalations(session_factory, "message_from_parent")
    assert escalation.match_id == match_id and escalation.staff_id is not None
    (evidence,) = escalation.evidence
    assert evidence["text"] == "Barn A er syg i dag og kommer ikke. Mit CPR er [CPR-nummer fjernet]"
    assert evidence["message_sid"] == "SM" + "7" * 32
    assert "syg i dag" not in caplog.text and "010203" not in caplog.text
    # A second message joins the same escalation.
    live.sms("Han er frisk igen på mandag")
    (escalation,) = escalations(session_factory, "message_from_parent")
    assert [e["text"] for e in escalation.evidence][-1] == "Han er frisk igen på mandag"


def test_a_message_from_an_unknown_number_is_logged_without_its_content(
    live: LiveApp, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    caplog.set_level(logging.DEBUG)
    for sender in ("+4520123499", "not a number"):
        response = live.sms("Hej, det er mig, ring til mig på 010203-1234", sender=sender)
        assert response.status_code == 200 and reply(response.text) == ""
    assert "inbound SMS from an unknown number" in caplog.text
    assert "ring til mig" not in caplog.text and "+4520123499" not in caplog.text
    assert escalations(session_factory) == []
    live.sms("STOP", sender="+4520123498")
    assert parent(session_factory).opted_out is False


def test_an_unsigned_or_tampered_webhook_gets_403_and_changes_nothing(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    genuine = {
        "From": PARENT_PHONE,
        "To": "+4520123499",
        "Body": "Hej",
        "MessageSid": "SM" + "1" * 32,
        "AccountSid": "AC" + "0123456789abcdef" * 2,
        "NumMedia": "0",
    }
    attempts = [
        live.sms("STOP", sign=False),
        live.sms("STOP", signed_params=genuine),  # signed for another body
        live.sms("Mit barn er syg", signed_params={**genuine, "From": "+4520123422"}),
        live.client.post("/twilio/sms", data=genuine, headers={"X-Twilio-Signature": "bm9wZQ=="}),
    ]
    assert [r.status_code for r in attempts] == [403, 403, 403, 403]
    assert parent(session_factory).opted_out is False
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Escalation)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_a_short_survey_runs_inside_sms_one_digit_at_a_time(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        token = invite(session, make_match(session), survey="parent-short")

    first = reply(live.sms("Ja", sid="SM" + "a" * 32).text)
    assert first.startswith("1/3 Hvordan har du det i hverdagen for tiden?")
    assert "fra 1 (meget dårligt) til 5 (meget godt)" in first
    correction = reply(live.sms("9", sid="SM" + "b" * 32).text)
    assert correction == "Svar med et tal fra 1 til 5. Skriv STOP for at stoppe."
    second = reply(live.sms("4", sid="SM" + "c" * 32).text)
    assert second.startswith("2/3 Hvordan har dit barn det for tiden?")
    # Twilio retrying the same webhook does not answer twice.
    assert reply(live.sms("4", sid="SM" + "c" * 32).text) == ""
    # "JA" again (say, after a reminder) asks the same question again.
    assert reply(live.sms("ja", sid="SM" + "g" * 32).text) == second
    third = reply(live.sms(" 5 ", sid="SM" + "d" * 32).text)
    assert third.startswith("3/3 Har dit barn voksne uden for hjemmet") and "\n3 Ja, flere" in third
    done = reply(live.sms("2", sid="SM" + "e" * 32).text)
    assert done == "Tak for dine svar!"

    # The same data as the web form, and the link now says it is answered.
    assert answers(session_factory, token) == {
        "parent_everyday": "4",
        "child_wellbeing": "5",
        "child_adults": "one",
    }
    assert "allerede besvaret" in live.client.get(f"/s/{token}").text
    with session_factory() as session:
        conversation = session.scalars(select(SurveyConversation)).one()
        invitation = session.scalars(select(SurveyInvitation)).one()
    assert conversation.outcome == "completed" and invitation.completed_at is not None
    assert escalations(session_factory) == []
    # After the survey, a digit is just a message for the staff member.
    assert "givet videre" in reply(live.sms("5", sid="SM" + "f" * 32).text)


def test_a_parent_can_stop_the_sms_survey_at_any_time_and_the_answers_so_far_are_kept(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        token = invite(
            session, make_match(session, parent_locale=Locale.EN), survey="parent-short", wave="end"
        )
    assert reply(live.sms("yes", sid="SM" + "1" * 32).text).startswith("1/4 How are you doing")
    assert reply(live.sms("3", sid="SM" + "2" * 32).text).startswith("2/4 How is your child doing")
    assert "no longer get messages" in reply(live.sms("STOP", sid="SM" + "3" * 32).text)

    assert answers(session_factory, token) == {"parent_everyday": "3"}
    with session_factory() as session:
        conversation = session.scalars(select(SurveyConversation)).one()
    assert conversation.outcome == "stopped"
    assert "You have unsubscribed" in reply(live.sms("yes", sid="SM" + "4" * 32).text)
    # Back in: YES resumes where the parent stopped.
    live.sms("START", sid="SM" + "5" * 32)
    assert reply(live.sms("Yes", sid="SM" + "6" * 32).text).startswith(
        "2/4 How is your child doing"
    )


def test_a_sentence_or_a_second_wrong_answer_goes_to_staff_and_the_survey_waits(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        token = invite(session, make_match(session), survey="parent-short")
    live.sms("JA", sid="SM" + "1" * 32)
    assert reply(live.sms("fem", sid="SM" + "2" * 32).text).startswith("Svar med et tal")
    forwarded = reply(live.sms("seks", sid="SM" + "3" * 32).text)
    assert forwarded.startswith("Tak, din besked er givet videre til Procesleder")
    sentence = reply(live.sms("Vi er flyttet til en ny adresse", sid="SM" + "4" * 32).text)
    assert "givet videre" in sentence
    (escalation,) = escalations(session_factory, "message_from_parent")
    assert [e["text"] for e in escalation.evidence] == ["seks", "Vi er flyttet til en ny adresse"]
    assert reply(live.sms("5", sid="SM" + "5" * 32).text).startswith("2/3")
    assert answers(session_factory, token) == {"parent_everyday": "5"}


def test_it_replies_in_short_gsm7_texts() -> None:
    from followup.inbound import TEXTS, text
    from scheduler import i18n
    from scheduler.sms import MAX_SEGMENTS, segments

    long_values = {
        "org": "Red Barnet Ungdom Hovedstaden",
        "who": "Procesleder Eksempel-Langtnavn, tlf. +4520123401",
        "staff": "Procesleder Eksempel-Langtnavn",
        "low": "1",
        "high": "5",
        "name": "Procesleder",
        "phone": "+4520123401",
    }
    for locale in (lang.code for lang in i18n.languages()):
        for key in TEXTS:
            info = segments(text(locale, key, **long_values))
            # Danish and English stay in the SMS alphabet; a script outside it (Arabic) is
            # UCS-2 whatever we write, so there the texts are kept short instead.
            if locale in ("da", "en"):
                assert info.encoding == "GSM-7", (locale, key, info)
            assert info.segments <= MAX_SEGMENTS, (locale, key, info)


def test_an_expired_sms_survey_is_not_started(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        invite(
            session,
            make_match(session),
            survey="parent-short",
            now=datetime.now(UTC) - timedelta(days=100),
        )
    assert "givet videre" in reply(live.sms("JA").text)
