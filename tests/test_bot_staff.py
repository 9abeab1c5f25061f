"""Staff in Telegram: alerts with an acknowledge button, /today, /match."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Escalation, EscalationStatus, Locale, ResolutionOutcome, Staff
from tests.support.bot_harness import (
    FAMILY_CHAT,
    STAFF_CHAT,
    VISIT_EVENING,
    BotHarness,
    Sent,
    callback_data,
    labels,
    snapshot,
)
from tests.support.cast import make_match

WORRY = "⚠️ Jeg er bekymret for noget"

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app


def staffed_match(session_factory: sessionmaker[Session], locale: str = "da") -> tuple[int, int]:
    with session_factory.begin() as session:
        match = make_match(session)
        assert match.staff is not None
        match.staff.telegram_chat_id = STAFF_CHAT
        match.staff.locale = Locale(locale)
        return match.id, match.staff.id


def escalation(session_factory: sessionmaker[Session], rule: str) -> Escalation:
    with session_factory() as session:
        return session.scalars(select(Escalation).where(Escalation.rule == rule)).one()


@pytest.mark.parametrize("locale", ["da", "en"])
def test_a_worry_reaches_the_staff_member_who_acknowledges_it_with_one_tap(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str
) -> None:
    _, staff_id = staffed_match(session_factory, locale)
    bot.say(FAMILY_CHAT, WORRY)
    bot.say(FAMILY_CHAT, "Barn A virker meget bange for at tage hjem.")

    alerted = bot.tick(bot.clock.now)
    message_id, alert = bot.prompt_to(STAFF_CHAT, alerted, "ack")
    acknowledged = bot.press(STAFF_CHAT, callback_data(alert)[0], message_id)
    again = bot.press(STAFF_CHAT, callback_data(alert)[0], message_id)

    assert "Barn A virker meget bange for at tage hjem." in str(alert["text"])
    worry = escalation(session_factory, "worry")
    assert {"da": f"Kvitteret: #{worry.id}.", "en": f"Acknowledged: #{worry.id}."}[
        locale
    ] == acknowledged.of("answerCallbackQuery")[0]["text"]
    assert (worry.status, worry.acknowledged_by) == (EscalationStatus.ACKNOWLEDGED, staff_id)
    assert (
        again.of("answerCallbackQuery")[0]["text"]
        == {"da": "Denne knap er udløbet.", "en": "This button has expired."}[locale]
    )


def test_a_family_cannot_acknowledge_and_another_staff_members_case_stays_open(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    staffed_match(session_factory)
    bot.say(FAMILY_CHAT, WORRY)
    with session_factory.begin() as session:
        other = Staff(name="Anden procesleder", telegram_chat_id=7002)
        session.add(other)
    worry = escalation(session_factory, "worry")
    before = snapshot(session_factory)

    by_family = bot.press(FAMILY_CHAT, f"v1|ack|{worry.id}", message_id=1)
    by_other = bot.press(7002, f"v1|ack|{worry.id}", message_id=1)

    assert by_family.of("answerCallbackQuery")[0]["text"] == "Denne knap er udløbet."
    assert by_other.of("answerCallbackQuery")[0]["text"] == "Denne knap er udløbet."
    assert snapshot(session_factory) == before


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "da",
            [
                "I dag, mandag den 9. marts 2026",
                "Opgaver:",
                "(over tid): Første møde hos",
                "Åbne sager:",
                "HASTER: Venskabsfamilien er bekymret for barnet (match {id})",
            ],
        ),
        (
            "en",
            [
                "Today, Monday, 9 March 2026",
                "Tasks:",
                "(overdue): First meeting at",
                "Open cases:",
                "URGENT: The volunteer family is worried about the child (match {id})",
            ],
        ),
    ],
)
def test_today_lists_the_staff_members_tasks_and_open_cases_with_buttons(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str, expected: list[str]
) -> None:
    match_id, _ = staffed_match(session_factory, locale)
    bot.tick(bot.clock.now)  # the planner creates the staff tasks
    bot.say(FAMILY_CHAT, WORRY)

    sent = bot.say(STAFF_CHAT, "/today")

    for phrase in expected:
        assert phrase.format(id=match_id) in sent.text
    worry = escalation(session_factory, "worry")
    label = {"da": "✓ Kvittér", "en": "✓ Acknowledge"}[locale]
    # Urgent first; the overdue first-meeting task has raised a case of its own.
    assert sent.buttons()[0] == [f"{label} #{worry.id}"] and len(sent.buttons()) == 2
    acknowledged = bot.press(STAFF_CHAT, sent.data(f"{label} #{worry.id}"))
    remaining = acknowledged.of("editMessageText")[0]["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in remaining] == sent.buttons()[1:]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "da",
            [
                "Match {id}: Barn A og Familien Eksempel",
                "Hjem til Os, aktiv. Startede 2. mar. 2026, besøg hver mandag.",
                "• 9. mar. 2026: besøg",
                "5/5",
                "Vi kan ikke finde et match med nummer",
                "Skriv /match og et nummer, fx /match 12.",
            ],
        ),
        (
            "en",
            [
                "Match {id}: Barn A and Familien Eksempel",
                "Hjem til Os, active. Started 2 Mar 2026, visits every Monday.",
                "• 9 Mar 2026: visited",
                "5/5",
                "We cannot find a match number",
                "Write /match and a number, e.g. /match 12.",
            ],
        ),
    ],
)
def test_match_shows_a_summary_to_its_staff_member_only(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str, expected: list[str]
) -> None:
    match_id, _ = staffed_match(session_factory, locale)
    message_id, prompt = bot.prompt_to(FAMILY_CHAT, bot.tick(bot.clock.now))
    visited = bot.press(FAMILY_CHAT, callback_data(prompt)[0], message_id)
    bot.press(FAMILY_CHAT, visited.data("5 "), message_id)
    with session_factory.begin() as session:
        session.add(Staff(name="Anden procesleder", telegram_chat_id=7002, locale=Locale(locale)))

    summary = bot.say(STAFF_CHAT, f"/match {match_id}")
    foreign = bot.say(7002, f"/match {match_id}")
    usage = bot.say(STAFF_CHAT, "/match barn")
    family = bot.say(FAMILY_CHAT, f"/match {match_id}")

    title, status, visit, mood, not_found, how = (e.format(id=match_id) for e in expected)
    assert title in summary.text and status in summary.text
    assert visit in summary.text and mood in summary.text
    assert not_found in foreign.text
    assert usage.text == how
    assert "Familien Eksempel" not in family.text and "/checkin" in family.text


def staff_messages(sent: Sent, words: str) -> list[str]:
    """Texts sent to the staff chat that mention ``words``, digests left out."""
    return [
        str(p["text"])
        for p in sent.of("sendMessage")
        if p["chat_id"] == STAFF_CHAT
        and words in str(p["text"])
        and "Dagens overblik" not in str(p["text"])
    ]


def digests(sent: Sent) -> list[str]:
    return [str(p["text"]) for p in sent.of("sendMessage") if "Dagens overblik" in str(p["text"])]


def test_snooze_offers_how_long_and_three_days_is_silent_until_then(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    staffed_match(session_factory)
    bot.say(FAMILY_CHAT, WORRY)
    message_id, alert = bot.prompt_to(STAFF_CHAT, bot.tick(bot.clock.now), "ack")
    assert labels(alert) == [["✓ Kvittér"], ["⏸ Udsæt", "✅ Afslut"]]

    asked = bot.press(STAFF_CHAT, callback_data(alert)[1], message_id)
    assert asked.buttons() == [["1 dag", "3 dage"], ["1 uge", "2 uger"], ["↩ Tilbage"]]
    back = bot.press(STAFF_CHAT, asked.data("↩ Tilbage"), message_id)
    assert back.buttons() == labels(alert)  # changed their mind: the alert as it was
    asked = bot.press(STAFF_CHAT, callback_data(alert)[1], message_id)
    snoozed = bot.press(STAFF_CHAT, asked.data("3 dage"), message_id)

    assert "Udsat til torsdag 12. mar." in snoozed.of("answerCallbackQuery")[0]["text"]
    edited = snoozed.of("editMessageText")[0]
    assert str(edited["text"]).startswith(str(alert["text"])[:40])
    assert str(edited["text"]).endswith("⏸ Udsat til torsdag 12. mar.")  # one full stop
    assert "reply_markup" not in edited  # nothing more to press on it
    worry = escalation(session_factory, "worry")
    assert worry.snoozed_until == bot.clock.now + timedelta(days=3)

    # Silent until Thursday evening: no push (the coordinators' step included), and the
    # mornings' digests say it is snoozed.
    start, quiet, mornings = bot.clock.now, [], []
    for hours in range(3, 72, 6):
        sent = bot.tick(start + timedelta(hours=hours))
        quiet += staff_messages(sent, "bekymret")
        mornings += digests(sent)
    assert quiet == []
    assert mornings and all("udsat til 12.03" in d for d in mornings if "bekymret" in d)
    # Then visible again: one reminder in working hours, and the digest without "udsat".
    later = [bot.tick(start + timedelta(hours=hours)) for hours in range(72, 90, 2)]
    reminders = [m for sent in later for m in staff_messages(sent, "bekymret")]
    after = [d for sent in later for d in digests(sent)]
    assert len(reminders) == 1
    assert after and "bekymret" in after[-1] and "udsat" not in after[-1]


@pytest.mark.parametrize("locale", ["da", "en"])
def test_resolve_records_the_outcome_and_a_note_and_stops_the_pushes(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str
) -> None:
    staffed_match(session_factory, locale)
    bot.say(FAMILY_CHAT, WORRY)
    message_id, alert = bot.prompt_to(STAFF_CHAT, bot.tick(bot.clock.now), "ack")
    worry = escalation(session_factory, "worry")

    asked = bot.press(STAFF_CHAT, callback_data(alert)[2], message_id)
    words = {
        "da": ("Underretning sendt til kommunen", "Afsluttet", "Spring over", "Tak. Noten er gemt"),
        "en": ("Report of concern filed with the municipality", "Resolved", "Skip", "Thank you."),
    }[locale]
    assert [words[0]] in asked.buttons() and len(asked.buttons()) == 6  # five outcomes, back
    resolved = bot.press(STAFF_CHAT, asked.data(words[0]), message_id)
    edited = resolved.of("editMessageText")[0]
    assert str(edited["text"]).endswith(f"✅ {words[1]}: {words[0]}.")
    assert "reply_markup" not in edited
    question = resolved.of("sendMessage")[0]
    assert labels(question) == [[words[2]]] and f"#{worry.id}" in str(question["text"])
    noted = bot.say(STAFF_CHAT, "Talt med mor;\x00 underretning sendt.")

    assert noted.text.startswith(words[3])
    case = escalation(session_factory, "worry")
    assert case.status == EscalationStatus.RESOLVED
    assert case.resolution_outcome == ResolutionOutcome.REPORTED
    assert case.resolution_note == "Talt med mor; underretning sendt."
    # The coordinators' push (after 2 hours) and the digest leave a resolved case out.
    later = [bot.tick(bot.clock.now + timedelta(hours=h)) for h in (3, 6, 14)]
    assert not [t for sent in later for t in sent.texts if "bekymret" in t or "worried" in t]
    # Another message is no longer taken as the note.
    bot.say(STAFF_CHAT, "Noget andet")
    assert escalation(session_factory, "worry").resolution_note == case.resolution_note


def test_resolve_without_a_note(bot: BotHarness, session_factory: sessionmaker[Session]) -> None:
    staffed_match(session_factory)
    bot.say(FAMILY_CHAT, WORRY)
    message_id, alert = bot.prompt_to(STAFF_CHAT, bot.tick(bot.clock.now), "ack")
    acknowledged = bot.press(STAFF_CHAT, callback_data(alert)[0], message_id)
    with session_factory() as session:
        name = session.scalars(select(Staff.name).where(Staff.telegram_chat_id == STAFF_CHAT)).one()
    assert str(acknowledged.of("editMessageText")[0]["text"]).endswith(f"✓ Kvitteret af {name}.")
    assert acknowledged.buttons() == [["⏸ Udsæt", "✅ Afslut"]]  # it can still be resolved

    asked = bot.press(STAFF_CHAT, acknowledged.data("✅ Afslut"), message_id)
    resolved = bot.press(STAFF_CHAT, asked.data("Intet at gøre"), message_id)
    skipped = bot.press(STAFF_CHAT, resolved.data("Spring over"))

    case_id = escalation(session_factory, "worry").id
    assert skipped.of("editMessageText")[0]["text"] == f"Sag #{case_id} er afsluttet uden note."
    bot.say(STAFF_CHAT, "Ikke en note")
    case = escalation(session_factory, "worry")
    assert (case.resolution_outcome, case.resolution_note) == (ResolutionOutcome.NO_ACTION, None)


def test_forged_or_foreign_case_buttons_are_refused_politely_and_change_nothing(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    staffed_match(session_factory)
    bot.say(FAMILY_CHAT, WORRY)
    with session_factory.begin() as session:
        session.add(Staff(name="Anden procesleder", telegram_chat_id=7002))
    case = escalation(session_factory, "worry").id
    before = snapshot(session_factory)

    presses = [
        bot.press(7002, f"v1|ro|{case}|handled", message_id=1),  # another staff member's case
        bot.press(FAMILY_CHAT, f"v1|sd|{case}|3", message_id=1),  # a family
        bot.press(STAFF_CHAT, f"v1|ro|{case}|closed", message_id=1),  # no such outcome
        bot.press(STAFF_CHAT, f"v1|sd|{case}|5", message_id=1),  # no such snooze
        bot.press(STAFF_CHAT, f"v1|rn|{case}", message_id=1),  # not resolved
        bot.press(STAFF_CHAT, f"v1|ro|{case + 1}|handled", message_id=1),  # no such case
    ]

    for sent in presses:
        assert sent.of("answerCallbackQuery")[0]["text"] == "Denne knap er udløbet."
        assert not sent.of("editMessageText")
    assert snapshot(session_factory) == before


@pytest.mark.parametrize("number", ["²", "١٢", "0", "99999999999", "9999999999"])
def test_match_with_a_number_that_is_no_id_is_answered_politely_without_a_case(
    bot: BotHarness, session_factory: sessionmaker[Session], number: str
) -> None:
    staffed_match(session_factory)
    answer = bot.say(STAFF_CHAT, f"/match {number}")
    assert answer.text == "Skriv /match og et nummer, fx /match 12."
    with session_factory() as session:
        assert session.scalars(select(Escalation).where(Escalation.rule == "bot_error")).all() == []


def test_a_coordinators_today_lists_what_was_pushed_to_her_not_every_reminded_case(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    from followup.escalations import raise_escalation
    from store.models import Match, StaffRole

    match_id, _ = staffed_match(session_factory)
    with session_factory.begin() as session:
        session.add(Staff(name="Koordinator", role=StaffRole.COORDINATOR, telegram_chat_id=7002))
        raise_escalation(
            session, session.get(Match, match_id), "low_mood", now=bot.clock.now, evidence={}
        )
    tuesday, wednesday = VISIT_EVENING + timedelta(hours=14), VISIT_EVENING + timedelta(hours=38)
    bot.tick(tuesday)  # the staff member's first push, in working hours
    bot.tick(wednesday)  # and the one reminder a working day later
    low_mood = escalation(session_factory, "low_mood")
    assert low_mood.push_count == 2
    assert f"#{low_mood.id}" not in bot.say(7002, "/today").text
    bot.say(FAMILY_CHAT, WORRY)
    bot.tick(wednesday)  # to the staff member at once
    assert "HASTER" not in bot.say(7002, "/today").text  # hers alone, for 2 hours
    bot.tick(wednesday + timedelta(hours=2, minutes=1))  # now pushed to the coordinators
    listed = bot.say(7002, "/today")
    assert "HASTER: Venskabsfamilien er bekymret for barnet" in listed.text
    assert f"#{low_mood.id}" not in listed.text
