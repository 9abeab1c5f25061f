"""Delivery under faults, in one process over real sockets: a provider outage of an hour, a
reconciliation that fails, a slow SMS lane shared by two replicas with a short lease, an exact
claim limit, one broken message among good ones. Each test prints its figures, and the log
(captured at DEBUG, third-party loggers included) holds no phone number, email or name."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from followup.escalations import raise_escalation
from followup.hooks import engine_hooks
from scheduler import outbox
from scheduler.channels.base import Channel as SendingChannel
from scheduler.channels.sandbox import SandboxChannel
from scheduler.channels.sms import SmsChannel
from scheduler.dispatcher import Dispatcher, DispatchStats
from scheduler.planner import plan_all
from store.models import Escalation, Match, OutboxMessage, OutboxStatus
from tests.fakes.twilio import FakeTwilio
from tests.support.cast import PROGRAMMES, make_match

SID = "AC" + "4" * 32
TOKEN = "twilio-test-token"
SENDER = "+4520123400"
START = datetime(2026, 3, 1, 12, tzinfo=UTC)
WELCOME_TIME = datetime(2026, 3, 2, 17, 5, tzinfo=UTC)  # 18:05 in Copenhagen
LATER = datetime(2026, 3, 9, 9, tzinfo=UTC)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(TOKEN, account_sid=SID) as fake:
        yield fake
        assert fake.violations == []


@pytest.fixture(autouse=True)
def debug_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Everything logged at DEBUG, third-party loggers too: it must hold no personal data.
    (SQLAlchemy's statement echo, off unless asked for, is left out: it logs parameters.)"""
    caplog.set_level(logging.DEBUG)
    names = ("twilio", "twilio.async_http_client", "aiohttp", "aiosmtplib", "scheduler")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def assert_no_personal_data(caplog: pytest.LogCaptureFixture, session: Session) -> None:
    text = caplog.text
    people: list[str] = []
    for match in session.scalars(select(Match)):
        family = match.volunteer_family
        people += [family.phone or "", family.email or "", family.contact_name, family.name]
        people += [match.child.first_name]
        for contact in match.contacts:
            people += [contact.phone or "", contact.email or "", contact.name]
    found = [p for p in people if p and (p in text or p.replace("+", "%2B") in text)]
    assert found == [], f"personal data in the log: {found}"


def channels_for(twilio: FakeTwilio, timeout: float = 30.0) -> dict[str, SendingChannel]:
    return {
        "sms": SmsChannel(
            SID, TOKEN, SENDER, api_url=twilio.url, segments_per_second=None, timeout=timeout
        ),
        "email": SandboxChannel("email"),
        "telegram": SandboxChannel("telegram"),
        "voice": SandboxChannel("voice"),
    }


def dispatcher(
    factory: sessionmaker[Session],
    channels: dict[str, SendingChannel],
    worker: str = "w1",
    **options: object,
) -> Dispatcher:
    return Dispatcher(
        factory,
        PROGRAMMES,
        channels,
        sandbox=frozenset({"email", "telegram", "voice"}),
        secret="test-secret",
        worker_id=worker,
        hooks=engine_hooks(PROGRAMMES, None),
        **options,  # type: ignore[arg-type]
    )


async def close(channels: dict[str, SendingChannel]) -> None:
    for channel in channels.values():
        await channel.close()


def sms_families(factory: sessionmaker[Session], engine: Engine, count: int) -> None:
    with factory.begin() as session:
        for number in range(count):
            match = make_match(session, telegram_chat_id=None, family_email=None)
            match.volunteer_family.phone = f"+45201240{number:02d}"
    plan_all(engine, factory, PROGRAMMES, START, report=raise_escalation)
    with factory.begin() as session:  # these tests are about the welcome SMS alone: the
        session.execute(  # first day's other messages (a sparring invitation) come later
            update(OutboxMessage)
            .where(OutboxMessage.touchpoint_id != "welcome", OutboxMessage.due_at < LATER)
            .values(due_at=LATER)
        )


