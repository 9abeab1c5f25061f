"""The SMS channel through the real Twilio SDK to the fake Twilio server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from itertools import pairwise

import pytest
from twilio.request_validator import RequestValidator

from scheduler.channels import ChannelError, OutgoingMessage
from scheduler.channels.pacing import SegmentPacer
from scheduler.channels.sandbox import SandboxChannel
from scheduler.channels.sms import SmsChannel
from tests.conftest import free_port
from tests.fakes.twilio import CallbackReceiver, FakeTwilio

SENDER = "+4520000000"
PARENT = "+4520000001"
SERVICE = "MG" + "ab" * 16


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake
        fake.assert_no_violations()


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as server:
        yield server


@pytest.fixture
async def sms(twilio: FakeTwilio) -> AsyncIterator[SmsChannel]:
    channel = SmsChannel(
        twilio.account_sid, twilio.auth_token, SENDER, api_url=twilio.url, segments_per_second=100
    )
    yield channel
    await channel.close()


async def test_it_sends_an_sms_and_returns_the_sid_and_segments(
    sms: SmsChannel, twilio: FakeTwilio
) -> None:
    short = await sms.send(OutgoingMessage(to=PARENT, body="Husk besøget på lørdag. Hilsen os"))
    long = await sms.send(OutgoingMessage(to=PARENT, body="Kære familie, " + "å" * 160))
    # One curly apostrophe makes the whole text UCS-2: 70 characters per segment, not 160.
    curly = await sms.send(OutgoingMessage(to=PARENT, body="Det er lørdag’s besøg " + "x" * 60))

    assert short.provider_id == twilio.messages[0].sid
    assert short.provider_id is not None and short.provider_id.startswith("SM")
    assert (short.segments, long.segments, curly.segments) == (1, 2, 2)
    created = twilio.messages[0].params
    assert created == {"To": PARENT, "From": SENDER, "Body": "Husk besøget på lørdag. Hilsen os"}


async def test_it_sends_through_a_messaging_service_when_given_one(twilio: FakeTwilio) -> None:
    channel = SmsChannel(twilio.account_sid, twilio.auth_token, SERVICE, api_url=twilio.url)
    try:
        result = await channel.send(OutgoingMessage(to=PARENT, body="Hej"))
    finally:
        await channel.close()

    assert twilio.messages[0].params["MessagingServiceSid"] == SERVICE
    assert "From" not in twilio.messages[0].params
    assert result.segments == 1


async def test_it_gets_a_signed_status_callback_the_validator_accepts(
    sms: SmsChannel, twilio: FakeTwilio, receiver: CallbackReceiver
) -> None:
    callback_url = f"{receiver.url}/twilio/status?outbox=17"

    result = await sms.send(OutgoingMessage(to=PARENT, body="Hej", status_callback=callback_url))
    received = await asyncio.to_thread(receiver.wait_for, 2)

    validator = RequestValidator(twilio.auth_token)
    assert [c.params["MessageStatus"] for c in received] == ["sent", "delivered"]
    for callback in received:
        assert callback.url == callback_url
        assert callback.params["MessageSid"] == result.provider_id
        assert validator.validate(callback.url, callback.params, callback.signature)
    forged = {**received[-1].params, "MessageStatus": "failed"}
    assert not validator.validate(callback_url, forged, received[-1].signature)
    assert twilio.messages[0].params["StatusCallback"] == callback_url


async def test_it_reports_an_undelivered_message_with_its_error_code(
    sms: SmsChannel, twilio: FakeTwilio, receiver: CallbackReceiver
) -> None:
    twilio.deliver_as(PARENT, "undelivered", error_code=30005)

    await sms.send(OutgoingMessage(to=PARENT, body="Hej", status_callback=f"{receiver.url}/s"))
    received = await asyncio.to_thread(receiver.wait_for, 2)

    assert received[-1].params["MessageStatus"] == "undelivered"
    assert received[-1].params["ErrorCode"] == "30005"


@pytest.mark.parametrize("code", [21211, 21408, 21610, 21612, 21614])
async def test_it_treats_a_refused_number_as_permanent(
    sms: SmsChannel, twilio: FakeTwilio, code: int
) -> None:
    twilio.fail_next(error_code=code)

    with pytest.raises(ChannelError) as caught:
        await sms.send(OutgoingMessage(to=PARENT, body="Hej med jer"))

    assert caught.value.permanent
    assert caught.value.code == str(code)
    assert PARENT not in str(caught.value) and "Hej" not in str(caught.value)


async def test_it_treats_a_malformed_number_as_permanent_without_leaking_it(
    sms: SmsChannel,
) -> None:
    with pytest.raises(ChannelError) as caught:
        await sms.send(OutgoingMessage(to="+4512", body="Hej"))

    assert caught.value.permanent
    assert caught.value.code == "21211"
    assert "+4512" not in str(caught.value)


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_it_treats_server_errors_and_rate_limits_as_transient(
    sms: SmsChannel, twilio: FakeTwilio, status: int
) -> None:
    twilio.fail_next(status=status)

    with pytest.raises(ChannelError) as caught:
        await sms.send(OutgoingMessage(to=PARENT, body="Hej"))

    assert not caught.value.permanent


async def test_it_succeeds_again_after_an_outage(sms: SmsChannel, twilio: FakeTwilio) -> None:
    twilio.set_outage(1)

    with pytest.raises(ChannelError) as caught:
        await sms.send(OutgoingMessage(to=PARENT, body="Hej"))
    result = await sms.send(OutgoingMessage(to=PARENT, body="Hej"))

    assert not caught.value.permanent
    assert result.provider_id == twilio.messages[0].sid


async def test_it_treats_a_timeout_as_transient(twilio: FakeTwilio) -> None:
    channel = SmsChannel(
        twilio.account_sid, twilio.auth_token, SENDER, api_url=twilio.url, timeout=0.2
    )
    twilio.fail_next(delay=1.0)
    try:
        with pytest.raises(ChannelError) as caught:
            await channel.send(OutgoingMessage(to=PARENT, body="Hej"))
    finally:
        await channel.close()

    assert not caught.value.permanent
    assert caught.value.code == "timeout"


async def test_it_treats_a_refused_connection_as_transient() -> None:
    channel = SmsChannel(
        "AC" + "0" * 32, "token", SENDER, api_url=f"http://127.0.0.1:{free_port()}"
    )
    try:
        with pytest.raises(ChannelError) as caught:
            await channel.send(OutgoingMessage(to=PARENT, body="Hej"))
    finally:
        await channel.close()

    assert not caught.value.permanent
    assert caught.value.code == "connection"


async def test_it_treats_rejected_credentials_as_transient(twilio: FakeTwilio) -> None:
    channel = SmsChannel(twilio.account_sid, "wrong-token", SENDER, api_url=twilio.url)
    try:
        with pytest.raises(ChannelError) as caught:
            await channel.send(OutgoingMessage(to=PARENT, body="Hej"))
    finally:
        await channel.close()

    # A bad token is our configuration, not the parent's number: never disable the address.
    assert not caught.value.permanent
    assert caught.value.code == "20003"


async def test_it_paces_sends_to_the_segment_rate(twilio: FakeTwilio) -> None:
    rate = 10.0
    channel = SmsChannel(
        twilio.account_sid, twilio.auth_token, SENDER, api_url=twilio.url, segments_per_second=rate
    )
    bodies = ["Hej 1", "Hej 2", "Hej 3 " + "å" * 200, "Hej 4"]  # the third is 2 segments
    try:
        await asyncio.gather(*(channel.send(OutgoingMessage(to=PARENT, body=b)) for b in bodies))
    finally:
        await channel.close()

    arrivals = sorted(twilio.messages, key=lambda m: m.received_at)
    gaps = [later.received_at - earlier.received_at for earlier, later in pairwise(arrivals)]
    segments = [int(m.resource["num_segments"]) for m in arrivals]
    slack = 0.02
    for gap, previous_segments in zip(gaps, segments, strict=False):
        assert gap >= previous_segments / rate - slack


async def test_it_spaces_messages_by_their_segments_without_a_burst() -> None:
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    pacer = SegmentPacer(2.0, clock=lambda: now[0], sleep=sleep)
    for segments in (1, 3, 1, 1):
        await pacer.wait(segments)

    # Slots at 0, 0.5 (after one segment), 2.0 (after three) and 2.5 seconds.
    assert waits == [0.5, 1.5, 0.5]


async def test_the_sandbox_sends_nothing_and_counts_segments() -> None:
    sandbox = SandboxChannel("sms")

    result = await sandbox.send(OutgoingMessage(to=PARENT, body="å" * 161))

    assert result.provider_id is not None and result.provider_id.startswith("sandbox-")
    assert result.segments == 2
    assert (
        await SandboxChannel("email").send(OutgoingMessage(to="a@example.org", body="x"))
    ).segments is None
    with pytest.raises(ValueError):
        SandboxChannel("pigeon")
