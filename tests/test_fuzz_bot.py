"""Fuzzing the bot with hypothesis: every registered command (the family's and staff's) with any
argument, any callback data (arbitrary, and forged to look like ours), photos and files of any
bytes, and the webhook with any body and any secret. The bot always answers, never fails an
update (no error logged, no ``bot_error`` case), and the webhook never answers 500."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from telegram.ext import CommandHandler

from bot import callbacks
from bot.app import COMMANDS
from followup.escalations import raise_escalation
from store.models import Escalation, Match
from tests.fakes.telegram import FakeTelegram
from tests.support.bot_harness import (
    FAMILY_CHAT,
    SECRET,
    STAFF_CHAT,
    BotHarness,
    Sent,
    snapshot,
)
from tests.support.cast import make_match
from tests.support.fuzz import FUZZ, hostile_text
from tests.test_moments import jpeg

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app

STRANGER_CHAT = 9009  # a chat the bot knows nothing about
chats = st.sampled_from([FAMILY_CHAT, STAFF_CHAT, STRANGER_CHAT])


def registered_commands(bot: BotHarness) -> list[str]:
    """Every command the running bot has a handler for: a new command is fuzzed as it comes."""
    assert bot.application is not None
    return sorted(
        f"/{name}"
        for handlers in bot.application.handlers.values()
        for handler in handlers
        if isinstance(handler, CommandHandler)
        for name in handler.commands
    )


def cast(factory: sessionmaker[Session]) -> tuple[int, int]:
    """The cast's match, its procesleder in Telegram (STAFF_CHAT), and an open case: (the
    match's id, the case's id)."""
    with factory.begin() as session:
        match = session.scalars(select(Match)).first()
        if match is None:
            match = make_match(session)
            assert match.staff is not None
            match.staff.telegram_chat_id = STAFF_CHAT
        case = session.scalars(select(Escalation.id)).first()
        if case is None:
            case = raise_escalation(
                session, match, "worry", now=match.created_at, evidence={"text": "?"}
            ).id
        return match.id, case


@pytest.fixture
def quiet(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.WARNING):
        yield caplog


def assert_handled(
    bot: BotHarness,
    factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
    sent: Sent,
) -> None:
    """The update was handled: nothing failed, and the person was answered."""
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    with factory() as session:
        assert not session.scalars(select(Escalation).where(Escalation.rule == "bot_error")).all()
    bot.fake.assert_no_violations()
    assert sent.texts or sent.of("answerCallbackQuery"), sent.calls


def test_every_command_in_the_menu_is_among_those_fuzzed(bot: BotHarness) -> None:
    fuzzed = registered_commands(bot)
    assert {f"/{name}" for name, _ in COMMANDS} <= set(fuzzed)
    assert {"/start", "/cancel", "/today", "/match"} <= set(fuzzed)


@FUZZ
@given(data=st.data(), chat=chats, argument=hostile_text, language=st.sampled_from(["da", "en"]))
def test_any_command_with_any_argument_in_any_chat_is_answered_without_an_error(
    bot: BotHarness,
    session_factory: sessionmaker[Session],
    quiet: pytest.LogCaptureFixture,
    data: st.DataObject,
    chat: int,
    argument: str,
    language: str,
) -> None:
    cast(session_factory)
    commands = registered_commands(bot)
    command = data.draw(st.sampled_from(commands) | st.from_regex(r"/[a-z_]{1,12}", fullmatch=True))
    quiet.clear()
    sent = bot.say(chat, f"{command} {argument}".strip()[:4096], language)
    assert_handled(bot, session_factory, quiet, sent)


def forged(match_id: int, case_id: int) -> st.SearchStrategy[str]:
    """Callback data in our own shape, naming our match and case or any other ids, days and
    choices: what someone who read our buttons could send."""
    ids = rf"({match_id}|{case_id}|[1-9][0-9]{{0,11}}|[1-9]\d{{0,2}})"

    def of(action: str) -> st.SearchStrategy[str]:
        pattern = callbacks._PATTERNS[action].pattern.replace(callbacks._ID, ids)
        body = st.from_regex(re.compile(pattern), fullmatch=True)
        return body.map(lambda fields: f"{callbacks.VERSION}|{action}|{fields}")

    return st.sampled_from(sorted(callbacks._PATTERNS)).flatmap(of)


@pytest.mark.parametrize("pressed", ["v1|wo|9999999999", "v1|sn|2147483648", "v1|ack|99999999999"])
def test_a_forged_button_with_an_id_beyond_the_database_is_an_expired_button(
    bot: BotHarness, session_factory: sessionmaker[Session], pressed: str
) -> None:
    # Found by fuzzing on PostgreSQL: the id reached the query and failed it (DataError).
    cast(session_factory)
    assert callbacks.parse(pressed) is None
    sent = bot.process(bot.fake.callback_update(STAFF_CHAT, pressed, 1, push=False))
    assert sent.of("answerCallbackQuery")[0]["text"]  # "this button has expired"


@FUZZ
@given(data=st.data(), chat=chats, message_id=st.integers(1, 10**6), raw=st.text(max_size=70))
def test_any_button_press_forged_or_arbitrary_is_answered_without_an_error(
    bot: BotHarness,
    session_factory: sessionmaker[Session],
    quiet: pytest.LogCaptureFixture,
    data: st.DataObject,
    chat: int,
    message_id: int,
    raw: str,
) -> None:
    match_id, case_id = cast(session_factory)
    pressed = data.draw(forged(match_id, case_id) | st.just(raw))
    quiet.clear()
    sent = bot.process(bot.fake.callback_update(chat, pressed, message_id, push=False))
    assert_handled(bot, session_factory, quiet, sent)
    assert sent.of("answerCallbackQuery"), "the button's spinner stops"


@FUZZ
@given(
    chat=chats,
    picture=st.binary(max_size=300) | st.just(jpeg()),
    as_document=st.booleans(),
    mime=st.sampled_from(["image/jpeg", "image/png", "application/pdf", "image/x-nonsense"]),
    caption=st.none() | hostile_text.map(lambda t: t[:1024]),
)
def test_any_photo_or_file_with_any_caption_is_answered_without_an_error(
    bot: BotHarness,
    session_factory: sessionmaker[Session],
    quiet: pytest.LogCaptureFixture,
    chat: int,
    picture: bytes,
    as_document: bool,
    mime: str,
    caption: str | None,
) -> None:
    cast(session_factory)
    quiet.clear()
    fake = bot.fake
    update = (
        fake.document_update(
            chat, picture, mime_type=mime, file_name="billede", caption=caption, push=False
        )
        if as_document
        else fake.photo_update(chat, picture, caption=caption, push=False)
    )
    assert_handled(bot, session_factory, quiet, bot.process(update))


# -- the webhook ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
UPDATE_FIELDS = ["message", "callback_query", "edited_message", "my_chat_member", "update_id"]


def mangled(fake: FakeTelegram) -> st.SearchStrategy[dict[str, Any]]:
    """A real update (a message or a button press) with fields replaced by any JSON."""
    base = st.sampled_from(["message", "press"]).map(
        lambda kind: (
            fake.message_update(FAMILY_CHAT, "/help", push=False)
            if kind == "message"
            else fake.callback_update(FAMILY_CHAT, "v1|lg|da", 1, push=False)
        )
    )
    return st.tuples(
        base,
        st.dictionaries(st.sampled_from(UPDATE_FIELDS), json_values, max_size=2),
        st.dictionaries(
            st.sampled_from(["chat", "from", "date", "text", "message_id", "data", "entities"]),
            json_values,
            max_size=2,
        ),
    ).map(_mangle)


def _mangle(parts: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    update, top, inner = parts
    key = "message" if "message" in update else "callback_query"
    update[key] = {**update[key], **inner}
    return {**update, **top}


@FUZZ
@given(
    data=st.data(),
    raw=st.binary(max_size=300),
    kind=st.sampled_from(["bytes", "json", "update"]),
    secret=st.sampled_from([SECRET, "", SECRET + "x"]) | st.text(max_size=40),
)
def test_any_webhook_body_with_any_secret_is_4xx_or_handled_never_500(
    webhook: tuple[BotHarness, str],
    session_factory: sessionmaker[Session],
    quiet: pytest.LogCaptureFixture,
    data: st.DataObject,
    raw: bytes,
    kind: str,
    secret: str,
) -> None:
    harness, url = webhook
    cast(session_factory)
    body = (
        raw
        if kind == "bytes"
        else json.dumps(data.draw(json_values if kind == "json" else mangled(harness.fake)))
    )
    before = snapshot(session_factory)
    quiet.clear()
    headers = {b"X-Telegram-Bot-Api-Secret-Token": secret.encode()}
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=5)
    except httpx.LocalProtocolError:  # a secret httpx cannot put in a header
        return
    assert harness.application is not None
    harness.call(harness.application.update_queue.join())
    assert response.status_code in {200, 400, 403}, response.status_code
    if response.status_code != 200:
        assert snapshot(session_factory) == before  # refused: nothing written
    assert not [r for r in quiet.records if "Exception in ASGI" in r.getMessage()]
    if secret != SECRET:
        assert response.status_code == 403