def welcome(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        query = select(OutboxMessage).where(OutboxMessage.touchpoint_id == "welcome")
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def alerts(factory: sessionmaker[Session], rule: str) -> int:
    with factory() as session:
        query = select(func.count()).select_from(Escalation).where(Escalation.rule == rule)
        return int(session.scalar(query) or 0)


def figures(
    name: str, messages: int, twilio: FakeTwilio, rows: list[OutboxMessage], false_alerts: int
) -> dict[str, int]:
    # A family gets other SMS too (the sparring invitation): a duplicate is the same text twice.
    sends = Counter((m.params["To"], m.params.get("Body")) for m in twilio.messages)
    bodies = {r.body for r in rows if r.body}
    reached = {to for to, body in sends if body in bodies}
    result = {
        "messages": messages,
        "duplicates": sum(n - 1 for n in sends.values()),
        "never sent": messages - len(reached),
        "unknown": sum(r.status == OutboxStatus.UNKNOWN for r in rows),
        "false alerts": false_alerts,
    }
    print(f"\n{name}: " + ", ".join(f"{k} {v}" for k, v in result.items()))
    return result


async def test_an_hour_of_provider_errors_delays_messages_and_sends_each_once_after_recovery(
    engine: Engine,
    session_factory: sessionmaker[Session],
    twilio: FakeTwilio,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    sms_families(session_factory, engine, 6)
    before = alerts(session_factory, "delivery_failed")
    twilio.set_outage()  # HTTP 500 to everything until it ends
    now = WELCOME_TIME
    while now < WELCOME_TIME + timedelta(hours=1):
        channels = channels_for(twilio)
        await dispatcher(session_factory, channels).run_once(now)
        await close(channels)
        now += timedelta(minutes=5)
    assert {r.status for r in welcome(session_factory)} == {OutboxStatus.PLANNED}
    twilio.end_outage()
    for _ in range(12):  # ticks every 5 minutes for another hour: backoff is capped at 30 min
        channels = channels_for(twilio)
        await dispatcher(session_factory, channels).run_once(now)
        await close(channels)
        now += timedelta(minutes=5)
    rows = welcome(session_factory)
    failed_alerts = alerts(session_factory, "delivery_failed") - before
    result = figures("an hour of 500s", 6, twilio, rows, failed_alerts)
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert result == {
        "messages": 6,
        "duplicates": 0,
        "never sent": 0,
        "unknown": 0,
        "false alerts": 0,
    }
    with session_factory() as session:
        assert_no_personal_data(debug_log, session)


async def test_a_failed_reconciliation_leaves_the_message_in_doubt_and_the_tick_goes_on(
    engine: Engine,
    session_factory: sessionmaker[Session],
    twilio: FakeTwilio,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    sms_families(session_factory, engine, 3)
    # The first send times out on our side (Twilio sends it), and the lookup that follows gets
    # an error page: the SDK raises TwilioException("Unable to fetch page").
    twilio.fail_next(delay=1.5)
    twilio.fail_next(status=500)
    channels = channels_for(twilio, timeout=0.5)
    stats = await dispatcher(session_factory, channels, concurrency=1).run_once(WELCOME_TIME)
    await close(channels)
    rows = welcome(session_factory)
    statuses = Counter(r.status for r in rows)
    assert statuses == {OutboxStatus.SENT: 2, OutboxStatus.UNKNOWN: 1}, stats
    assert alerts(session_factory, "delivery_unknown") == 1
    figures("a failed reconciliation", 3, twilio, rows, 0)
    with session_factory() as session:
        assert_no_personal_data(debug_log, session)


async def test_a_slow_sms_lane_on_two_replicas_with_a_short_lease_declares_nothing_unknown(
    engine: Engine, session_factory: sessionmaker[Session], twilio: FakeTwilio
) -> None:
    sms_families(session_factory, engine, 10)
    lease = timedelta(seconds=1)
    channels_a, channels_b = channels_for(twilio), channels_for(twilio)
    a = dispatcher(session_factory, channels_a, "replica-a", lease=lease, rates={"sms": 4.0})
    b = dispatcher(session_factory, channels_b, "replica-b", lease=lease, rates={"sms": 4.0})
    began = asyncio.get_running_loop().time()

    def now() -> datetime:
        return WELCOME_TIME + timedelta(seconds=asyncio.get_running_loop().time() - began)

    async def replica_b() -> DispatchStats:
        total = DispatchStats()
        while asyncio.get_running_loop().time() - began < 3.5:  # ticks twice a second
            total.add(await b.run_once(now()))
            await asyncio.sleep(0.5)
        return total

    stats_a, stats_b = await asyncio.gather(a.run_once(now()), replica_b())
    await close(channels_a)
    await close(channels_b)
    rows = welcome(session_factory)
    result = figures(
        "slow sms, two replicas", 10, twilio, rows, alerts(session_factory, "delivery_unknown")
    )
    assert result["duplicates"] == result["never sent"] == result["unknown"] == 0
    assert result["false alerts"] == 0
    assert stats_a.sent + stats_b.sent == 10


async def test_a_claim_takes_exactly_its_limit_and_only_its_channel(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "idempotency_key": f"load:{i}",
                    "match_id": match.id,
                    "touchpoint_id": "welcome",
                    "occurrence_key": str(i),
                    "kind": "message",
                    "template": "welcome",
                    "audience": "volunteer_family",
                    "recipient_id": match.volunteer_family_id,
                    "channel": "sms" if i % 3 else "email",
                    "locale": "da",
                    "essential": True,
                    "due_at": START - timedelta(minutes=1),
                    "status": "planned",
                    "plan_version": 1,
                    "created_at": START,
                    "updated_at": START,
                }
                for i in range(3000)
            ],
        )
    claims = []
    for worker in ("a", "b", "c"):
        with session_factory.begin() as session:
            claims.append(outbox.claim_due(session, START, worker, 16, "sms"))
    assert [len(c) for c in claims] == [16, 16, 16]
    assert len({i for c in claims for i in c}) == 48
    with session_factory() as session:
        channels = set(
            session.scalars(
                select(OutboxMessage.channel).where(OutboxMessage.status == OutboxStatus.SENDING)
            )
        )
    assert {c.value for c in channels} == {"sms"}


async def test_one_broken_message_fails_alone_and_the_others_are_sent(
    engine: Engine, session_factory: sessionmaker[Session], twilio: FakeTwilio
) -> None:
    sms_families(session_factory, engine, 3)
    with session_factory.begin() as session:
        broken = session.scalars(
            select(OutboxMessage).where(OutboxMessage.touchpoint_id == "welcome")
        ).first()
        assert broken is not None
        broken.context = {**(broken.context or {}), "session_id": "not-a-number"}
        broken_id = broken.id
    channels = channels_for(twilio)
    stats = await dispatcher(session_factory, channels).run_once(WELCOME_TIME)
    await close(channels)
    by_id = {r.id: r for r in welcome(session_factory)}
    assert by_id[broken_id].status == OutboxStatus.FAILED
    assert "ValueError" in (by_id[broken_id].last_error or "")
    assert stats.sent == 2 and len(twilio.messages) == 2


async def test_a_slow_sms_lane_never_holds_up_email(
    engine: Engine, session_factory: sessionmaker[Session], twilio: FakeTwilio
) -> None:
    with session_factory.begin() as session:
        for number in range(6):
            sms = make_match(session, "familien-i-fokus", telegram_chat_id=None, family_email=None)
            sms.volunteer_family.phone = f"+45201241{number:02d}"
            make_match(session, telegram_chat_id=None, family_email=f"familie{number}@example.org")
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    channels = channels_for(twilio)
    sms_lane = dispatcher(session_factory, channels, rates={"sms": 2.0})  # 6 SMS take 3 s
    running = asyncio.create_task(sms_lane.run_once(WELCOME_TIME))

    def by_channel() -> Counter[tuple[str, OutboxStatus]]:
        return Counter((r.channel.value, r.status) for r in welcome(session_factory))

    while by_channel()[("email", OutboxStatus.SENT)] < 6:
        assert not running.done(), by_channel()
        await asyncio.sleep(0.05)
    sms_sent_when_email_done = len(twilio.messages)
    await running
    await close(channels)
    print(f"\nlanes: email done after {sms_sent_when_email_done} of 6 SMS")
    assert sms_sent_when_email_done < 6
    assert by_channel()[("sms", OutboxStatus.SENT)] == 6
