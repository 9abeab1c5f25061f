"""The dispatcher through the sandbox channels: at most once, crash recovery, expiry, answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from followup import alerts
from followup.escalations import raise_escalation
from followup.hooks import engine_hooks
from scheduler import outbox
from scheduler.channels.base import ChannelError, OutgoingMessage, SendResult
from scheduler.channels.sandbox import SandboxChannel
from scheduler.dispatcher import Dispatcher
from scheduler.links import find_by_token, invitation_for
from scheduler.planner import plan_all
from store.models import (
    Escalation,
    Match,
    OutboxMessage,
    OutboxStatus,
    Severity,
    Visit,
    VisitStatus,
)
from tests.support.cast import PROGRAMMES, make_match

START = datetime(2026, 3, 1, 12, tzinfo=UTC)


def dispatcher(factory: sessionmaker[Session], worker: str = "w1") -> Dispatcher:
    channels = {name: SandboxChannel(name) for name in ("sms", "email", "telegram", "voice")}
    return Dispatcher(
        factory,
        PROGRAMMES,
        channels,
        sandbox=frozenset(channels),
        public_url="https://venskab.example.org",
        worker_id=worker,
        secret="test-secret",
        hooks=engine_hooks(PROGRAMMES, "https://venskab.example.org"),
    )


def rows(factory: sessionmaker[Session], **where: object) -> list[OutboxMessage]:
    with factory() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.due_at, OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(session.scalars(query))


async def test_a_due_message_is_sent_once_and_only_once(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    at = datetime(2026, 3, 2, 17, 5, tzinfo=UTC)  # 18:05 in Copenhagen: the welcome is due
    first = await dispatcher(session_factory).run_once(at)
    second = await dispatcher(session_factory, "w2").run_once(at)
    assert first.sent >= 1 and second.claimed == 0
    welcome = rows(session_factory, touchpoint_id="welcome")
    assert [(w.status, w.attempts, w.sandbox) for w in welcome] == [(OutboxStatus.SENT, 1, True)]
    assert welcome[0].body and "Barn A" in welcome[0].body
    assert welcome[0].provider_id and welcome[0].provider_id.startswith("sandbox-")


async def test_a_message_left_sending_by_a_crash_becomes_unknown_and_goes_to_staff(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    at = datetime(2026, 3, 2, 17, 5, tzinfo=UTC)
    claimed = dispatcher(session_factory, "dead").claim(at)  # claimed, then the process died
    assert claimed
    later = at + timedelta(minutes=10)
    stats = await dispatcher(session_factory, "w2").run_once(later)
    assert stats.unknown == len(claimed) and stats.sent == 0
    assert {r.status for r in rows(session_factory) if r.id in claimed} == {OutboxStatus.UNKNOWN}
    with session_factory() as session:
        escalation = session.scalars(select(Escalation)).one()
    assert escalation.rule == "delivery_unknown"
    assert {e["outbox_id"] for e in escalation.evidence} == set(claimed)


async def test_a_stale_weekly_prompt_expires_after_downtime_but_a_farewell_is_still_sent(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session, start=date(2025, 3, 3), created_at=datetime(2025, 3, 1, tzinfo=UTC))
    # Planned up to 14 days before the anniversary, then the system was down for three weeks.
    plan_all(
        engine,
        session_factory,
        PROGRAMMES,
        datetime(2026, 2, 17, 12, tzinfo=UTC),
        report=raise_escalation,
    )
    back = datetime(2026, 3, 10, 12, tzinfo=UTC)
    plan_all(engine, session_factory, PROGRAMMES, back, report=raise_escalation)
    await dispatcher(session_factory).run_once(back)
    prompts = rows(session_factory, touchpoint_id="weekly-visit")
    assert prompts and {p.status for p in prompts} == {OutboxStatus.EXPIRED}
    farewell = rows(session_factory, touchpoint_id="farewell-family")
    assert [f.status for f in farewell] == [OutboxStatus.SENT]


async def test_a_visit_prompt_is_not_sent_when_the_visit_was_already_reported(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)
        session.add(
            Visit(match_id=match.id, planned_date=date(2026, 3, 9), status=VisitStatus.VISITED)
        )
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    stats = await dispatcher(session_factory).run_once(datetime(2026, 3, 10, 20, tzinfo=UTC))
    prompts = rows(session_factory, touchpoint_id="weekly-visit")
    assert {(p.occurrence_key, p.status) for p in prompts} == {
        ("2026-03-09", OutboxStatus.CANCELLED),
        ("2026-03-09:r1", OutboxStatus.CANCELLED),
    }
    assert stats.cancelled >= 2


async def test_a_survey_link_is_personal_and_not_stored_in_the_outbox(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    sent: list[str] = []

    class Recording(SandboxChannel):
        async def send(self, message: OutgoingMessage) -> SendResult:
            sent.append(message.body)
            return await super().send(message)

    d = dispatcher(session_factory)
    d.channels = {**d.channels, "sms": Recording("sms")}
    await d.run_once(datetime(2026, 3, 3, 9, 30, tzinfo=UTC))
    survey = rows(session_factory, touchpoint_id="baseline-survey", occurrence_key="1")[0]
    assert survey.status == OutboxStatus.SENT
    body = next(b for b in sent if "/s/" in b)
    token = body.split("/s/", 1)[1].split()[0]
    assert len(token) >= 22  # at least 128 bits
    assert token not in (survey.body or "") and "[link]" in (survey.body or "")
    with session_factory() as session:
        invitation = find_by_token(session, token)
        assert invitation is not None and invitation.match_id == survey.match_id
        assert find_by_token(session, token[:-1] + ("A" if token[-1] != "A" else "B")) is None


async def test_retries_wait_and_quiet_hours_defer_without_using_an_attempt(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    # A survey SMS due at 10:00 that is retried late in the evening must wait for the morning.
    with session_factory.begin() as session:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.touchpoint_id == "baseline-survey",
                OutboxMessage.occurrence_key == "1",
            )
            .values(due_at=datetime(2026, 3, 3, 20, 30, tzinfo=UTC))
        )
    stats = await dispatcher(session_factory).run_once(datetime(2026, 3, 3, 20, 30, tzinfo=UTC))
    survey = rows(session_factory, touchpoint_id="baseline-survey", occurrence_key="1")[0]
    assert stats.deferred == 1
    assert survey.status == OutboxStatus.PLANNED and survey.attempts == 0
    assert survey.due_at == datetime(2026, 3, 4, 7, tzinfo=UTC)  # 08:00 in Copenhagen


async def test_a_survey_reminder_is_not_sent_once_the_survey_was_answered(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)
        match_id, contact_id = match.id, match.contacts[0].id
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    with session_factory.begin() as session:
        invitation, _ = invitation_for(
            session, match_id, contact_id, "parent-sample", "baseline", START, "test-secret"
        )
        invitation.completed_at = datetime(2026, 3, 5, 18, tzinfo=UTC)
    stats = await dispatcher(session_factory).run_once(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))
    reminder = rows(session_factory, touchpoint_id="baseline-survey", occurrence_key="1:r1")[0]
    assert reminder.status == OutboxStatus.CANCELLED
    assert reminder.last_error == "already answered"
    assert stats.cancelled >= 1


async def test_a_reminder_waits_its_interval_after_a_late_prompt_and_goes_without_one(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session, telegram_chat_id=None, family_email=None)  # SMS, Monday visits
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)
    # Nothing ran on Monday 9 March: on Tuesday at 19:00 the prompt and its reminder are due.
    tuesday = datetime(2026, 3, 10, 18, tzinfo=UTC)
    await dispatcher(session_factory).run_once(tuesday)
    prompt, reminder = [
        rows(session_factory, touchpoint_id="weekly-visit", occurrence_key=key)[0]
        for key in ("2026-03-09", "2026-03-09:r1")
    ]
    assert prompt.status == OutboxStatus.SENT
    assert reminder.status == OutboxStatus.PLANNED  # not in the same tick as its prompt
    assert reminder.due_at == datetime(2026, 3, 11, 18, tzinfo=UTC)  # a day after the prompt
    # The next week's prompt expired unsent (the channel was down for days): no reminder.
    plan_all(engine, session_factory, PROGRAMMES, tuesday, report=raise_escalation)
    with session_factory.begin() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.occurrence_key == "2026-03-16")
            .values(status=OutboxStatus.EXPIRED)
        )
    await dispatcher(session_factory).run_once(datetime(2026, 3, 17, 18, tzinfo=UTC))
    (late,) = rows(session_factory, touchpoint_id="weekly-visit", occurrence_key="2026-03-16:r1")
    assert (late.status, late.last_error) == (OutboxStatus.CANCELLED, "its prompt was never sent")


async def test_sent_and_failed_messages_recorded_in_the_same_group_each_get_their_outcome(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    plan_all(engine, session_factory, PROGRAMMES, START, report=raise_escalation)

    class Flaky(SandboxChannel):
        """Fails every message with an odd outbox id, transiently."""

        async def send(self, message: OutgoingMessage) -> SendResult:
            if int(message.reference or 0) % 2:
                raise ChannelError("try again later", permanent=False, code="busy")
            return await super().send(message)

    d = dispatcher(session_factory)
    d.channels = {name: Flaky(name) for name in d.channels}
    at = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    stats = await d.run_once(at)
    claimed = [r for r in rows(session_factory) if r.attempts == 1]
    assert len(claimed) == stats.claimed >= 2
    assert stats.sent and stats.retried and stats.sent + stats.retried == stats.claimed
    for row in claimed:
        assert row.body  # rendered and stored either way
        if row.id % 2:
            assert row.status == OutboxStatus.PLANNED and row.sent_at is None
            assert row.next_attempt_at is not None and row.next_attempt_at > at
            assert row.last_error == "try again later"
        else:
            assert row.status == OutboxStatus.SENT and row.sent_at == at
            assert row.provider_id and row.provider_id.startswith("sandbox-") and row.sandbox
            assert row.last_error is None


async def test_an_alert_queued_behind_a_backlog_goes_out_in_the_first_batch(
    session_factory: sessionmaker[Session],
) -> None:
    at = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)  # 10:30 in Copenhagen: within every window
    with session_factory.begin() as session:
        match = make_match(session)
        routine = {
            "match_id": match.id,
            "touchpoint_id": "welcome",
            "kind": "message",
            "template": "welcome",
            "audience": "volunteer_family",
            "recipient_id": match.volunteer_family_id,
            "locale": "da",
            "due_at": at - timedelta(hours=2),
            "plan_version": 1,
            "context": {},
        }
        backlog = [
            outbox.new_row(
                {
                    **routine,
                    "idempotency_key": f"backlog:{channel}:{i}",
                    "occurrence_key": str(i),
                    "channel": channel,
                }
            )
            for channel in ("sms", "telegram", "email")
            for i in range(500)
        ]
        assert outbox.insert(session, backlog) == 1500
    with session_factory.begin() as session:  # queued after the backlog, due later
        match = session.get_one(Match, match.id)
        raise_escalation(
            session,
            match,
            "worry",
            now=at - timedelta(minutes=1),
            severity=Severity.URGENT,
            evidence={"text": "Barnet virkede bange"},
        )
        assert alerts.notify(session, at, PROGRAMMES, "Europe/Copenhagen")
    queued = rows(session_factory, kind="alert")
    assert queued and all(a.status == OutboxStatus.PLANNED for a in queued)

    sent: dict[str, list[str]] = {}

    class Recording(SandboxChannel):
        async def send(self, message: OutgoingMessage) -> SendResult:
            sent.setdefault(self.name, []).append(message.reference or "")
            return await super().send(message)

    d = dispatcher(session_factory)
    d.batch_size = 50
    d.channels = {name: Recording(name) for name in d.channels}
    await d.run_once(at)
    for alert in queued:
        order = sent[alert.channel.value]
        assert len(order) > 500  # the backlog on its channel went out too, after it
        assert order.index(str(alert.id)) < d.batch_size
    assert {a.status for a in rows(session_factory, kind="alert")} == {OutboxStatus.SENT}
