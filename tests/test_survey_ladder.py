"""The survey reminder ladder with an injected clock (VIVE's practice, 004:5622-5630): the
invitation by SMS, a reminder by SMS after a week, by email after two, a staff call task after
three; it stops the moment the survey is completed and never goes beyond what is configured.

Every tick is told what time it is: plan, follow-up (the call task), dispatch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from followup import survey_calls as followup
from followup.escalations import raise_escalation
from followup.hooks import engine_hooks
from followup.inbound import set_opt_out
from followup.survey_reports import results
from scheduler.channels.sandbox import SandboxChannel
from scheduler.dispatcher import Dispatcher
from scheduler.links import invitation_for, secret_for
from scheduler.planner import plan_all
from store.models import (
    Channel,
    ContactPerson,
    OutboxMessage,
    OutboxStatus,
    SurveyInvitation,
    Task,
    TaskStatus,
)
from tests.support import survey_app
from tests.support.cast import PROGRAMMES, make_match
from tests.support.survey_app import LiveApp

# The live web app from tests.support.survey_app (module-scoped server, per-test clock).
_served = survey_app._served
live = survey_app.live

# Hjem til Os: the baseline survey goes out the day after the start (2026-03-02) at 10:00.
INVITED = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
WEEK = timedelta(weeks=1)


async def tick(
    engine: Engine, factory: sessionmaker[Session], dispatcher: Dispatcher, now: datetime
) -> None:
    plan_all(engine, factory, PROGRAMMES, now, report=raise_escalation)
    followup.run(factory, PROGRAMMES, now)
    await dispatcher.run_once(now)


def make_dispatcher(factory: sessionmaker[Session], public_url: str) -> Dispatcher:
    channels = {name: SandboxChannel(name) for name in ("sms", "email", "telegram", "voice")}
    return Dispatcher(
        factory,
        PROGRAMMES,
        channels,
        sandbox=frozenset(channels),
        public_url=public_url,
        hooks=engine_hooks(PROGRAMMES, public_url),
    )


def survey_messages(
    factory: sessionmaker[Session], match_id: int
) -> list[tuple[str, Channel, OutboxStatus]]:
    with factory() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.match_id == match_id, OutboxMessage.touchpoint_id == "baseline-survey"
            )
            .order_by(OutboxMessage.due_at)
        )
        return [(r.occurrence_key, r.channel, r.status) for r in rows]


def call_tasks(factory: sessionmaker[Session], match_id: int) -> list[Task]:
    with factory() as session:
        return list(
            session.scalars(
                select(Task).where(Task.match_id == match_id, Task.idempotency_key.like("survey:%"))
            )
        )


def token_for(factory: sessionmaker[Session], match_id: int, contact_id: int) -> str:
    with factory.begin() as session:
        _, token = invitation_for(
            session, match_id, contact_id, "parent-sample", "baseline", INVITED, secret_for(session)
        )
    return token


def answer_everything(live: LiveApp, token: str) -> None:
    for page in (1, 2, 3):
        response = live.client.post(
            f"/s/{token}/{page}", data={"q_parent_everyday": "3", "nav": "next"}
        )
        assert response.status_code == 303


async def test_it_climbs_one_step_a_week_and_stops_after_the_configured_call(
    engine: Engine, session_factory: sessionmaker[Session], live: LiveApp
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
        opted = make_match(session, telegram_chat_id=5002)
        opted_id, opted_parent = opted.id, opted.contacts[0].id
    dispatcher = make_dispatcher(session_factory, live.url)
    sent = (OutboxStatus.SENT, OutboxStatus.SENT)

    await tick(engine, session_factory, dispatcher, INVITED)
    assert survey_messages(session_factory, match_id)[0] == ("1", Channel.SMS, OutboxStatus.SENT)

    await tick(engine, session_factory, dispatcher, INVITED + WEEK)
    assert survey_messages(session_factory, match_id)[1] == ("1:r1", Channel.SMS, OutboxStatus.SENT)
    # The other parent writes STOP after the first reminder: no more reminders, no call.
    with session_factory.begin() as session:
        contact = session.get(ContactPerson, opted_parent)
        assert contact is not None
        set_opt_out(session, contact, True, INVITED + WEEK + timedelta(hours=2), source="sms")

    await tick(engine, session_factory, dispatcher, INVITED + 2 * WEEK)
    second = survey_messages(session_factory, match_id)[2]
    assert (second[0], second[2]) == ("1:r2", OutboxStatus.SENT)
    assert call_tasks(session_factory, match_id) == []

    await tick(engine, session_factory, dispatcher, INVITED + 3 * WEEK)
    (task,) = call_tasks(session_factory, match_id)
    assert task.title == "Ring til Forælder om spørgeskemaet (start): ikke besvaret efter 21 dage"
    assert task.status == TaskStatus.OPEN and task.kind == "call"
    assert task.due_at == datetime(2026, 3, 24, 9, tzinfo=UTC)  # 10:00 in Copenhagen, a Tuesday

    for weeks in (4, 6, 10):
        await tick(engine, session_factory, dispatcher, INVITED + weeks * WEEK)
    assert [(key, status) for key, _, status in survey_messages(session_factory, match_id)] == [
        ("1", sent[0]),
        ("1:r1", sent[0]),
        ("1:r2", sent[0]),
    ]
    assert len(call_tasks(session_factory, match_id)) == 1
    with session_factory() as session:
        step = session.scalars(
            select(SurveyInvitation.reminder_step).where(SurveyInvitation.match_id == match_id)
        ).one()
    assert step == 3

    # The parent who opted out got the invitation and one reminder, and nobody will call them.
    assert [(key, status) for key, _, status in survey_messages(session_factory, opted_id)] == [
        ("1", OutboxStatus.SENT),
        ("1:r1", OutboxStatus.SENT),
        ("1:r2", OutboxStatus.CANCELLED),
    ]
    assert call_tasks(session_factory, opted_id) == []


async def test_answering_after_the_first_reminder_stops_the_ladder_at_once(
    engine: Engine, session_factory: sessionmaker[Session], live: LiveApp
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)
        match_id, parent_id = match.id, match.contacts[0].id
    dispatcher = make_dispatcher(session_factory, live.url)
    await tick(engine, session_factory, dispatcher, INVITED)
    await tick(engine, session_factory, dispatcher, INVITED + WEEK)

    live.at(INVITED + WEEK + timedelta(days=2))
    answer_everything(live, token_for(session_factory, match_id, parent_id))
    # Cancelled the moment the survey was completed, before any tick.
    assert survey_messages(session_factory, match_id)[-1][::2] == ("1:r2", OutboxStatus.CANCELLED)

    for weeks in (2, 3, 4):
        await tick(engine, session_factory, dispatcher, INVITED + weeks * WEEK)
    assert [status for _, _, status in survey_messages(session_factory, match_id)] == [
        OutboxStatus.SENT,
        OutboxStatus.SENT,
        OutboxStatus.CANCELLED,
    ]
    assert call_tasks(session_factory, match_id) == []
    with session_factory() as session:
        (row,) = results(session, "parent-sample")
    assert (row.sent, row.opened, row.completed) == (1, 1, 1)
    assert dict(row.completed_at_step) == {1: 1}  # after the SMS reminder


async def test_a_call_task_already_given_is_closed_when_the_parent_answers(
    engine: Engine, session_factory: sessionmaker[Session], live: LiveApp
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)
        match_id, parent_id = match.id, match.contacts[0].id
    dispatcher = make_dispatcher(session_factory, live.url)
    for weeks in (0, 1, 2, 3):
        await tick(engine, session_factory, dispatcher, INVITED + weeks * WEEK)
    assert [t.status for t in call_tasks(session_factory, match_id)] == [TaskStatus.OPEN]

    live.at(INVITED + 3 * WEEK + timedelta(hours=5))
    answer_everything(live, token_for(session_factory, match_id, parent_id))

    (task,) = call_tasks(session_factory, match_id)
    assert (
        task.status == TaskStatus.CANCELLED
        and task.outcome_note == "the survey was answered meanwhile"
    )
    with session_factory() as session:
        (row,) = results(session, "parent-sample")
    assert dict(row.completed_at_step) == {3: 1}  # after the staff call task
