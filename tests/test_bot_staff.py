"""Staff in Telegram: alerts with an acknowledge button, /today, /match."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Escalation, EscalationStatus, Locale, Staff
from tests.support.bot_harness import (
    FAMILY_CHAT,
    STAFF_CHAT,
    VISIT_EVENING,
    BotHarness,
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


@pytest.mark.parametrize("locale", ["da", "en"])
def test_the_snooze_button_on_an_alert_silences_the_case_for_a_week(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str
) -> None:
    staffed_match(session_factory, locale)
    bot.say(FAMILY_CHAT, WORRY)
    alerted = bot.tick(bot.clock.now)
    message_id, alert = bot.prompt_to(STAFF_CHAT, alerted, "ack")
    label = {"da": "⏸ Udsæt en uge", "en": "⏸ Snooze for a week"}[locale]
    assert labels(alert)[1] == [label]

    snoozed = bot.press(STAFF_CHAT, callback_data(alert)[1], message_id)

    toast = snoozed.of("answerCallbackQuery")[0]["text"]
    assert {"da": "Udsat til 16. mar.", "en": "Snoozed until 16 Mar"}[locale] in toast
    assert "reply_markup" not in snoozed.of("editMessageText")[0]  # the buttons are gone
    worry = escalation(session_factory, "worry")
    assert worry.snoozed_until == bot.clock.now + timedelta(days=7)
    # The coordinators would have been told after 2 hours: nothing while it is snoozed.
    quiet = bot.tick(bot.clock.now + timedelta(hours=3))
    assert not [p for p in quiet.of("sendMessage") if "bekymret" in str(p["text"])]
    assert not [p for p in quiet.of("sendMessage") if "worried" in str(p["text"])]


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
