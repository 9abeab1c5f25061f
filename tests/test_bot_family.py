"""The family's commands: year plan, what's next, pause, stop, language, and plain messages."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import (
    EndedBy,
    Escalation,
    Locale,
    Match,
    MatchPause,
    MatchStatus,
    Task,
    VolunteerFamily,
)
from tests.support.bot_harness import (
    FAMILY_CHAT,
    BotHarness,
    snapshot,
)
from tests.support.cast import make_match

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app


def family_match(session_factory: sessionmaker[Session], locale: str = "da") -> int:
    with session_factory.begin() as session:
        match = make_match(session)
        match.volunteer_family.locale = Locale(locale)
        return match.id


def escalations(session_factory: sessionmaker[Session], rule: str) -> list[Escalation]:
    with session_factory() as session:
        return list(session.scalars(select(Escalation).where(Escalation.rule == rule)))


@pytest.mark.parametrize(
    ("locale", "past", "upcoming"),
    [
        ("da", "✓ 2. mar. 2026: Forløbet starter", "• 2. mar. 2027: Årsdag: forløbet slutter"),
        ("en", "✓ 2 Mar 2026: The match starts", "• 2 Mar 2027: Anniversary: the match ends"),
    ],
)
def test_plan_shows_the_year_with_past_and_upcoming_touchpoints(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str, past: str, upcoming: str
) -> None:
    family_match(session_factory, locale)

    sent = bot.say(FAMILY_CHAT, "/plan")

    (message,) = sent.of("sendMessage")
    assert past in message["text"]
    assert upcoming in message["text"]
    assert {
        "da": "• 21. apr. 2026: Invitation til sparring (sparring 5. maj 2026 kl. 19:30)",
        "en": "• 21 Apr 2026: Invitation to group sparring (sparring 5 May 2026 at 19:30)",
    }[locale] in message["text"]
    assert len(message["text"]) <= 4096


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("da", "Næste besøg: mandag den 16. marts 2026.\nDerefter: Invitation til sparring"),
        ("en", "Next visit: Monday, 16 March 2026.\nAfter that: Invitation to group sparring"),
    ],
)
def test_next_says_what_happens_next(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str, expected: str
) -> None:
    family_match(session_factory, locale)

    sent = bot.say(FAMILY_CHAT, "/next")

    assert sent.text.startswith(expected)


@pytest.mark.parametrize(
    ("locale", "ask", "saved"),
    [
        (
            "da",
            "Skriv første og sidste dag, fx 1/7-9/8.",
            "Pausen er noteret: fra onsdag den 1. juli 2026 til og med søndag den 9. august 2026.",
        ),
        (
            "en",
            "Write the first and last day, e.g. 1/7-9/8.",
            "The pause is noted: from Wednesday, 1 July 2026 up to and including Sunday, 9 August 2026.",
        ),
    ],
)
def test_pause_for_the_summer_holiday_stops_visit_prompts_in_between(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str, ask: str, saved: str
) -> None:
    match_id = family_match(session_factory, locale)

    asked = bot.say(FAMILY_CHAT, "/pause")
    answered = bot.say(FAMILY_CHAT, "1/7-9/8")
    in_july = bot.tick(datetime(2026, 7, 6, 17, 5, tzinfo=UTC))  # a Monday, 19:05 local
    back = bot.tick(datetime(2026, 8, 10, 17, 5, tzinfo=UTC))

    assert ask in asked.text
    assert answered.text.startswith(saved)
    with session_factory() as session:
        pause = session.scalars(select(MatchPause).where(MatchPause.match_id == match_id)).one()
        assert (pause.start_date, pause.end_date) == (date(2026, 7, 1), date(2026, 8, 10))
    assert not [
        p
        for p in in_july.of("sendMessage")
        if "reply_markup" in p and p["chat_id"] == FAMILY_CHAT and "v1|v|" in str(p["reply_markup"])
    ]
    assert any(
        f"v1|v|{match_id}|20260810|y" in str(p.get("reply_markup")) for p in back.of("sendMessage")
    )


def test_pause_takes_the_dates_with_the_command_and_refuses_what_does_not_fit(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    family_match(session_factory)

    past = bot.say(FAMILY_CHAT, "/pause 1/2/2026-5/2/2026")
    unclear = bot.say(FAMILY_CHAT, "i sommerferien")
    first = bot.say(FAMILY_CHAT, "/pause 1.7-9.8")
    overlapping = bot.say(FAMILY_CHAT, "/pause 5/8-20/8")

    assert past.text.startswith("En pause skal starte i dag eller senere")
    assert unclear.text.startswith("Det kunne vi ikke læse")
    assert first.text.startswith("Pausen er noteret")
    assert overlapping.text.startswith("Der er allerede en pause i den periode")


@pytest.mark.parametrize("locale", ["da", "en"])
def test_stop_asks_for_confirmation_then_ends_the_match_and_alerts_staff(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str
) -> None:
    match_id = family_match(session_factory, locale)
    words = {
        "da": (
            "Vil I stoppe forløbet med Barn A?",
            "Nej, vi fortsætter",
            "Dejligt",
            "Ja, vi ønsker at stoppe",
            "Vi har noteret, at I ønsker at stoppe",
            "Tak. Det er sendt videre til Procesleder.",
        ),
        "en": (
            "Do you want to end the match with Barn A?",
            "No, we'll continue",
            "Lovely",
            "Yes, we want to stop",
            "We have noted that you want to stop",
            "Thank you. It has been passed on to Procesleder.",
        ),
    }[locale]

    asked = bot.say(FAMILY_CHAT, "/stop")
    kept = bot.press(FAMILY_CHAT, asked.data(words[1]))
    with session_factory() as session:
        assert session.get(Match, match_id).status == MatchStatus.ACTIVE  # type: ignore[union-attr]
    again = bot.say(FAMILY_CHAT, "/stop")
    stopped = bot.press(FAMILY_CHAT, again.data(words[3]))
    reason = bot.say(FAMILY_CHAT, "Vi flytter til Aarhus")
    bot.tick(bot.clock.now)  # the planner re-plans the ended match

    assert words[0] in asked.text
    assert words[2] in kept.text
    assert words[4] in stopped.text
    assert reason.text == words[5]
    with session_factory() as session:
        match = session.get(Match, match_id)
        assert match is not None
        assert (match.status, match.ended_by, match.end_date, match.end_reason) == (
            MatchStatus.ENDED,
            EndedBy.VOLUNTEER_FAMILY,
            date(2026, 3, 9),
            "Vi flytter til Aarhus",
        )
        # The programme's early-end touchpoint follows: an extra child visit for staff.
        tasks = session.scalars(select(Task).where(Task.match_id == match_id)).all()
        assert "early-end-child-visit" in {t.touchpoint_id for t in tasks}
    (escalation,) = escalations(session_factory, "wants_to_stop")
    assert escalation.evidence[-1]["reason"] == "Vi flytter til Aarhus"


def test_language_switches_every_text_and_the_worry_button(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    family_match(session_factory)

    asked = bot.say(FAMILY_CHAT, "/language")
    switched = bot.press(FAMILY_CHAT, asked.data("English"))
    helped = bot.say(FAMILY_CHAT, "/help")
    back = bot.press(FAMILY_CHAT, bot.say(FAMILY_CHAT, "/language").data("Dansk"))

    assert asked.buttons() == [["Dansk", "English"]]
    (message,) = switched.of("sendMessage")
    assert message["text"] == "The language is now English."
    assert message["reply_markup"]["keyboard"] == [[{"text": "⚠️ I'm worried about something"}]]
    assert "What you can do here:" in helped.text
    assert "Sproget er nu dansk." in back.text
    with session_factory() as session:
        assert session.scalars(select(VolunteerFamily)).one().locale == Locale.DA


@pytest.mark.parametrize(
    ("locale", "passed_on"),
    [
        ("da", "Tak, jeres besked er sendt videre til Procesleder."),
        ("en", "Thank you, your message has been passed on to Procesleder."),
    ],
)
def test_a_plain_message_goes_to_the_staff_member_and_the_family_is_told(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str, passed_on: str
) -> None:
    family_match(session_factory, locale)

    sent = bot.say(FAMILY_CHAT, "Kan vi flytte besøget til tirsdag i næste uge?")

    assert sent.text == passed_on
    (escalation,) = escalations(session_factory, "message_from_family")
    assert escalation.summary == "A message from the volunteer family"
    assert escalation.evidence[0]["text"] == "Kan vi flytte besøget til tirsdag i næste uge?"
    assert escalation.staff_id is not None


@pytest.mark.parametrize(
    ("programme", "locale", "staff"),
    [
        ("hjem-til-os", "da", "jeres kontaktperson i Red Barnet"),
        ("mentorbarn", "da", "jeres procesleder"),
        ("familien-i-fokus", "da", "jeres aktivitetsleder"),
        ("mentorbarn", "en", "your case lead"),
    ],
)
def test_a_match_without_a_staff_member_names_the_programme_s_own_role(
    bot: BotHarness, session_factory: sessionmaker[Session], programme: str, locale: str, staff: str
) -> None:
    with session_factory.begin() as session:
        match = make_match(session, programme=programme)
        match.volunteer_family.locale = Locale(locale)
        match.staff = None

    sent = bot.say(FAMILY_CHAT, "Hvem skal vi ringe til?")
    helped = bot.say(FAMILY_CHAT, "/help")

    assert (
        sent.text
        == {
            "da": f"Tak, jeres besked er sendt videre til {staff}.",
            "en": f"Thank you, your message has been passed on to {staff}.",
        }[locale]
    )
    assert {"da": f"sender vi den til {staff}.", "en": f"we pass it on to {staff}."}[
        locale
    ] in helped.text


def test_a_sticker_or_location_is_not_stored_and_the_family_is_asked_for_text(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    family_match(session_factory)
    before = snapshot(session_factory)
    update = bot.fake.message_update(FAMILY_CHAT, "x", push=False)
    del update["message"]["text"]
    update["message"]["location"] = {"latitude": 55.68, "longitude": 12.57}

    sent = bot.process(update)

    assert sent.text == "Vi kan kun læse tekst her. Skriv gerne en besked, så sender vi den videre."
    assert snapshot(session_factory) == before


def test_cancel_leaves_an_open_question(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    family_match(session_factory)
    bot.say(FAMILY_CHAT, "/pause")

    cancelled = bot.say(FAMILY_CHAT, "/cancel")
    later = bot.say(FAMILY_CHAT, "1/7-9/8")

    assert cancelled.text == "OK, det er afbrudt."
    assert "sendt videre til Procesleder" in later.text
    with session_factory() as session:
        assert session.scalars(select(MatchPause)).all() == []


def test_a_pause_in_year_9999_gets_a_polite_correction_not_a_crash(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    # Input ranges: /pause 31.12.9999-31.12.9999 raised OverflowError and opened a bot_error case.
    family_match(session_factory)

    far = bot.say(FAMILY_CHAT, "/pause 31.12.9999-31.12.9999")
    three_years = bot.say(FAMILY_CHAT, "/pause 1.7.2029-9.8.2029")

    for answer in (far, three_years):
        assert answer.text.startswith("En pause skal starte i dag eller senere")
        assert "inden for to år" in answer.text
    assert escalations(session_factory, "bot_error") == []
    with session_factory() as session:
        assert session.scalars(select(MatchPause)).all() == []
