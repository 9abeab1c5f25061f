"""Check-ins: how the visit went, free text of any length or script, the worry button, and a
restart in the middle of it all."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from followup.visits import TEXT_LIMIT
from store.models import BotState, CheckIn, Escalation, EscalationStatus, Locale, Severity
from tests.support.bot_harness import (
    FAMILY_CHAT,
    BotHarness,
    callback_data,
)
from tests.support.cast import make_match

WORRY = {"da": "⚠️ Jeg er bekymret for noget", "en": "⚠️ I'm worried about something"}

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app


def family_match(session_factory: sessionmaker[Session], locale: str = "da") -> int:
    with session_factory.begin() as session:
        match = make_match(session)
        match.volunteer_family.locale = Locale(locale)
        return match.id


def checkins(session_factory: sessionmaker[Session]) -> list[CheckIn]:
    with session_factory() as session:
        return list(session.scalars(select(CheckIn).order_by(CheckIn.id)))


def worries(session_factory: sessionmaker[Session]) -> list[Escalation]:
    with session_factory() as session:
        return list(session.scalars(select(Escalation).where(Escalation.rule == "worry")))


def test_after_a_confirmed_visit_it_asks_how_it_went_and_keeps_the_words(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    family_match(session_factory)
    message_id, params = bot.prompt_to(FAMILY_CHAT, bot.tick(bot.clock.now))
    visited = bot.press(FAMILY_CHAT, callback_data(params)[0], message_id)

    rated = bot.press(FAMILY_CHAT, visited.data("4 "), message_id)
    words = bot.say(FAMILY_CHAT, "Vi bagte boller, og hun grinede meget.")

    assert "Tak for jeres svar (4/5). Vil I fortælle mere?" in rated.text
    assert rated.buttons() == [["Nej tak"]]
    assert words.text == "Tak, det er gemt, og Procesleder kan læse det."
    (checkin,) = checkins(session_factory)
    assert (checkin.mood, checkin.text) == (4, "Vi bagte boller, og hun grinede meget.")
    assert checkin.visit_id is not None


@pytest.mark.parametrize("locale", ["da", "en"])
def test_checkin_any_time_accepts_any_script_and_redacts_cpr_numbers(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str
) -> None:
    family_match(session_factory, locale)
    asked = bot.say(FAMILY_CHAT, "/checkin")
    bot.press(FAMILY_CHAT, asked.data("2 "))
    text = "Hun sagde sit CPR 010203-1234 🙈 — مرحبا بالعالم — שלום — 你好"

    saved = bot.say(FAMILY_CHAT, text)

    assert {"da": "Hvordan går det med Barn A?", "en": "How are things going with Barn A?"}[
        locale
    ] in asked.text
    assert asked.buttons() == [["1 😟", "2 🙁", "3 😐", "4 🙂", "5 😄"], [WORRY[locale]]]
    assert {"da": "Tak, det er gemt, og", "en": "Thank you, it's saved, and"}[locale] in saved.text
    (checkin,) = checkins(session_factory)
    assert checkin.mood == 2
    marker = {"da": "[CPR-nummer fjernet]", "en": "[CPR number removed]"}[locale]
    assert checkin.text == f"Hun sagde sit CPR {marker} 🙈 — مرحبا بالعالم — שלום — 你好"


def test_a_very_long_text_is_kept_up_to_the_documented_limit(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    family_match(session_factory)
    asked = bot.say(FAMILY_CHAT, "/checkin")
    bot.press(FAMILY_CHAT, asked.data("5 "))

    bot.say(FAMILY_CHAT, "æøå " * 1000 + "\x00")

    (checkin,) = checkins(session_factory)
    assert checkin.text is not None
    assert TEXT_LIMIT - 5 < len(checkin.text) <= TEXT_LIMIT and checkin.text.endswith("…")
    assert "\x00" not in checkin.text


def test_a_second_press_on_the_same_checkin_has_expired(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    family_match(session_factory)
    asked = bot.say(FAMILY_CHAT, "/checkin")
    bot.press(FAMILY_CHAT, asked.data("3 "))

    again = bot.press(FAMILY_CHAT, asked.data("5 "))

    assert again.of("answerCallbackQuery")[0]["text"] == "Denne knap er udløbet."
    assert [c.mood for c in checkins(session_factory)] == [3]


@pytest.mark.parametrize("locale", ["da", "en"])
def test_the_worry_button_raises_an_urgent_escalation_and_says_who_will_call(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str
) -> None:
    family_match(session_factory, locale)
    asked = bot.say(FAMILY_CHAT, "/checkin")

    pressed = bot.press(FAMILY_CHAT, asked.data(WORRY[locale]))
    (escalation,) = worries(session_factory)
    told = bot.say(FAMILY_CHAT, "Barn A har blå mærker på armen og vil ikke hjem.")

    expected = {
        "da": (
            "Tak, fordi I siger det. Vi har givet Procesleder besked",
            "Skriv gerne kort, hvad I er bekymrede for.",
            "I kan også selv ringe på 20 12 34 01.",
            "ring 112",
        ),
        "en": (
            "We have told Procesleder, who will contact you as soon as possible",
            "Please write briefly what you are worried about.",
            "You can also call 20 12 34 01 yourselves.",
            "call 112",
        ),
    }[locale]
    assert expected[0] in pressed.text and expected[1] in pressed.text
    assert expected[2] in told.text and expected[3] in told.text
    assert (escalation.severity, escalation.status) == (Severity.URGENT, EscalationStatus.OPEN)
    assert escalation.staff_id is not None
    (updated,) = worries(session_factory)
    assert updated.evidence[-1]["text"] == "Barn A har blå mærker på armen og vil ikke hjem."
    (checkin,) = checkins(session_factory)
    assert checkin.worried and checkin.text == "Barn A har blå mærker på armen og vil ikke hjem."


def test_the_always_visible_worry_button_under_the_chat_works_too(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    family_match(session_factory)

    pressed = bot.say(FAMILY_CHAT, WORRY["da"])

    assert "Skriv gerne kort, hvad I er bekymrede for." in pressed.text
    assert [e.severity for e in worries(session_factory)] == [Severity.URGENT]


def test_a_restart_in_the_middle_of_a_checkin_continues_where_it_was(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    family_match(session_factory)
    asked = bot.say(FAMILY_CHAT, "/checkin")
    bot.press(FAMILY_CHAT, asked.data("4 "))
    with session_factory() as session:
        # Written when the update was handled, not at shutdown: a crash would not lose it.
        state = session.get(BotState, ("chat", str(FAMILY_CHAT)))
        assert state is not None and state.data["pending"]["kind"] == "checkin"

    bot.stop()
    bot.start()
    after = bot.say(FAMILY_CHAT, "Det gik fint efter genstarten")

    assert after.text == "Tak, det er gemt, og Procesleder kan læse det."
    (checkin,) = checkins(session_factory)
    assert (checkin.mood, checkin.text) == (4, "Det gik fint efter genstarten")
    with session_factory() as session:
        assert session.get(BotState, ("chat", str(FAMILY_CHAT))) is None  # nothing left open
