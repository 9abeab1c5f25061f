"""Urgent news in seconds: a worry reaches the staff member at once, whatever else the bot is
busy with. Through the real bot, with Telegram's rate limits on, against the fake Bot API."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.models import Escalation
from tests.fakes.telegram import FakeTelegram, TelegramCall
from tests.support.bot_harness import FAMILY_CHAT, STAFF_CHAT, VISIT_EVENING, BotHarness, Clock
from tests.support.cast import make_match
from venskab.cli.common import AppContext

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app

WORRY = "⚠️ Jeg er bekymret for noget"
STRANGER = 9001
LIMIT = 5.0  # seconds from the press to the staff member's alert


@pytest.fixture
def live_bot(fake: FakeTelegram, app: AppContext) -> Iterator[BotHarness]:
    harness = BotHarness(fake, app, Clock(VISIT_EVENING), rate_limited=True, urgent_news=True)
    harness.start()
    try:
        yield harness
    finally:
        harness.close()


def first_send(fake: FakeTelegram, chat_id: int, after: int, deadline: float) -> TelegramCall:
    while time.monotonic() < deadline:
        for call in fake.calls[after:]:
            if call.method == "sendMessage" and call.params.get("chat_id") == chat_id:
                return call
        time.sleep(0.01)
    raise AssertionError(f"nothing was sent to chat {chat_id} in time")


def test_a_worry_after_a_strangers_flood_is_answered_and_alerted_within_seconds(
    live_bot: BotHarness, fake: FakeTelegram, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)
        assert match.staff is not None
        match.staff.telegram_chat_id = STAFF_CHAT
    before = len(fake.calls)
    # 25 messages from a chat the bot does not know: each answer waits for that chat's limit.
    for n in range(25):
        fake.message_update(STRANGER, f"hej {n}")
    pressed = time.monotonic()
    fake.message_update(FAMILY_CHAT, WORRY)

    answered = first_send(fake, FAMILY_CHAT, before, pressed + LIMIT)
    alerted = first_send(fake, STAFF_CHAT, before, pressed + LIMIT)

    assert "hvad I er bekymrede for" in str(answered.params["text"])
    assert "bekymret" in str(alerted.params["text"])
    assert alerted.received_at - pressed < LIMIT
    # The stranger still gets every answer, later, one chat's updates after the other.
    live_bot.call(live_bot.application.update_queue.join(), timeout=60)  # type: ignore[union-attr]
    to_stranger = [c for c in fake.calls[before:] if c.params.get("chat_id") == STRANGER]
    assert len([c for c in to_stranger if c.method == "sendMessage"]) == 25
    assert to_stranger[-1].received_at > alerted.received_at
    with session_factory() as session:
        assert session.query(Escalation).filter_by(rule="worry").one().push_count == 1
