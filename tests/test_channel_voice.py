"""The voice channel through the real Twilio SDK to the fake Twilio server."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator, Iterator

import pytest
from twilio.request_validator import RequestValidator

from scheduler.channels import ChannelError, OutgoingMessage
from scheduler.channels.voice import VoiceChannel, build_twiml
from tests.fakes.twilio import CallbackReceiver, FakeTwilio

CALLER = "+4520000000"
PARENT = "+4520000001"
GATHER_URL = "https://venskab.example.org/twilio/gather?outbox=17"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake
        fake.assert_no_violations()


@pytest.fixture
async def voice(twilio: FakeTwilio) -> AsyncIterator[VoiceChannel]:
    channel = VoiceChannel(twilio.account_sid, twilio.auth_token, CALLER, api_url=twilio.url)
    yield channel
    await channel.close()


async def test_it_places_a_call_that_reads_the_message_and_gathers_one_digit(
    voice: VoiceChannel, twilio: FakeTwilio
) -> None:
    message = OutgoingMessage(
        to=PARENT, body="Tryk 1 hvis I har mødtes, ellers 2.", gather_action=GATHER_URL
    )

    result = await voice.send(message)

    call = twilio.calls[0]
    assert result.provider_id == call.sid and call.sid.startswith("CA")
    assert (call.params["To"], call.params["From"]) == (PARENT, CALLER)
    response = ElementTree.fromstring(call.params["Twiml"])
    gather = response.find("Gather")
    assert gather is not None
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["action"] == GATHER_URL
    said = gather.find("Say")
    assert said is not None and said.text == message.body
    assert said.attrib["language"] == "da-DK"
    closing = response.findall("Say")
    assert len(closing) == 1 and closing[0].attrib["language"] == "da-DK"


async def test_it_reads_english_messages_in_english(
    voice: VoiceChannel, twilio: FakeTwilio
) -> None:
    await voice.send(
        OutgoingMessage(to=PARENT, body="Press 1", locale="en", gather_action=GATHER_URL)
    )

    response = ElementTree.fromstring(twilio.calls[0].params["Twiml"])
    assert {say.attrib["language"] for say in response.iter("Say")} == {"en-GB"}


def test_it_escapes_text_that_looks_like_markup() -> None:
    twiml = build_twiml("Tak for <i dag> & på gensyn", "da", GATHER_URL)

    said = ElementTree.fromstring(twiml).find("Gather/Say")
    assert said is not None and said.text == "Tak for <i dag> & på gensyn"


def test_it_reads_without_gathering_when_there_is_no_action() -> None:
    response = ElementTree.fromstring(build_twiml("Hej", "da"))

    assert response.find("Gather") is None
    assert [say.text for say in response.findall("Say")] == ["Hej", "Tak. Farvel."]


async def test_it_gets_a_signed_call_status_callback(
    voice: VoiceChannel, twilio: FakeTwilio
) -> None:
    twilio.deliver_as(PARENT, "no-answer")
    with CallbackReceiver() as receiver:
        url = f"{receiver.url}/twilio/call-status"
        result = await voice.send(OutgoingMessage(to=PARENT, body="Hej", status_callback=url))
        (callback,) = await asyncio.to_thread(receiver.wait_for, 1)

    assert callback.params["CallSid"] == result.provider_id
    assert callback.params["CallStatus"] == "no-answer"
    assert RequestValidator(twilio.auth_token).validate(url, callback.params, callback.signature)


@pytest.mark.parametrize("code", [21211, 21614, 13224])
async def test_it_treats_an_unreachable_number_as_permanent(
    voice: VoiceChannel, twilio: FakeTwilio, code: int
) -> None:
    twilio.fail_next(error_code=code, resource="Calls")

    with pytest.raises(ChannelError) as caught:
        await voice.send(OutgoingMessage(to=PARENT, body="Hej"))

    assert caught.value.permanent
    assert caught.value.code == str(code)
    assert PARENT not in str(caught.value)


async def test_it_treats_a_server_error_as_transient(
    voice: VoiceChannel, twilio: FakeTwilio
) -> None:
    twilio.fail_next(status=500)

    with pytest.raises(ChannelError) as caught:
        await voice.send(OutgoingMessage(to=PARENT, body="Hej"))

    assert not caught.value.permanent


async def test_it_treats_a_timeout_as_transient(twilio: FakeTwilio) -> None:
    channel = VoiceChannel(
        twilio.account_sid, twilio.auth_token, CALLER, api_url=twilio.url, timeout=0.2
    )
    twilio.fail_next(delay=1.0)
    try:
        with pytest.raises(ChannelError) as caught:
            await channel.send(OutgoingMessage(to=PARENT, body="Hej"))
    finally:
        await channel.close()

    assert not caught.value.permanent
    assert caught.value.code == "timeout"
