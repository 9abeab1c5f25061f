"""Nothing a chat sends can change what it does not own: forged, foreign and stale buttons,
junk updates of every kind, and failures that must reach staff without leaking text to logs."""

from __future__ import annotations

import logging
import time as clock
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Escalation, Staff, StaffRole
from tests.fakes.spec import TelegramSpec
from tests.support.bot_harness import (
    FAMILY_CHAT,
    STAFF_CHAT,
    BotHarness,
    callback_data,
    snapshot,
)
from tests.support.cast import make_match

OTHER_CHAT = 5002
EXPIRED = "Denne knap er udløbet."

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app


@pytest.fixture
def two_families(session_factory: sessionmaker[Session]) -> tuple[int, int]:
    """Our family's match (chat 5001, staff on 7001) and another family's (chat 5002)."""
    with session_factory.begin() as session:
        ours = make_match(session)
        assert ours.staff is not None
        ours.staff.telegram_chat_id = STAFF_CHAT
        theirs = make_match(session, telegram_chat_id=OTHER_CHAT)
        return ours.id, theirs.id


def test_forged_foreign_and_stale_buttons_have_expired_and_change_nothing(
    bot: BotHarness, session_factory: sessionmaker[Session], two_families: tuple[int, int]
) -> None:
    ours, theirs = two_families
    prompts = bot.tick(bot.clock.now)
    message_id, _ = bot.prompt_to(FAMILY_CHAT, prompts)
    their_id, their_prompt = bot.prompt_to(OTHER_CHAT, prompts)
    before = snapshot(session_factory)
    forged = [
        callback_data(their_prompt)[0],  # a real button of another family's prompt
        f"v1|v|{theirs}|20260309|y",  # another family's match
        f"v1|v|{ours}|20260302|y",  # a day nobody asked about
        f"v1|v|{ours}|20260316|y",  # a day in the future
        f"v1|v|{ours}|20261399|y",  # no such day
        f"v1|ck|{ours}|d20260309|5",  # a check-in for a visit not reported
        f"v1|ck|{ours}|tzzzzzzzz|5",  # a check-in shown in the far future
        f"v1|cb|{ours}|20260309|il",  # who cancelled a visit that was not cancelled
        f"v1|mv|{ours}|20260309|20260311",  # moving a visit that was not moved
        f"v1|rs|{ours}|999999|y",  # a session that does not exist
        f"v1|st|{theirs}|y",  # stopping another family's match
        f"v1|wo|{theirs}",  # a worry about another family's child
        f"v1|pk|{theirs}|st",
        "v1|ack|1",  # a family acknowledging an alert
        f"v2|v|{ours}|20260309|y",  # a version we do not know
        f"v1|v|{ours}|20260309|y|extra",
        f"v1|v|0{ours}|20260309|y",
        "v1|lg|fr",
        "",
        "x" * 64,
    ]

    for data in forged:
        sent = bot.press(FAMILY_CHAT, data, message_id)
        assert sent.of("answerCallbackQuery")[0]["text"] == EXPIRED, data
        assert not sent.of("editMessageText") and not sent.of("sendMessage"), data

    assert snapshot(session_factory) == before
    assert their_id != message_id  # the other family's prompt really is another message


def test_a_button_pressed_in_a_group_chat_has_expired(
    bot: BotHarness, session_factory: sessionmaker[Session], two_families: tuple[int, int]
) -> None:
    ours, _ = two_families
    before = snapshot(session_factory)
    update = bot.fake.callback_update(FAMILY_CHAT, f"v1|wo|{ours}", message_id=1, push=False)
    update["callback_query"]["message"]["chat"] = {"id": -1001, "type": "group", "title": "Venner"}

    sent = bot.process(update)

    assert sent.of("answerCallbackQuery")[0]["text"] == EXPIRED
    assert snapshot(session_factory) == before


# -- junk --------------------------------------------------------------------------------------

