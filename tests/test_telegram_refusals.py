"""A text Telegram refuses (too long, entities it cannot parse) is shortened and resent once,
else sent on the family's next channel, with the reason kept; the family's Telegram stays in use. Through the
dispatcher and the real bot's Bot client, against the fake Bot API."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Channel, OutboxMessage, OutboxStatus, VolunteerFamily
from tests.support.bot_harness import FAMILY_CHAT, VISIT_EVENING, BotHarness
from tests.support.cast import make_match

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app

ENTITIES = "Bad Request: can't parse entities: can't find end of the entity starting at byte 12"


# The second week's visit prompt: the welcome, the sparring invitation and the first prompt's
# reminder went out before, so it is the only message of its tick.
NEXT_PROMPT = VISIT_EVENING + timedelta(weeks=1)


def before_the_next_prompt(bot: BotHarness) -> None:
    bot.tick(VISIT_EVENING)
    bot.tick(VISIT_EVENING + timedelta(days=1))


def prompts(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.touchpoint_id == "weekly-visit",
                    OutboxMessage.occurrence_key == "2026-03-16",
                )
                .order_by(OutboxMessage.id)
            )
        )


def test_a_prompt_refused_once_is_shortened_and_delivered(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    before_the_next_prompt(bot)
    bot.fake.fail_next("sendMessage", error_code=400, description=ENTITIES)

    sent = bot.tick(NEXT_PROMPT)

    to_family = [c for c in sent.calls if c.params.get("chat_id") == FAMILY_CHAT]
    assert [c.status for c in to_family] == [400, 200]
    (prompt,) = prompts(session_factory)
    assert prompt.status == OutboxStatus.SENT and prompt.attempts == 1


def test_a_prompt_refused_twice_goes_by_sms_and_says_why(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    before_the_next_prompt(bot)
    bot.fake.fail_next("sendMessage", error_code=400, description=ENTITIES, times=2)

    bot.tick(NEXT_PROMPT)
    later = bot.tick(NEXT_PROMPT + timedelta(minutes=2))

    rows = prompts(session_factory)
    telegram = [r for r in rows if r.channel == Channel.TELEGRAM]
    sms = [r for r in rows if r.channel == Channel.SMS]
    assert [r.status for r in telegram] == [OutboxStatus.FAILED]
    assert telegram[0].attempts == 1  # not retried as if it were a passing fault
    assert "Telegram refused the text" in (telegram[0].last_error or "")
    assert [r.status for r in sms] == [OutboxStatus.SENT]  # the touchpoint's next channel
    assert not later.of("sendMessage")  # and not sent by Telegram again
    with session_factory() as session:
        family = session.scalars(select(VolunteerFamily)).one()
    assert not family.telegram_blocked  # the next message goes by Telegram again
