"""A volunteer family without Telegram answers by SMS: the visit prompt's number and a sparring
invitation's JA / NEJ, through the signed Twilio webhook, as Twilio posts them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from followup.escalations import raise_escalation
from followup.hooks import engine_hooks
from scheduler.channels.sandbox import SandboxChannel
from scheduler.dispatcher import Dispatcher
from scheduler.planner import plan_all
from store.models import (
    RSVP,
    Channel,
    Escalation,
    OutboxMessage,
    OutboxStatus,
    SparringRSVP,
    Visit,
    VisitStatus,
)
from tests.support import survey_app
from tests.support.cast import PROGRAMMES, make_match
from tests.support.survey_app import LiveApp

_served = survey_app._served
live = survey_app.live

FAMILY_PHONE = "+4520123411"  # the volunteer family in tests.support.cast


def reply(response_text: str) -> str:
    import xml.etree.ElementTree as ElementTree

    return " ".join((m.text or "") for m in ElementTree.fromstring(response_text).iter("Message"))


def send_due(
    engine: Engine, factory: sessionmaker[Session], plan_at: datetime, at: datetime
) -> None:
    plan_all(
        engine, factory, PROGRAMMES, plan_at, horizon=timedelta(days=60), report=raise_escalation
    )
    channels = {name: SandboxChannel(name) for name in ("sms", "email", "telegram", "voice")}
    dispatcher = Dispatcher(
        factory,
        PROGRAMMES,
        channels,
        sandbox=frozenset(channels),
        secret="test-secret",
        hooks=engine_hooks(PROGRAMMES, None),
    )
    asyncio.run(dispatcher.run_once(at))


def cases(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return [e.rule for e in session.scalars(select(Escalation))]


def test_a_family_answers_the_visit_prompt_by_sms_and_is_thanked(
    engine: Engine, session_factory: sessionmaker[Session], live: LiveApp
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session, telegram_chat_id=None, family_email=None).id
    visit_evening = datetime(2026, 3, 9, 18, 5, tzinfo=UTC)  # Monday 19:05 in Copenhagen
    send_due(engine, session_factory, datetime(2026, 3, 1, tzinfo=UTC), visit_evening)
    with session_factory() as session:
        prompt = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "visit_prompt")
            .order_by(OutboxMessage.due_at)
        ).first()
        assert prompt is not None and prompt.channel == Channel.SMS
        assert prompt.status == OutboxStatus.SENT
    live.at(visit_evening + timedelta(minutes=20))

    answer = live.sms("1", sender=FAMILY_PHONE, sid="SM" + "a" * 32)
    again = live.sms(" 1 ", sender=FAMILY_PHONE, sid="SM" + "b" * 32)
    words = live.sms("Det gik rigtig fint i dag", sender=FAMILY_PHONE, sid="SM" + "c" * 32)

    assert reply(answer.text).startswith("Tak! Vi har noteret, at Barn A var på besøg.")
    assert reply(again.text).startswith("Tak. Vi har allerede jeres svar for den dag.")
    with session_factory() as session:
        (visit,) = session.scalars(select(Visit).where(Visit.match_id == match_id))
        assert visit.status == VisitStatus.VISITED and str(visit.planned_date) == "2026-03-09"
    assert cases(session_factory) == ["message_from_family"]  # only the sentence went to staff
    assert words.status_code == 200


def test_a_family_answers_a_sparring_invitation_by_sms(
    engine: Engine, session_factory: sessionmaker[Session], live: LiveApp
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session, telegram_chat_id=None, family_email=None).id
    # Hjem til Os: sessions on the first Tuesday of every other month, invited 14 days before.
    invited = datetime(2026, 4, 21, 16, 5, tzinfo=UTC)  # 18:05 in Copenhagen
    send_due(engine, session_factory, datetime(2026, 3, 1, tzinfo=UTC), invited)
    with session_factory() as session:
        invitation = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.template == "sparring_invite",
                OutboxMessage.due_at.between(invited - timedelta(hours=1), invited),
            )
        ).first()
        assert invitation is not None and invitation.channel == Channel.SMS
        assert invitation.status == OutboxStatus.SENT
    live.at(invited + timedelta(hours=2))

    answer = live.sms("Ja!", sender=FAMILY_PHONE, sid="SM" + "d" * 32)

    assert reply(answer.text).startswith("Tak! Vi har noteret, at I kommer til sparring.")
    with session_factory() as session:
        (rsvp,) = session.scalars(select(SparringRSVP))
        assert rsvp.answer == RSVP.YES
    assert match_id
    # Seven weeks in one jump: the welcome SMS expired unsent and staff hear of that (once);
    # the answer itself raises nothing.
    assert cases(session_factory) == ["delivery_expired"]
