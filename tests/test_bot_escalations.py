"""Escalation rules fed by the real bot: what a family taps reaches its staff member."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Escalation
from tests.support.bot_harness import (
    FAMILY_CHAT,
    STAFF_CHAT,
    VISIT_EVENING,
    BotHarness,
    callback_data,
)
from tests.support.cast import make_match

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app


def test_two_visits_cancelled_from_the_prompt_reach_the_staff_member_as_one_alert(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)
        assert match.staff is not None
        match.staff.telegram_chat_id = STAFF_CHAT
    for week in range(2):
        evening = VISIT_EVENING + timedelta(weeks=week)
        message_id, prompt = bot.prompt_to(FAMILY_CHAT, bot.tick(evening), "v")
        asked = bot.press(FAMILY_CHAT, callback_data(prompt)[1], message_id)  # ❌ Aflyst
        bot.press(FAMILY_CHAT, asked.data("Barnets familie"), message_id)
    # The next morning at 9: the rule has fired; the alert waits a few minutes for company.
    morning = VISIT_EVENING + timedelta(weeks=1, hours=15)
    first = [str(p["text"]) for p in bot.tick(morning).of("sendMessage")]
    assert not [text for text in first if "besøg i træk er aflyst" in text]
    alerted = bot.tick(morning + timedelta(minutes=5))
    alerts = [p for p in alerted.of("sendMessage") if int(p["chat_id"]) == STAFF_CHAT]
    assert any(
        "2 besøg i træk er aflyst eller ikke blevet til noget" in str(p["text"]) for p in alerts
    )
    with session_factory() as session:
        escalation = session.scalars(
            select(Escalation).where(Escalation.rule == "missed_visits")
        ).one()
    assert escalation.evidence[0]["visits"] == ["2026-03-09", "2026-03-16"]
    assert escalation.evidence[0]["cancelled_by"] == ["child_family"]


def test_a_visit_prompt_delivered_a_day_late_names_the_day(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    # Nothing ran on the visit evening (downtime): the prompt goes out the next morning.
    late = bot.tick(VISIT_EVENING + timedelta(hours=15))
    texts = [str(p["text"]) for p in late.of("sendMessage") if int(p["chat_id"]) == FAMILY_CHAT]
    prompt = [text for text in texts if "på besøg " in text and "Velkommen" not in text]
    assert prompt and "Kom Barn A på besøg mandag?" in prompt[0]
    assert "i dag" not in prompt[0]
    on_time = bot.tick(VISIT_EVENING + timedelta(weeks=1))
    texts = [str(p["text"]) for p in on_time.of("sendMessage") if int(p["chat_id"]) == FAMILY_CHAT]
    assert any("Kom Barn A på besøg i dag?" in text for text in texts)
