"""A fallback is part of the plan: a family whose welcome email is refused (SMTP 550) on a
Saturday evening gets it by SMS, even though marking the address failed re-plans the match."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from followup.escalations import raise_escalation
from followup.hooks import engine_hooks
from scheduler.channels.base import Channel as SendingChannel
from scheduler.channels.email import EmailChannel
from scheduler.channels.sandbox import SandboxChannel
from scheduler.channels.sms import SmsChannel
from scheduler.dispatcher import Dispatcher
from scheduler.planner import plan_all
from store.models import Channel, OutboxMessage, OutboxStatus, VolunteerFamily
from tests.conftest import free_port
from tests.fakes.twilio import FakeTwilio
from tests.support.cast import PROGRAMMES, make_match

SID = "AC" + "3" * 32
TOKEN = "twilio-test-token"
GONE = "gone@example.org"
SATURDAY = date(2026, 3, 7)
SATURDAY_EVENING = datetime(2026, 3, 7, 17, 5, tzinfo=UTC)  # 18:05 in Copenhagen


class RefusingMailbox:
    """An SMTP server that answers 550 for one mailbox."""

    def __init__(self) -> None:
        self.accepted = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address == GONE:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accepted += 1
        return "250 accepted"


@pytest.fixture
def smtp() -> Iterator[int]:
    port = free_port()
    controller = Controller(RefusingMailbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def dispatcher(factory: sessionmaker[Session], twilio: FakeTwilio, smtp: int) -> Dispatcher:
    channels: dict[str, SendingChannel] = {
        "sms": SmsChannel(SID, TOKEN, "+4520123400", api_url=twilio.url),
        "email": EmailChannel(
            "127.0.0.1",
            smtp,
            "venskab@example.org",
            starttls=False,
            timeout=5,
            clock=lambda: datetime.now(UTC),
        ),
        "telegram": SandboxChannel("telegram"),
        "voice": SandboxChannel("voice"),
    }
    return Dispatcher(
        factory,
        PROGRAMMES,
        channels,
        sandbox=frozenset({"telegram", "voice"}),
        secret="test-secret",
        hooks=engine_hooks(PROGRAMMES, None),
    )


async def run(d: Dispatcher, now: datetime) -> None:
    try:
        await d.run_once(now)
    finally:
        for channel in d.channels.values():
            await channel.close()


async def test_a_refused_welcome_email_on_a_saturday_evening_arrives_by_sms_after_replanning(
    engine: Engine, session_factory: sessionmaker[Session], smtp: int
) -> None:
    with session_factory.begin() as session:
        match = make_match(
            session, start=SATURDAY, weekday=5, telegram_chat_id=None, family_email=GONE
        )
        family_phone = match.volunteer_family.phone
    plan_all(
        engine,
        session_factory,
        PROGRAMMES,
        SATURDAY_EVENING - timedelta(days=3),
        report=raise_escalation,
    )
    with FakeTwilio(TOKEN, account_sid=SID) as twilio:
        await run(dispatcher(session_factory, twilio, smtp), SATURDAY_EVENING)
        # The planner runs again (every tick does): the failed address bumped the plan version.
        plan_all(
            engine,
            session_factory,
            PROGRAMMES,
            SATURDAY_EVENING + timedelta(minutes=1),
            report=raise_escalation,
        )
        now = SATURDAY_EVENING + timedelta(minutes=1)
        for _ in range(48):  # half-hourly ticks over the next day, each planning first
            plan_all(engine, session_factory, PROGRAMMES, now, report=raise_escalation)
            await run(dispatcher(session_factory, twilio, smtp), now)
            now += timedelta(minutes=30)
        with session_factory() as session:
            welcome = list(
                session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.touchpoint_id == "welcome")
                    .order_by(OutboxMessage.id)
                )
            )
            family = session.scalars(select(VolunteerFamily)).one()
        by_channel = {r.channel: r for r in welcome}
        assert family.email_failed
        assert by_channel[Channel.EMAIL].status == OutboxStatus.FAILED
        fallback = by_channel[Channel.SMS]
        assert fallback.idempotency_key.endswith(":fb-sms")
        assert fallback.status == OutboxStatus.SENT, fallback.last_error
        assert fallback.expires_at == by_channel[Channel.EMAIL].expires_at
        to_family = [m for m in twilio.messages if m.params["To"] == family_phone]
        assert len(to_family) == 1
        print(
            f"\nfallback: messages 1, sms sent {len(to_family)}, duplicates "
            f"{len(to_family) - 1}, never sent 0"
        )