SPECIAL = [
    "",
    " ",
    "\u202emirrored",
    "مرحبا بالعالم",
    "שלום עולם",
    "👨‍👩‍👧‍👦🏳️‍🌈",
    "Z̷͉̈a̸̝͝l̴̰̈g̵̣̾o",
    "\x00\x01\x1b",
    "010203-1234",
    "/start",
    "/start " + "A" * 64,
    "/start ../../etc/passwd",
    "/plan",
    "/checkin",
    "/stop",
    "/pause 1/7-9/8",
    "/match 1",
    "/today",
    "/language",
    "⚠️ Jeg er bekymret for noget",
    "/start@other_bot",
    "/",
    "/ukendt",
    "1/7-9/8",
]
COMMANDS = [
    "start",
    "help",
    "plan",
    "next",
    "checkin",
    "pause",
    "stop",
    "language",
    "cancel",
    "today",
    "match",
    "foo",
]

texts = st.one_of(
    st.text(max_size=200),
    st.sampled_from(SPECIAL),
    st.builds(lambda c, rest: f"/{c} {rest}", st.sampled_from(COMMANDS), st.text(max_size=80)),
    st.builds(lambda piece, n: piece * n, st.text(min_size=1, max_size=8), st.integers(500, 900)),
)


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Junk", "language_code": "da"}


def _message(chat: dict[str, Any], user_id: int, text: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": 1,
        "from": _user(user_id),
        "chat": chat,
        "date": int(clock.time()),
    }
    if text:
        message["text"] = text
        if text.startswith("/"):
            length = len(text.split()[0]) if text.split() else 1
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    else:
        message["sticker"] = {
            "file_id": "s",
            "file_unique_id": "s",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
        }
    return message


def _private(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "private", "first_name": "Junk"}


SPEC = TelegramSpec()


def valid(update: dict[str, Any]) -> dict[str, Any]:
    """Junk, but junk Telegram could send: the update must match the Bot API's Update type."""
    errors = SPEC.check_value({"update_id": 1, **update}, ["Update"], "update")
    assert not errors, errors
    return update


@st.composite
def junk_update(draw: st.DrawFn) -> dict[str, Any]:
    return valid(draw(_junk_update()))


@st.composite
def _junk_update(draw: st.DrawFn) -> dict[str, Any]:
    """An update Telegram could send that must not change anything: from chats nobody linked,
    from groups and channels, edits, stray buttons and update types the bot does not use."""
    text = draw(texts)
    stranger = draw(st.integers(10_000, 2**40))
    group = {
        "id": -draw(st.integers(1, 2**40)),
        "type": draw(st.sampled_from(["group", "supergroup"])),
        "title": "Gruppe",
    }
    kind = draw(
        st.sampled_from(
            [
                "stranger",
                "group",
                "edited",
                "callback",
                "channel",
                "inline",
                "member",
                "poll",
                "staff",
                "group_callback",
            ]
        )
    )
    if kind == "stranger":
        return {"message": _message(_private(stranger), stranger, text)}
    if kind == "group":
        return {"message": _message(group, FAMILY_CHAT, text)}
    if kind == "edited":
        edited = _message(_private(FAMILY_CHAT), FAMILY_CHAT, text or "x")
        return {"edited_message": {**edited, "edit_date": edited["date"]}}
    if kind in ("callback", "group_callback"):
        data = draw(
            st.one_of(
                st.text(max_size=64),
                st.builds(
                    lambda a, m, rest: f"v1|{a}|{m}|{rest}",
                    st.sampled_from(
                        ["v", "vn", "cb", "mv", "ck", "wo", "x", "rs", "st", "pk", "ack"]
                    ),
                    st.one_of(st.integers(-5, 0), st.integers(10**6, 10**12)),  # never ours
                    st.text(max_size=20),
                ),
            )
        )
        chat = group if kind == "group_callback" else _private(FAMILY_CHAT)
        message = {
            "message_id": 1,
            "from": {"id": 123456789, "is_bot": True, "first_name": "Bot"},
            "chat": chat,
            "date": int(clock.time()),
            "text": "…",
        }
        return {
            "callback_query": {
                "id": str(stranger),
                "from": _user(FAMILY_CHAT),
                "message": message,
                "chat_instance": "i",
                "data": data,
            }
        }
    if kind == "channel":
        channel = {"id": -1009, "type": "channel", "title": "Kanal"}
        return {
            "channel_post": {
                "message_id": 1,
                "chat": channel,
                "date": int(clock.time()),
                "text": text or "x",
                "sender_chat": channel,
            }
        }
    if kind == "inline":
        return {
            "inline_query": {
                "id": str(stranger),
                "from": _user(FAMILY_CHAT),
                "query": text[:256],
                "offset": "",
            }
        }
    if kind == "member":
        bot_user = {"id": 123456789, "is_bot": True, "first_name": "Bot"}
        return {
            "my_chat_member": {
                "chat": _private(FAMILY_CHAT),
                "from": _user(FAMILY_CHAT),
                "date": int(clock.time()),
                "old_chat_member": {"status": "member", "user": bot_user},
                "new_chat_member": {"status": "kicked", "user": bot_user, "until_date": 0},
            }
        }
    if kind == "poll":
        return {
            "poll": {
                "id": str(stranger),
                "question": text[:300] or "?",
                "options": [{"persistent_id": "a", "text": "a", "voter_count": 0}],
                "total_voter_count": 0,
                "is_closed": False,
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
                "allows_revoting": False,
                "members_only": False,
            }
        }
    return {"message": _message(_private(STAFF_CHAT), STAFF_CHAT, text)}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(updates=st.lists(junk_update(), min_size=1, max_size=6))
