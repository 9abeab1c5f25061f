"""Idempotent webhooks: a provider that delivers the same thing again (a retry after a lost
answer, or a replay of a correctly signed request) finds it recorded once, per provider id."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from followup.escalations import raise_escalation
from scheduler.channels.voice import VoiceChannel
from scheduler.planner import plan_all
from store.models import AuditEntry, Channel, Escalation, OutboxMessage, OutboxStatus, Task
from tests.conftest import free_port
from tests.fakes.twilio import FakeTwilio
from tests.support import survey_app
from tests.support.cast import PROGRAMMES, make_match
from tests.support.survey_app import LiveApp
from tests.support.webserver import serving
from tests.test_delivery import (
    SID,
    START,
    TOKEN,
    WELCOME_TIME,
    dispatcher,
    rows,
    run,
    sms_match,
    wait_for,
    web_context,
)
from tests.test_delivery import twilio as twilio  # the fake Twilio fixture
from web.app import create_app

_served = survey_app._served
live = survey_app.live


def test_a_replayed_inbound_sms_with_the_same_message_sid_is_recorded_once(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    sid = "SM" + "5" * 32

    first = live.sms("Barn A er syg i dag", sid=sid)
    again = [live.sms("Barn A er syg i dag", sid=sid) for _ in range(3)]
    other = live.sms("Barn A er rask igen", sid="SM" + "6" * 32)

    assert first.status_code == 200 and all(r.status_code == 200 for r in again)
    assert "<Message>" in first.text and all("<Message>" not in r.text for r in again)
    assert "<Message>" in other.text
    with session_factory() as session:
        escalation = session.scalars(
            select(Escalation).where(Escalation.rule == "message_from_parent")
        ).one()
    texts = [e["text"] for e in escalation.evidence if "text" in e]
    assert texts == ["Barn A er syg i dag", "Barn A er rask igen"]


async def test_a_replayed_failed_status_callback_is_recorded_once(
    engine: Engine, session_factory: sessionmaker[Session], twilio: FakeTwilio, db_url: str
) -> None:
    with session_factory.begin() as session:
        sms_match(session)
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    twilio.deliver_as("+4520123411", "undelivered", error_code=30003)
    port = free_port()
    with serving(
        create_app(web_context(db_url, f"http://127.0.0.1:{port}").services), port
    ) as base:
        await run(dispatcher(session_factory, twilio, public_url=base), WELCOME_TIME)
        wait_for(
            lambda: rows(session_factory, touchpoint_id="welcome")[0].status == OutboxStatus.FAILED
        )
        sid = rows(session_factory, touchpoint_id="welcome")[0].provider_id or ""
        params = {
            "MessageSid": sid,
            "MessageStatus": "undelivered",
            "AccountSid": SID,
            "ErrorCode": "30003",
        }
        url = f"{base}/twilio/status"
        signature = RequestValidator(TOKEN).compute_signature(url, params)
        for _ in range(3):
            replay = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature})
            assert replay.status_code == 204
    with session_factory() as session:
        escalation = session.scalars(
            select(Escalation).where(Escalation.rule == "delivery_failed")
        ).one()
    # (The sparring invitation to the same number fails too; the welcome is the one replayed.)
    welcome = [e for e in escalation.evidence if e.get("touchpoint") == "welcome"]
    assert len([e for e in welcome if e.get("code") == "30003"]) == 1


async def test_a_replayed_voice_answer_is_recorded_once(
    engine: Engine, session_factory: sessionmaker[Session], twilio: FakeTwilio, db_url: str
) -> None:
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
        d.channels = {
            **d.channels,
            "voice": VoiceChannel(SID, TOKEN, "+4520123400", api_url=twilio.url),
        }
        await run(d, WELCOME_TIME)
        call = rows(session_factory, touchpoint_id="welcome")[0]
        url = f"{base}/twilio/gather/{call.id}"
        params = {"CallSid": call.provider_id or "", "Digits": "2", "AccountSid": SID}
        signature = RequestValidator(TOKEN).compute_signature(url, params)
        answers = [
            httpx.post(url, data=params, headers={"X-Twilio-Signature": signature})
            for _ in range(3)
        ]
    assert all(a.status_code == 200 and "Tak for dit svar" in a.text for a in answers)
    with session_factory() as session:
        recorded = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "voice.answer")
        )
        tasks = session.scalar(
            select(func.count()).select_from(Task).where(Task.title.contains("ringet op"))
        )
    assert (recorded, tasks) == (1, 1)
