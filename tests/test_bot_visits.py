"""The weekly visit prompt: one tap for visited, a few for cancelled or moved, one reminder."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import CancelledBy, Locale, Visit, VisitStatus
from tests.support.bot_harness import (
    FAMILY_CHAT,
    VISIT_EVENING,
    BotHarness,
    callback_data,
    labels,
)
from tests.support.cast import make_match

NEXT_EVENING = VISIT_EVENING + timedelta(days=1)

PROMPT = {
    "da": (
        "Hej Kontaktvoksen. Kom Barn A på besøg i dag?",
        [["✅ Kom på besøg", "❌ Aflyst", "📅 Flyttet"], ["⚠️ Jeg er bekymret for noget"]],
    ),
    "en": (
        "Hi Kontaktvoksen. Did Barn A visit you today?",
        [["✅ Visited", "❌ Cancelled", "📅 Moved"], ["⚠️ I'm worried about something"]],
    ),
}
EXPIRED = {"da": "Denne knap er udløbet.", "en": "This button has expired."}

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app


def family_match(
    session_factory: sessionmaker[Session], locale: str = "da", **kwargs: object
) -> int:
    with session_factory.begin() as session:
        match = make_match(session, **kwargs)  # type: ignore[arg-type]
        match.volunteer_family.locale = Locale(locale)
        return match.id


def visits(session_factory: sessionmaker[Session]) -> list[Visit]:
    with session_factory() as session:
        return list(session.scalars(select(Visit).order_by(Visit.planned_date)))


def prompt(
    bot: BotHarness, at: datetime = VISIT_EVENING, action: str = "v"
) -> tuple[int, dict[str, object]]:
    return bot.prompt_to(FAMILY_CHAT, bot.tick(at), action)


@pytest.mark.parametrize("locale", ["da", "en"])
def test_it_asks_on_the_visit_evening_and_one_tap_records_the_visit(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str
) -> None:
    family_match(session_factory, locale)

    message_id, params = prompt(bot)
    text, buttons = PROMPT[locale]
    assert text in str(params["text"])
    assert labels(params) == buttons
    assert all(len(data.encode()) <= 64 for data in callback_data(params))

    sent = bot.press(FAMILY_CHAT, callback_data(params)[0], message_id)

    thanks = {
        "da": "✅ Tak! Besøget mandag den 9. marts 2026 er noteret.",
        "en": "✅ Thank you! The visit on Monday, 9 March 2026 is noted.",
    }[locale]
    edited = sent.of("editMessageText")[0]
    assert edited["text"].startswith(thanks)
    assert labels(edited)[0] == ["1 😟", "2 🙁", "3 😐", "4 🙂", "5 😄"]
    assert [(v.planned_date, v.status) for v in visits(session_factory)] == [
        (date(2026, 3, 9), VisitStatus.VISITED)
    ]


@pytest.mark.parametrize("locale", ["da", "en"])
def test_the_prompt_buttons_stop_working_once_answered_and_no_reminder_follows(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str
) -> None:
    family_match(session_factory, locale)
    message_id, params = prompt(bot)
    bot.press(FAMILY_CHAT, callback_data(params)[0], message_id)

    again = bot.press(FAMILY_CHAT, callback_data(params)[1], message_id)
    next_day = bot.tick(NEXT_EVENING)

    assert again.of("answerCallbackQuery")[0]["text"] == EXPIRED[locale]
    assert not again.of("editMessageText")
    assert [v.status for v in visits(session_factory)] == [VisitStatus.VISITED]
    assert not [p for p in next_day.of("sendMessage") if p["chat_id"] == FAMILY_CHAT]


@pytest.mark.parametrize(
    ("locale", "reminder_text", "noted"),
    [
        (
            "da",
            "Påmindelse: Kom Barn A på besøg i mandags?",
            "Besøget mandag den 9. marts 2026 er noteret",
        ),
        (
            "en",
            "Reminder: did Barn A visit you on Monday?",
            "The visit on Monday, 9 March 2026 is noted",
        ),
    ],
)
def test_it_reminds_once_the_next_day_when_nobody_answered(
    bot: BotHarness,
    session_factory: sessionmaker[Session],
    locale: str,
    reminder_text: str,
    noted: str,
) -> None:
    family_match(session_factory, locale)
    first_id, first = prompt(bot)

    reminder_id, reminder = prompt(bot, NEXT_EVENING)
    later = bot.tick(NEXT_EVENING + timedelta(days=1))
    answered = bot.press(FAMILY_CHAT, callback_data(reminder)[0], reminder_id)
    original = bot.press(FAMILY_CHAT, callback_data(first)[0], first_id)

    assert reminder_text in str(reminder["text"])
    assert callback_data(reminder) == callback_data(first)  # both ask about Monday 9 March
    assert not [p for p in later.of("sendMessage") if p["chat_id"] == FAMILY_CHAT]
    assert noted in answered.text
    assert original.of("answerCallbackQuery")[0]["text"] == EXPIRED[locale]
    assert len(visits(session_factory)) == 1


@pytest.mark.parametrize("locale", ["da", "en"])
def test_a_cancelled_visit_records_who_cancelled_and_why(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str
) -> None:
    family_match(session_factory, locale)
    message_id, params = prompt(bot)

    asked = bot.press(FAMILY_CHAT, callback_data(params)[1], message_id)
    who = {"da": "Sygdom", "en": "Illness"}[locale]
    why = bot.press(FAMILY_CHAT, asked.data(who), message_id)
    noted = bot.say(FAMILY_CHAT, "Barn A havde feber 🤒")

    expected = {
        "da": (
            "Hvem aflyste besøget mandag den 9. marts 2026?",
            "Vil I skrive kort hvorfor?",
            "Tak, det er noteret.",
        ),
        "en": (
            "Who cancelled the visit on Monday, 9 March 2026?",
            "Would you like to write",
            "Thank you, it's noted.",
        ),
    }[locale]
    assert expected[0] in asked.text
    assert (
        asked.buttons()
        == {
            "da": [["Barnets familie", "Os (venskabsfamilien)"], ["Sygdom", "Andet"]],
            "en": [["The child's family", "Us (the volunteer family)"], ["Illness", "Other"]],
        }[locale]
    )
    assert expected[1] in why.text
    assert noted.text == expected[2]
    (visit,) = visits(session_factory)
    assert (visit.status, visit.cancelled_by, visit.note) == (
        VisitStatus.CANCELLED,
        CancelledBy.ILLNESS,
        "Barn A havde feber 🤒",
    )


def test_no_thanks_leaves_the_reason_out_and_the_next_text_goes_to_staff(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    family_match(session_factory)
    message_id, params = prompt(bot)
    asked = bot.press(FAMILY_CHAT, callback_data(params)[1], message_id)
    why = bot.press(FAMILY_CHAT, asked.data("Barnets familie"), message_id)

    skipped = bot.press(FAMILY_CHAT, why.data("Nej tak"), message_id)
    later = bot.say(FAMILY_CHAT, "Vi ses næste uge")

    assert skipped.of("answerCallbackQuery")[0]["text"] == "Fint, tak!"
    assert skipped.of("editMessageReplyMarkup")  # the buttons are gone
    assert "sendt videre til Procesleder" in later.text
    (visit,) = visits(session_factory)
    assert (visit.cancelled_by, visit.note) == (CancelledBy.CHILD_FAMILY, None)


@pytest.mark.parametrize("locale", ["da", "en"])
def test_a_moved_visit_asks_for_the_new_day_by_button(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str
) -> None:
    family_match(session_factory, locale)
    message_id, params = prompt(bot)

    asked = bot.press(FAMILY_CHAT, callback_data(params)[2], message_id)
    wednesday = {"da": "ons. 11. mar.", "en": "Wed 11 Mar"}[locale]
    moved = bot.press(FAMILY_CHAT, asked.data(wednesday), message_id)

    assert {"da": "Hvilken dag er besøget flyttet til?", "en": "Which day has the visit moved"}[
        locale
    ] in asked.text
    assert len(asked.buttons()) == 2 and sum(len(row) for row in asked.buttons()) == 7
    assert {
        "da": "Besøget er flyttet til onsdag den 11. marts 2026.",
        "en": "The visit has moved to Wednesday, 11 March 2026.",
    }[locale] in moved.text
    (visit,) = visits(session_factory)
    assert (visit.status, visit.moved_to) == (VisitStatus.MOVED, date(2026, 3, 11))


def test_a_moved_visit_takes_a_typed_date_and_explains_one_it_cannot_read(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    family_match(session_factory)
    message_id, params = prompt(bot)
    bot.press(FAMILY_CHAT, callback_data(params)[2], message_id)

    unclear = bot.say(FAMILY_CHAT, "en gang i næste uge")
    moved = bot.say(FAMILY_CHAT, "12/3")

    assert unclear.text == "Den dato kunne vi ikke læse. Skriv fx 12/3 eller 2026-03-12."
    assert moved.text == "📅 Tak! Besøget er flyttet til torsdag den 12. marts 2026."
    (visit,) = visits(session_factory)
    assert visit.moved_to == date(2026, 3, 12)


@pytest.mark.parametrize(
    ("locale", "question", "times"),
    [
        ("da", "Hvor mange gange har I set Barn A i denne uge?", 2),
        ("en", "How many times did you see Barn A this week?", 0),
    ],
)
def test_a_two_three_times_a_month_programme_asks_how_many_times_they_met(
    bot: BotHarness,
    session_factory: sessionmaker[Session],
    locale: str,
    question: str,
    times: int,
) -> None:
    family_match(session_factory, locale, programme="mentorbarn")
    message_id, params = prompt(bot, action="vn")

    answered = bot.press(FAMILY_CHAT, callback_data(params)[times], message_id)

    assert question in str(params["text"])
    assert labels(params)[0] == ["0", "1", "2", "3", "4+"]
    (visit,) = visits(session_factory)
    assert visit.times == times
    if times:
        assert visit.status == VisitStatus.VISITED
        assert "2 gange er noteret" in answered.text and answered.buttons()[0][0] == "1 😟"
    else:
        assert visit.status == VisitStatus.CANCELLED
        assert "you did not see Barn A this week" in answered.text


@pytest.mark.parametrize(
    ("locale", "times", "noted"),
    [
        ("da", 1, "✅ Tak! 1 gang er noteret."),
        ("da", 2, "✅ Tak! 2 gange er noteret."),
        ("da", 4, "✅ Tak! 4 gange eller flere er noteret."),
        ("en", 1, "✅ Thank you! We have noted that you met once."),
        ("en", 3, "✅ Thank you! We have noted that you met 3 times."),
    ],
)
def test_the_count_of_meetings_is_answered_in_the_right_number(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str, times: int, noted: str
) -> None:
    family_match(session_factory, locale, programme="mentorbarn")
    message_id, params = prompt(bot, action="vn")

    answered = bot.press(FAMILY_CHAT, callback_data(params)[times], message_id)

    first, _, question = answered.text.partition("\n\n")
    assert first == noted
    assert (
        question
        == {
            "da": "Hvordan gik det? 1 = dårligt, 5 = rigtig godt.",
            "en": "How did it go? 1 = badly, 5 = very well.",
        }[locale]
    )


def test_the_visit_prompt_comes_at_the_programme_evening_hour_in_local_time(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    family_match(session_factory)

    early = bot.tick(datetime(2026, 3, 9, 17, 55, tzinfo=UTC))  # 18:55 in Copenhagen

    assert not [p for p in early.of("sendMessage") if "Kom Barn A på besøg" in p["text"]]
    prompt(bot, datetime(2026, 3, 9, 18, 0, tzinfo=UTC))
