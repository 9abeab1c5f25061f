"""The Telegram channel through python-telegram-bot to the fake Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from itertools import pairwise

import pytest
from telegram.request import HTTPXRequest

from scheduler.channels import Button, ChannelError, OutgoingMessage
from scheduler.channels.telegram import ChatRateLimiter, TelegramChannel, make_bot
from tests.fakes.telegram import FakeTelegram

PARENT_CHAT = 4242
VOLUNTEER_CHAT = 4343


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server
        server.assert_no_violations()


@pytest.fixture
async def channel(fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(make_bot(fake.token, api_url=fake.url), owns_bot=True)
    yield channel
    await channel.close()


async def test_it_sends_a_message_with_an_inline_keyboard(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    message = OutgoingMessage(
        to=str(PARENT_CHAT),
        body="Har I mødtes i denne uge?",
        buttons=(
            (
                Button("Ja", callback_data="visit:17:yes"),
                Button("Nej", callback_data="visit:17:no"),
            ),
            (Button("Læs mere", url="https://venskab.example.org/guide"),),
        ),
    )

    result = await channel.send(message)

    ((_, params),) = fake.sent("sendMessage")
    assert params["chat_id"] == PARENT_CHAT
    assert params["text"] == "Har I mødtes i denne uge?"
    assert params["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "Ja", "callback_data": "visit:17:yes"},
                {"text": "Nej", "callback_data": "visit:17:no"},
            ],
            [{"text": "Læs mere", "url": "https://venskab.example.org/guide"}],
        ]
    }
    sent = next(c for c in fake.calls if c.method == "sendMessage")
    assert result.provider_id == str(sent.result["message_id"])


async def test_it_sends_plain_text_without_a_keyboard(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    await channel.send(OutgoingMessage(to=str(PARENT_CHAT), body="Tak for i dag"))

    ((_, params),) = fake.sent("sendMessage")
    assert "reply_markup" not in params


async def test_it_treats_a_blocked_bot_as_permanent(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.blocked_chats.add(PARENT_CHAT)

    with pytest.raises(ChannelError) as caught:
        await channel.send(OutgoingMessage(to=str(PARENT_CHAT), body="Hej"))

    assert caught.value.permanent
    assert caught.value.code == "forbidden"


async def test_it_treats_an_injected_403_as_permanent(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.fail_next(
        "sendMessage", error_code=403, description="Forbidden: bot was blocked by the user"
    )

    with pytest.raises(ChannelError) as caught:
        await channel.send(OutgoingMessage(to=str(PARENT_CHAT), body="Hej"))

    assert caught.value.permanent


async def test_it_treats_an_unknown_chat_as_permanent(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.unknown_chats.add(VOLUNTEER_CHAT)

    with pytest.raises(ChannelError) as caught:
        await channel.send(OutgoingMessage(to=str(VOLUNTEER_CHAT), body="Hej"))

    assert caught.value.permanent
    assert caught.value.code == "chat_not_found"
    assert str(VOLUNTEER_CHAT) not in str(caught.value)


async def test_it_treats_flood_control_as_transient_with_retry_after(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.fail_next("sendMessage", retry_after=3)

    with pytest.raises(ChannelError) as caught:
        await channel.send(OutgoingMessage(to=str(PARENT_CHAT), body="Hej"))

    assert not caught.value.permanent
    assert caught.value.retry_after == 3


async def test_it_treats_a_server_error_as_transient(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.fail_next("sendMessage", status=500)

    with pytest.raises(ChannelError) as caught:
        await channel.send(OutgoingMessage(to=str(PARENT_CHAT), body="Hej"))

    assert not caught.value.permanent
    assert caught.value.code == "network"


async def test_it_treats_a_timeout_as_transient(fake: FakeTelegram) -> None:
    bot = make_bot(fake.token, api_url=fake.url, request=HTTPXRequest(read_timeout=0.2))
    channel = TelegramChannel(bot, owns_bot=True)
    fake.fail_next("sendMessage", delay=1.0)
    try:
        with pytest.raises(ChannelError) as caught:
            await channel.send(OutgoingMessage(to=str(PARENT_CHAT), body="Hej"))
    finally:
        await channel.close()

    assert not caught.value.permanent
    assert caught.value.code == "timeout"


async def test_it_spaces_messages_to_one_chat(fake: FakeTelegram) -> None:
    limiter = ChatRateLimiter(per_chat_rate=20, per_chat_burst=1)
    bot = make_bot(fake.token, api_url=fake.url, rate_limiter=limiter)
    channel = TelegramChannel(bot, owns_bot=True)
    try:
        for n in range(4):
            await channel.send(OutgoingMessage(to=str(PARENT_CHAT), body=f"Besked {n}"))
    finally:
        await channel.close()

    arrivals = [c.received_at for c in fake.calls if c.method == "sendMessage"]
    assert all(later - earlier >= 1 / 20 - 0.01 for earlier, later in pairwise(arrivals))


def test_a_button_refuses_callback_data_over_64_bytes() -> None:
    Button("Ja", callback_data="x" * 64)
    with pytest.raises(ValueError, match="64"):
        Button("Ja", callback_data="x" * 65)
    with pytest.raises(ValueError):
        Button("Ja", callback_data="æ" * 33)  # 66 bytes in UTF-8


def test_a_button_needs_exactly_one_of_callback_data_and_url() -> None:
    with pytest.raises(ValueError):
        Button("Ja")
    with pytest.raises(ValueError):
        Button("Ja", callback_data="a", url="https://venskab.example.org")


# -- texts Telegram refuses: too long, or entities it cannot parse ------------------------------

ENTITIES = "Bad Request: can't parse entities: can't find end of the entity starting at byte 12"


async def test_a_text_over_4096_characters_is_cut_with_an_ellipsis_and_delivered(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    body = "Vi har hørt fra familien. " * 300  # 7,800 characters

    await channel.send(OutgoingMessage(to=str(PARENT_CHAT), body=body))

    ((_, params),) = fake.sent("sendMessage")
    assert len(params["text"]) <= 4096
    assert params["text"].endswith("…")
    assert body.startswith(params["text"][:-1])


async def test_a_text_full_of_emoji_is_cut_by_telegrams_count_and_delivered(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    # 4,800 characters, but 5,100 for Telegram, which counts UTF-16 units (😊 is two).
    body = "Tak for i dag 😊" * 300

    await channel.send(OutgoingMessage(to=str(PARENT_CHAT), body=body))

    ((_, params),) = fake.sent("sendMessage")
    assert len(params["text"].encode("utf-16-le")) // 2 <= 4096
    assert params["text"].endswith("…") and "\ufffd" not in params["text"]
    assert body.startswith(params["text"][:-1])


@pytest.mark.parametrize("description", [ENTITIES, "Bad Request: message is too long"])
async def test_a_refused_text_is_sent_once_more_as_plain_shortened_text(
    channel: TelegramChannel, fake: FakeTelegram, description: str
) -> None:
    fake.fail_next("sendMessage", error_code=400, description=description)
    body = "Husk *besøget* på torsdag. " * 160  # 4,320 characters

    result = await channel.send(OutgoingMessage(to=str(PARENT_CHAT), body=body))

    attempts = [c for c in fake.calls if c.method == "sendMessage"]
    assert [c.status for c in attempts] == [400, 200]
    resent = attempts[1].params
    assert "parse_mode" not in resent and resent["text"].endswith("…")
    assert len(resent["text"]) < len(attempts[0].params["text"]) <= 4096
    assert result.provider_id == str(attempts[1].result["message_id"])


async def test_a_text_refused_twice_is_given_up_for_this_body_not_the_chat(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.fail_next("sendMessage", error_code=400, description=ENTITIES, times=2)

    with pytest.raises(ChannelError) as caught:
        await channel.send(OutgoingMessage(to=str(PARENT_CHAT), body="Hej *igen"))

    assert caught.value.code == "body_refused"
    assert not caught.value.permanent  # the chat is fine: it is not marked as failed
    assert len([c for c in fake.calls if c.method == "sendMessage"]) == 2
    assert "igen" not in str(caught.value)  # the error names no text
