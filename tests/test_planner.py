"""The planner against a real database: idempotent, re-plans exactly, respects the rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from followup import matches as ops
from followup.escalations import raise_escalation
from scheduler.planner import plan_all
from store.models import (
    Channel,
    EndedBy,
    Escalation,
    OutboxMessage,
    OutboxStatus,
    Task,
    TaskStatus,
)
from tests.support.cast import PROGRAMMES, make_match

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def plan(
    engine: Engine, factory: sessionmaker[Session], now: datetime = NOW, days: int = 14
) -> object:
    return plan_all(
        engine, factory, PROGRAMMES, now, horizon=timedelta(days=days), report=raise_escalation
    )


def outbox(
    factory: sessionmaker[Session], status: OutboxStatus | None = OutboxStatus.PLANNED
) -> list[OutboxMessage]:
    with factory() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.due_at, OutboxMessage.idempotency_key)
        if status is not None:
            query = query.where(OutboxMessage.status == status)
        return list(session.scalars(query))


def test_planning_twice_inserts_nothing_twice(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    first = plan(engine, session_factory)
    rows = outbox(session_factory, None)
    again = plan_all(
        engine,
        session_factory,
        PROGRAMMES,
        NOW,
        horizon=timedelta(days=14),
        force=True,
        report=raise_escalation,
    )
    assert first.added == len(rows) > 0  # type: ignore[attr-defined]
    assert again.added == 0 and again.cancelled == 0 and again.updated == 0
    assert len(outbox(session_factory, None)) == len(rows)
    assert len({r.idempotency_key for r in rows}) == len(rows)


def test_it_plans_the_first_two_weeks_of_a_hjem_til_os_match(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    plan(engine, session_factory)
    planned = {
        (r.touchpoint_id, r.occurrence_key, r.audience.value, r.channel.value)
        for r in outbox(session_factory)
    }
    assert ("welcome", "1", "volunteer_family", "telegram") in planned
    assert ("baseline-survey", "1", "contact_person", "sms") in planned
    assert ("weekly-visit", "2026-03-09", "volunteer_family", "telegram") in planned
    assert ("first-visit-call", "1:announce", "contact_person", "sms") in planned
    with session_factory() as session:
        tasks = {t.touchpoint_id: t for t in session.scalars(select(Task))}
    assert tasks["first-visit-call"].due_at == datetime(
        2026, 3, 10, 9, tzinfo=UTC
    )  # 10:00 in Copenhagen
    assert tasks["first-meeting"].status == TaskStatus.OPEN


def test_a_corrected_start_date_leaves_exactly_the_new_plan(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
    plan(engine, session_factory)
    with session_factory.begin() as session:
        ops.correct_start(session, ops.get_match(session, match_id), date(2026, 3, 4), "test")
    plan(engine, session_factory)
    # Start moved from Monday 2 to Wednesday 4 March; visits stay on Mondays, from 16 March.
    assert [(r.touchpoint_id, r.occurrence_key, r.due_at) for r in outbox(session_factory)] == [
        ("welcome", "1", datetime(2026, 3, 4, 17, tzinfo=UTC)),
        ("baseline-survey", "1", datetime(2026, 3, 5, 9, tzinfo=UTC)),
        ("baseline-survey", "1:r1", datetime(2026, 3, 12, 9, tzinfo=UTC)),
    ]
    assert {
        (r.touchpoint_id, r.occurrence_key) for r in outbox(session_factory, OutboxStatus.CANCELLED)
    } == {
        ("sparring-invite", "2026-03-03"),  # the session is now before the match starts
        ("weekly-visit", "2026-03-09"),
        ("weekly-visit", "2026-03-09:r1"),
        ("first-visit-call", "1:announce"),
    }


def test_a_start_moved_by_a_week_cancels_the_old_prompts_and_adds_new_ones(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
    plan(engine, session_factory, days=21)
    with session_factory.begin() as session:
        ops.correct_start(session, ops.get_match(session, match_id), date(2026, 3, 9), "test")
    plan(engine, session_factory, days=21)
    visits = sorted(
        r.occurrence_key for r in outbox(session_factory) if r.touchpoint_id == "weekly-visit"
    )
    assert visits == ["2026-03-16", "2026-03-16:r1"]
    gone = {
        r.occurrence_key
        for r in outbox(session_factory, OutboxStatus.CANCELLED)
        if r.touchpoint_id == "weekly-visit"
    }
    assert gone == {"2026-03-09", "2026-03-09:r1"}


def test_a_match_ended_early_cancels_what_remains_and_adds_the_early_end_steps(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(
            session, start=date(2026, 1, 5), created_at=datetime(2026, 1, 1, tzinfo=UTC)
        ).id
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    plan(engine, session_factory, now=now)
    assert any(r.touchpoint_id == "weekly-visit" for r in outbox(session_factory))
    with session_factory.begin() as session:
        ops.end(
            session,
            ops.get_match(session, match_id),
            date(2026, 3, 10),
            EndedBy.VOLUNTEER_FAMILY,
            "",
            "test",
        )
    plan(engine, session_factory, now=now)
    prompts = [r for r in outbox(session_factory) if r.touchpoint_id == "weekly-visit"]
    # Monday 9 March was the last visit before the end; nothing on or after 10 March remains.
    assert sorted(r.occurrence_key for r in prompts) == ["2026-03-09", "2026-03-09:r1"]
    gone = {r.occurrence_key for r in outbox(session_factory, OutboxStatus.CANCELLED)}
    assert {"2026-03-16", "2026-03-16:r1"} <= gone
    with session_factory() as session:
        tasks = {t.touchpoint_id: t for t in session.scalars(select(Task))}
    assert tasks["early-end-child-visit"].due_at.date() == date(2026, 3, 13)


def test_a_pause_cancels_prompts_inside_it_and_resuming_brings_them_back(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
    plan(engine, session_factory, days=21)
    with session_factory.begin() as session:
        ops.pause(
            session, ops.get_match(session, match_id), date(2026, 3, 9), None, "holiday", "test"
        )
    plan(engine, session_factory, days=21)
    assert not [r for r in outbox(session_factory) if r.touchpoint_id == "weekly-visit"]
    with session_factory.begin() as session:
        ops.resume(session, ops.get_match(session, match_id), date(2026, 3, 16), "test")
    plan(engine, session_factory, days=21)
    visits = sorted(
        r.occurrence_key for r in outbox(session_factory) if r.touchpoint_id == "weekly-visit"
    )
    assert visits == ["2026-03-16", "2026-03-16:r1"]


def test_nothing_from_before_the_match_entered_the_system_is_planned(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session, start=date(2025, 9, 1), created_at=datetime(2026, 3, 1, tzinfo=UTC))
    plan(engine, session_factory)
    keys = {r.touchpoint_id for r in outbox(session_factory, None)}
    assert "welcome" not in keys and "baseline-survey" not in keys
    assert "weekly-visit" in keys


def test_an_opted_out_parent_gets_only_essential_messages(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(
            session,
            start=date(2026, 2, 2),
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            parent_opted_out=True,
        )
    plan(engine, session_factory, now=datetime(2027, 2, 25, tzinfo=UTC))
    to_parent = {
        r.touchpoint_id for r in outbox(session_factory) if r.audience.value == "contact_person"
    }
    assert "farewell-parent" in to_parent  # essential
    assert "end-survey" not in to_parent


def test_a_sunday_evening_sms_prompt_goes_earlier_on_the_visit_day(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session, weekday=6, telegram_chat_id=None)  # Sunday visits, no Telegram: SMS
    plan(engine, session_factory, days=21)
    prompt = next(
        r
        for r in outbox(session_factory)
        if r.touchpoint_id == "weekly-visit" and r.channel == Channel.SMS
    )
    assert prompt.occurrence_key == "2026-03-15"
    # SMS at weekends only 10:00-18:00: the 19:00 prompt asks on the Sunday itself, at 17:59
    # local, rather than on Monday morning.
    assert prompt.due_at == datetime(2026, 3, 15, 16, 59, tzinfo=UTC)


def test_a_family_without_any_usable_address_is_raised_to_staff_once(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match = make_match(session, telegram_chat_id=None, family_email=None)
        match.volunteer_family.phone = None
    plan(engine, session_factory)
    plan_all(
        engine,
        session_factory,
        PROGRAMMES,
        NOW,
        horizon=timedelta(days=14),
        force=True,
        report=raise_escalation,
    )
    with session_factory() as session:
        escalations = list(session.scalars(select(Escalation)))
    assert [e.rule for e in escalations] == ["delivery_failed"]
    assert len(escalations[0].evidence) == len(
        [
            r
            for r in outbox(session_factory, OutboxStatus.FAILED)
            if r.audience.value == "volunteer_family"
        ]
    )


def test_the_ladders_email_step_goes_by_email_even_to_a_parent_who_prefers_sms(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)  # the parent prefers SMS and has an email address too
    plan(engine, session_factory, days=21)
    steps = {
        r.occurrence_key: r.channel
        for r in outbox(session_factory)
        if r.touchpoint_id == "baseline-survey" and r.audience.value == "contact_person"
    }
    assert steps == {"1": Channel.SMS, "1:r1": Channel.SMS, "1:r2": Channel.EMAIL}


def test_the_farewell_goes_by_email_to_both_whatever_they_usually_prefer(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        by_email = make_match(session, parent_channel=Channel.SMS).id  # the parent prefers SMS
        no_email = make_match(
            session, parent_channel=Channel.SMS, family_email=None, telegram_chat_id=5002
        )
        no_email.contacts[0].email = None
        no_email_id = no_email.id
    plan(engine, session_factory, now=datetime(2027, 2, 25, 12, tzinfo=UTC))

    farewells = {
        (row.match_id, row.touchpoint_id): row.channel
        for row in outbox(session_factory)
        if row.touchpoint_id.startswith("farewell")
    }
    assert farewells == {
        (by_email, "farewell-family"): Channel.EMAIL,  # the family prefers Telegram
        (by_email, "farewell-parent"): Channel.EMAIL,
        (no_email_id, "farewell-family"): Channel.TELEGRAM,
        (no_email_id, "farewell-parent"): Channel.SMS,
    }


def test_a_sparring_invitation_is_planned_on_time_although_its_session_lies_past_the_horizon(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    # Sessions on the first Tuesday of every other month (5 May 2026); invited 14 days before.
    plan(engine, session_factory, now=datetime(2026, 4, 10, 12, tzinfo=UTC), days=14)

    invitations = [r for r in outbox(session_factory) if r.touchpoint_id == "sparring-invite"]
    assert [(r.occurrence_key, r.due_at) for r in invitations] == [
        ("2026-05-05", datetime(2026, 4, 21, 16, tzinfo=UTC))  # 18:00 in Copenhagen
    ]
