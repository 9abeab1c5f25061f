"""Looking is not writing: showing the year plan and what comes next inserts no row anywhere
(not even the bot's own conversation state) and changes none."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Base, Child, Match
from tests.support.bot_harness import FAMILY_CHAT, BotHarness, snapshot
from tests.support.cast import make_match

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app


def row_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def test_plan_and_next_insert_nothing(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    bot.say(FAMILY_CHAT, "/help")  # the chat's first update, so nothing below is a first time
    counts, rows = row_counts(session_factory), snapshot(session_factory)

    plan = bot.say(FAMILY_CHAT, "/plan")
    upcoming = bot.say(FAMILY_CHAT, "/next")
    again = bot.say(FAMILY_CHAT, "/plan")

    assert plan.of("sendMessage") and upcoming.of("sendMessage") and again.of("sendMessage")
    # Each message names how it will come: Telegram here, the farewell by email (as listed).
    assert "Velkomst til venskabsfamilien (Telegram)" in plan.text
    assert "Farvelhilsen til venskabsfamilien (e-mail)" in plan.text
    assert row_counts(session_factory) == counts
    assert snapshot(session_factory) == rows


def test_plan_and_next_insert_nothing_for_a_family_with_two_matches(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        first = make_match(session)
        session.add(
            Match(
                programme=first.programme,
                child=Child(first_name="Ida"),
                volunteer_family=first.volunteer_family,
                staff=first.staff,
                start_date=first.start_date,
                visit_weekday=first.visit_weekday,
                created_at=first.created_at,
            )
        )
    counts = row_counts(session_factory)

    for command in ("/plan", "/next"):
        asked = bot.say(FAMILY_CHAT, command)  # which match? (buttons)
        bot.press(FAMILY_CHAT, asked.data(asked.buttons()[0][0]))

    assert row_counts(session_factory) == counts
