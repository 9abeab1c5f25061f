"""Delivery over real sockets: the Twilio SDK against the fake Twilio server, signed receipts
into our web app, a provider outage, a permanent failure with fallback."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from followup.escalations import raise_escalation
from followup.hooks import engine_hooks
from scheduler.channels.base import Channel as SendingChannel
from scheduler.channels.sandbox import SandboxChannel
from scheduler.channels.sms import SmsChannel
from scheduler.dispatcher import Dispatcher
from scheduler.planner import plan_all
from store.models import (
    Channel,
    ContactPerson,
    Escalation,
    OutboxMessage,
    OutboxStatus,
    VolunteerFamily,
)
from tests.conftest import free_port
from tests.fakes.twilio import FakeTwilio
from tests.support.cast import PROGRAMMES, make_match
from tests.support.webserver import serving
from venskab.cli.common import AppContext
from web.app import create_app

SID = "AC" + "1" * 32
TOKEN = "twilio-test-token"
SENDER = "+4520123400"
START = datetime(2026, 3, 1, 12, tzinfo=UTC)
WELCOME_TIME = datetime(2026, 3, 2, 17, 5, tzinfo=UTC)  # 18:05 in Copenhagen


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(TOKEN, account_sid=SID) as fake:
        yield fake
        assert fake.violations == []


def dispatcher(
    factory: sessionmaker[Session],
    twilio: FakeTwilio,
    public_url: str | None = None,
    timeout: float = 30.0,
) -> Dispatcher:
    channels: dict[str, SendingChannel] = {
        "sms": SmsChannel(
            SID, TOKEN, SENDER, api_url=twilio.url, segments_per_second=1000, timeout=timeout
        ),
        "email": SandboxChannel("email"),
        "telegram": SandboxChannel("telegram"),
        "voice": SandboxChannel("voice"),
    }
    return Dispatcher(
        factory,
        PROGRAMMES,
        channels,
        sandbox=frozenset({"email", "telegram", "voice"}),
        public_url=public_url,
        secret="test-secret",
        hooks=engine_hooks(PROGRAMMES, public_url),
    )


async def run(d: Dispatcher, now: datetime) -> object:
    try:
        return await d.run_once(now)
    finally:
        for channel in d.channels.values():
            await channel.close()


def sms_match(session: Session, **kwargs: object) -> int:
    """A family reached by SMS only: no Telegram, no email."""
    return make_match(session, telegram_chat_id=None, family_email=None, **kwargs).id  # type: ignore[arg-type]


def rows(factory: sessionmaker[Session], **where: object) -> list[OutboxMessage]:
    with factory() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(session.scalars(query))


def wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def web_context(db_url: str, base: str) -> AppContext:
    return AppContext(
        env={
            "VENSKAB_DATABASE_URL": db_url,
            "VENSKAB_PUBLIC_URL": base,
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_FROM": SENDER,
        }
    )


async def test_an_sms_goes_out_through_twilio_and_the_signed_receipt_marks_it_delivered(
    engine: Engine, session_factory: sessionmaker[Session], twilio: FakeTwilio, db_url: str
) -> None:
    with session_factory.begin() as session:
        sms_match(session)
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    port = free_port()
    with serving(
        create_app(web_context(db_url, f"http://127.0.0.1:{port}").services), port
    ) as base:
        await run(dispatcher(session_factory, twilio, public_url=base), WELCOME_TIME)
        welcome = rows(session_factory, touchpoint_id="welcome")[0]
        assert welcome.status == OutboxStatus.SENT and welcome.channel == Channel.SMS
        (sent,) = [m for m in twilio.messages if m.sid == welcome.provider_id]
        assert sent.params["To"] == "+4520123411"
        assert welcome.segments and welcome.segments <= 2
        wait_for(
            lambda: (
                rows(session_factory, touchpoint_id="welcome")[0].status == OutboxStatus.DELIVERED
            )
        )
    assert rows(session_factory, touchpoint_id="welcome")[0].delivered_at is not None


async def test_an_undelivered_receipt_for_an_unsubscribed_number_stops_using_it_and_tells_staff(
    engine: Engine, session_factory: sessionmaker[Session], twilio: FakeTwilio, db_url: str
) -> None:
    with session_factory.begin() as session:
        sms_match(session)
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    twilio.deliver_as("+4520123411", "undelivered", error_code=21610)
    port = free_port()
    with serving(
        create_app(web_context(db_url, f"http://127.0.0.1:{port}").services), port
    ) as base:
        await run(dispatcher(session_factory, twilio, public_url=base), WELCOME_TIME)
        wait_for(
            lambda: rows(session_factory, touchpoint_id="welcome")[0].status == OutboxStatus.FAILED
        )
    with session_factory() as session:
        family = session.scalars(select(VolunteerFamily)).one()
        escalation = session.scalars(
            select(Escalation).where(Escalation.rule == "delivery_failed")
        ).first()
    assert family.phone_failed
    assert escalation is not None and any(e.get("code") == "21610" for e in escalation.evidence)


@pytest.mark.parametrize("signature", ["", "forged-signature"], ids=["unsigned", "tampered"])
async def test_an_unsigned_or_tampered_receipt_is_refused_and_changes_nothing(
    engine: Engine,
    session_factory: sessionmaker[Session],
    twilio: FakeTwilio,
    db_url: str,
    signature: str,
) -> None:
    with session_factory.begin() as session:
        sms_match(session)
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    port = free_port()
    with serving(
        create_app(web_context(db_url, f"http://127.0.0.1:{port}").services), port
    ) as base:
        await run(dispatcher(session_factory, twilio), WELCOME_TIME)  # no callback URL given
        sid = rows(session_factory, touchpoint_id="welcome")[0].provider_id
        params = {
            "MessageSid": sid or "",
            "MessageStatus": "undelivered",
            "AccountSid": SID,
            "ErrorCode": "21610",
        }
        headers = {"X-Twilio-Signature": signature} if signature else {}
        response = httpx.post(f"{base}/twilio/status", data=params, headers=headers)
        assert response.status_code == 403
        # The same callback correctly signed, but for other values, is also refused.
        good = RequestValidator(TOKEN).compute_signature(
            f"{base}/twilio/status", {**params, "ErrorCode": "0"}
        )
        assert (
            httpx.post(
                f"{base}/twilio/status", data=params, headers={"X-Twilio-Signature": good}
            ).status_code
            == 403
        )
    welcome = rows(session_factory, touchpoint_id="welcome")[0]
    assert welcome.status == OutboxStatus.SENT
    with session_factory() as session:
        assert not session.scalars(select(VolunteerFamily)).one().phone_failed
        assert session.scalars(select(Escalation)).first() is None or all(
            e.rule != "delivery_failed" or "21610" not in str(e.evidence)
            for e in session.scalars(select(Escalation))
        )


async def test_an_invalid_number_fails_at_once_falls_back_to_email_and_tells_staff(
    engine: Engine, session_factory: sessionmaker[Session], twilio: FakeTwilio
) -> None:
    with session_factory.begin() as session:
        make_match(session, telegram_chat_id=None, family_email="familie@example.org")
        # The parent prefers SMS; the number turns out to be invalid (Twilio 21211).
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    twilio.fail_next(error_code=21211)
    survey_time = datetime(2026, 3, 3, 9, 5, tzinfo=UTC)
    await run(dispatcher(session_factory, twilio), survey_time)
    original = rows(
        session_factory, touchpoint_id="baseline-survey", occurrence_key="1", channel=Channel.SMS
    )[0]
    assert original.status == OutboxStatus.FAILED and original.attempts == 1
    with session_factory() as session:
        parent = session.scalars(select(ContactPerson)).one()
        escalation = session.scalars(
            select(Escalation).where(Escalation.rule == "delivery_failed")
        ).one()
    assert parent.phone_failed
    assert escalation.evidence[0]["code"] == "21211" and escalation.evidence[0]["permanent"] is True
    await run(dispatcher(session_factory, twilio), survey_time + timedelta(minutes=1))
    fallback = rows(
        session_factory, touchpoint_id="baseline-survey", occurrence_key="1", channel=Channel.EMAIL
    )
    assert [f.status for f in fallback] == [OutboxStatus.SENT]
    assert len(twilio.messages) == 0  # the refused request created no message
    # The error text kept for staff names the code, never the number.
    assert "+4520123421" not in (original.last_error or "")


async def test_a_provider_outage_loses_nothing_and_doubles_nothing(
    engine: Engine, session_factory: sessionmaker[Session], twilio: FakeTwilio
) -> None:
    with session_factory.begin() as session:
        for number in range(4):
            match_id = sms_match(session)
            from store.models import Match

            match = session.get(Match, match_id)
            assert match is not None
            match.volunteer_family.phone = f"+45201235{number:02d}"
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    # First HTTP 500s, then two requests that time out on our side but were sent by Twilio.
    twilio.set_outage(6)
    twilio.fail_next(delay=1.5, times=2)
    now = WELCOME_TIME
    for _ in range(40):
        await run(dispatcher(session_factory, twilio, timeout=0.5), now)
        if all(
            r.status == OutboxStatus.SENT for r in rows(session_factory, touchpoint_id="welcome")
        ):
            break
        now += timedelta(minutes=3)  # simulated time: backoff grows from 30 s
    welcome = rows(session_factory, touchpoint_id="welcome")
    assert len(welcome) == 4 and {r.status for r in welcome} == {OutboxStatus.SENT}
    assert max(r.attempts for r in welcome) > 1  # some were retried
    # (The families are also invited to the next day's sparring session, by SMS.)
    welcomes = [
        m for m in twilio.messages if m.params["Body"].startswith("Hej Kontaktvoksen. Velkommen")
    ]
    delivered = Counter((m.params["To"], m.params["Body"]) for m in twilio.messages)
    assert set(delivered.values()) == {1}  # each message exactly once
    assert len(welcomes) == 4
    assert {r.provider_id for r in welcome} == {m.sid for m in welcomes}


async def test_a_voice_answer_is_recorded_only_from_a_signed_request_for_that_call(
    engine: Engine, session_factory: sessionmaker[Session], twilio: FakeTwilio, db_url: str
) -> None:
    from scheduler.channels.voice import VoiceChannel

    with session_factory.begin() as session:
        sms_match(session)
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    with session_factory.begin() as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.touchpoint_id == "welcome")
        ).one()
        row.channel = Channel.VOICE
        row.template = "voice_checkin"
    port = free_port()
    with serving(
        create_app(web_context(db_url, f"http://127.0.0.1:{port}").services), port
    ) as base:
        d = dispatcher(session_factory, twilio, public_url=base)
        d.channels = {**d.channels, "voice": VoiceChannel(SID, TOKEN, SENDER, api_url=twilio.url)}
        await run(d, WELCOME_TIME)
        call = rows(session_factory, touchpoint_id="welcome")[0]
        assert call.status == OutboxStatus.SENT and twilio.calls[0].sid == call.provider_id
        twiml = twilio.calls[0].params["Twiml"]
        assert 'language="da-DK"' in twiml and f"/twilio/gather/{call.id}" in twiml
        url = f"{base}/twilio/gather/{call.id}"
        params = {"CallSid": call.provider_id or "", "Digits": "2", "AccountSid": SID}
        signature = RequestValidator(TOKEN).compute_signature(url, params)
        assert httpx.post(url, data=params).status_code == 403
        foreign = {**params, "CallSid": "CA" + "9" * 32}
        other = RequestValidator(TOKEN).compute_signature(url, foreign)
        assert (
            httpx.post(url, data=foreign, headers={"X-Twilio-Signature": other}).status_code == 404
        )
        answer = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature})
        assert answer.status_code == 200 and "Tak for dit svar" in answer.text
    assert rows(session_factory, touchpoint_id="welcome")[0].context["answer"] == "2"
    with session_factory() as session:
        from store.models import Task

        callback = session.scalars(
            select(Task).where(Task.idempotency_key == f"voice:{call.id}")
        ).one()
    assert "bad om at blive ringet op" in callback.title and callback.owner_id is not None