def test_junk_updates_cause_no_error_and_no_write(
    bot: BotHarness,
    session_factory: sessionmaker[Session],
    two_families: tuple[int, int],
    caplog: pytest.LogCaptureFixture,
    updates: list[dict[str, Any]],
) -> None:
    before = snapshot(session_factory)
    caplog.clear()

    with caplog.at_level(logging.WARNING):
        sent = bot.process_many(updates)

    assert snapshot(session_factory) == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    for params in sent.of("sendMessage"):
        assert params["chat_id"] > 0  # nothing is ever said in a group or channel
    bot.fake.assert_no_violations()


def test_the_bot_still_answers_after_the_junk(
    bot: BotHarness, two_families: tuple[int, int]
) -> None:
    junk = [
        {"message": _message(_private(99), 99, "🙃" * 5000)},
        {
            "poll": {
                "id": "1",
                "question": "?",
                "options": [],
                "total_voter_count": 0,
                "is_closed": True,
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
                "allows_revoting": False,
                "members_only": False,
            }
        },
    ]
    bot.process_many([valid(u) for u in junk])

    assert "/checkin" in bot.say(FAMILY_CHAT, "/help").text


# -- failures ----------------------------------------------------------------------------------


def test_a_failing_handler_is_logged_without_the_text_and_reaches_staff(
    bot: BotHarness,
    session_factory: sessionmaker[Session],
    two_families: tuple[int, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with session_factory.begin() as session:
        session.add(Staff(name="Koordinator", role=StaffRole.COORDINATOR, telegram_chat_id=7009))
    bot.fake.fail_next("sendMessage", error_code=400, description="Bad Request: message is odd")

    with caplog.at_level(logging.INFO):
        sent = bot.say(FAMILY_CHAT, "Hemmelig tekst om Barn A 010203-1234")
    alerted = bot.tick(datetime(2026, 3, 10, 7, 5, tzinfo=UTC))  # the next working morning

    assert "Beklager, noget gik galt. En medarbejder har fået besked." in sent.text
    assert "Hemmelig" not in caplog.text and "010203" not in caplog.text
    assert "BadRequest" in caplog.text
    with session_factory() as session:
        error = session.scalars(select(Escalation).where(Escalation.rule == "bot_error")).one()
        assert error.evidence[0]["error"] == "BadRequest"
    assert any(p["chat_id"] == 7009 for p in alerted.of("sendMessage"))
