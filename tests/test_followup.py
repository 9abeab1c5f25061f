"""Staff follow-up end to end: rules raise escalations, alerts reach staff by Telegram (the fake
Bot API) and email (aiosmtpd), re-escalation, acknowledgement, tasks and the daily digest.
The clock is injected: every tick is told what time it is."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from followup.alerts import ack_token, acknowledge
from followup.escalations import raise_escalation
from scheduler.channels.email import EmailChannel
from scheduler.channels.sandbox import SandboxChannel
from scheduler.channels.telegram import TelegramChannel, make_bot
from scheduler.links import secret_for
from store.models import (
    CancelledBy,
    CheckIn,
    Escalation,
    EscalationStatus,
    Match,
    Severity,
    Staff,
    StaffRole,
    Task,
    TaskStatus,
    Visit,
    VisitStatus,
)
from tests.conftest import free_port
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.support.cast import make_match
from tests.support.webserver import serving
from venskab.cli import main
from venskab.cli.common import AppContext
from venskab.runtime import Runtime
from web.app import create_app


def wall_clock() -> datetime:
    return datetime.now(UTC)


LEAD_CHAT = 7001
COORDINATOR_CHAT = 7002


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake
        assert fake.violations == []


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def runtime(db_url: str, telegram: FakeTelegram, mailbox: tuple[Mailbox, int]) -> Runtime:
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url})
    channels: dict[str, Any] = {
        "telegram": TelegramChannel(make_bot(DEFAULT_TOKEN, telegram.url)),
        "email": EmailChannel(
            "127.0.0.1", mailbox[1], "venskab@example.org", starttls=False, clock=wall_clock
        ),
        "sms": SandboxChannel("sms"),
        "voice": SandboxChannel("voice"),
    }
    return Runtime(app, channels=channels, sandbox=frozenset({"sms", "voice"}))


def cast(factory: sessionmaker[Session], lead_telegram: bool = True, **kwargs: Any) -> int:
    with factory.begin() as session:
        match = make_match(session, **kwargs)
        assert match.staff is not None
        match.staff.telegram_chat_id = LEAD_CHAT if lead_telegram else None
        session.add(
            Staff(
                name="Koordinator",
                role=StaffRole.COORDINATOR,
                region="Hovedstaden",
                email="koordinator@example.org",
                telegram_chat_id=COORDINATOR_CHAT,
            )
        )
        return match.id


def to_chat(telegram: FakeTelegram, chat: int, containing: str = "") -> list[dict[str, Any]]:
    return [
        p
        for _, p in telegram.sent("sendMessage")
        if int(p["chat_id"]) == chat and containing in p["text"]
    ]


def raise_now(
    factory: sessionmaker[Session], match_id: int, rule: str, severity: Severity, at: datetime
) -> int:
    with factory.begin() as session:
        match = session.get(Match, match_id)
        escalation = raise_escalation(
            session,
            match,
            rule,
            now=at,
            severity=severity,
            evidence={"text": "Barnet virkede bange"},
            suggested_action="Ring til familien i dag.",
        )
        return escalation.id


def at_local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("Europe/Copenhagen"))


async def test_a_worry_at_night_reaches_the_staff_member_at_once_by_telegram_and_email(
    session_factory: sessionmaker[Session],
    runtime: Runtime,
    telegram: FakeTelegram,
    mailbox: tuple[Mailbox, int],
) -> None:
    match_id = cast(session_factory)
    night = at_local(2026, 3, 3, 23, 10)
    escalation_id = raise_now(session_factory, match_id, "worry", Severity.URGENT, night)
    await runtime.tick(night)
    alerts = to_chat(telegram, LEAD_CHAT)
    assert len(alerts) == 1
    assert alerts[0]["text"].startswith("‼️ HASTER – Barn A og Familien Eksempel\n")
    assert "Familien Eksempel er bekymret for Barn A." in alerts[0]["text"]
    assert "Siden 3. mar. kl. 23:10" in alerts[0]["text"]
    assert 'Seneste besked: "Barnet virkede bange"' in alerts[0]["text"]
    assert "Ring til venskabsfamilien i dag." in alerts[0]["text"]
    buttons = alerts[0]["reply_markup"]["inline_keyboard"][0]
    assert buttons[0]["callback_data"] == f"v1|ack|{escalation_id}"
    mails = mailbox[0].to("procesleder@example.org")
    assert len(mails) == 1 and mails[0]["Subject"].startswith("HASTER:")
    assert "/ack/" in mails[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert to_chat(telegram, COORDINATOR_CHAT) == []


async def test_a_normal_escalation_at_night_waits_for_working_hours(
    session_factory: sessionmaker[Session], runtime: Runtime, telegram: FakeTelegram
) -> None:
    match_id = cast(session_factory)
    raise_now(
        session_factory,
        match_id,
        "message_from_parent",
        Severity.NORMAL,
        at_local(2026, 3, 6, 22, 0),
    )
    await runtime.tick(at_local(2026, 3, 6, 22, 0))  # Friday evening
    await runtime.tick(at_local(2026, 3, 7, 12, 0))  # Saturday
    assert to_chat(telegram, LEAD_CHAT) == []
    await runtime.tick(at_local(2026, 3, 9, 8, 1))  # Monday morning
    texts = [p["text"] for p in to_chat(telegram, LEAD_CHAT)]
    assert any("Forælderen har skrevet til os." in t for t in texts)


async def test_an_unacknowledged_urgent_escalation_goes_to_the_coordinator_and_stops_when_acknowledged(
    session_factory: sessionmaker[Session], runtime: Runtime, telegram: FakeTelegram, db_url: str
) -> None:
    match_id = cast(session_factory)
    start = at_local(2026, 3, 3, 10, 0)
    escalation_id = raise_now(session_factory, match_id, "worry", Severity.URGENT, start)
    await runtime.tick(start)
    await runtime.tick(start + timedelta(hours=1))
    assert to_chat(telegram, COORDINATOR_CHAT, "er bekymret for Barn A.") == []
    await runtime.tick(start + timedelta(hours=2, minutes=1))
    passed_on = to_chat(telegram, COORDINATOR_CHAT, "er bekymret for Barn A.")
    assert len(passed_on) == 1 and "påmindelse 1, ikke kvitteret endnu" in passed_on[0]["text"]
    assert len(to_chat(telegram, LEAD_CHAT, "er bekymret for Barn A.")) == 2  # reminded too
    result = CliRunner().invoke(
        main, ["ack", str(escalation_id)], obj=AppContext(env={"VENSKAB_DATABASE_URL": db_url})
    )
    assert result.exit_code == 0, result.output
    await runtime.tick(start + timedelta(hours=6))
    assert len(to_chat(telegram, COORDINATOR_CHAT, "er bekymret for Barn A.")) == 1
    assert len(to_chat(telegram, LEAD_CHAT, "er bekymret for Barn A.")) == 2
    again = CliRunner().invoke(
        main, ["ack", str(escalation_id)], obj=AppContext(env={"VENSKAB_DATABASE_URL": db_url})
    )
    assert again.exit_code == 2 and f"sag {escalation_id} er allerede kvitteret" in again.output


async def test_repeated_cancellations_make_one_escalation_with_growing_evidence_not_an_alert_storm(
    session_factory: sessionmaker[Session], runtime: Runtime, telegram: FakeTelegram
) -> None:
    match_id = cast(session_factory)
    with session_factory.begin() as session:
        for day in (date(2026, 3, 9), date(2026, 3, 16)):
            session.add(
                Visit(
                    match_id=match_id,
                    planned_date=day,
                    status=VisitStatus.CANCELLED,
                    cancelled_by=CancelledBy.CHILD_FAMILY,
                )
            )
    await runtime.tick(at_local(2026, 3, 17, 10, 0))
    await runtime.tick(at_local(2026, 3, 17, 10, 30))
    with session_factory.begin() as session:  # the visit moved to Tuesday is cancelled too
        session.add(
            Visit(
                match_id=match_id,
                planned_date=date(2026, 3, 17),
                status=VisitStatus.CANCELLED,
                cancelled_by=CancelledBy.ILLNESS,
            )
        )
    await runtime.tick(at_local(2026, 3, 17, 16, 0))
    with session_factory() as session:
        escalations = list(
            session.scalars(select(Escalation).where(Escalation.rule == "missed_visits"))
        )
    assert len(escalations) == 1
    assert [e["visits"] for e in escalations[0].evidence] == [
        ["2026-03-09", "2026-03-16"],
        ["2026-03-16", "2026-03-17"],
    ]
    alerts = [p for p in to_chat(telegram, LEAD_CHAT) if "i træk er aflyst" in p["text"]]
    assert len(alerts) == 1
    assert escalations[0].evidence_count == 2


async def test_a_staff_member_without_telegram_gets_email_only(
    session_factory: sessionmaker[Session],
    runtime: Runtime,
    telegram: FakeTelegram,
    mailbox: tuple[Mailbox, int],
) -> None:
    match_id = cast(session_factory, lead_telegram=False)
    raise_now(session_factory, match_id, "worry", Severity.URGENT, at_local(2026, 3, 3, 10, 0))
    await runtime.tick(at_local(2026, 3, 3, 10, 0))
    assert to_chat(telegram, LEAD_CHAT) == []
    worries = [
        m for m in mailbox[0].to("procesleder@example.org") if "bekymret" in str(m["Subject"])
    ]
    assert len(worries) == 1


async def test_a_forged_or_reused_acknowledgement_link_is_refused_and_changes_nothing(
    session_factory: sessionmaker[Session], db_url: str
) -> None:
    match_id = cast(session_factory)
    escalation_id = raise_now(
        session_factory, match_id, "worry", Severity.URGENT, at_local(2026, 3, 3, 10, 0)
    )
    with session_factory.begin() as session:
        secret = secret_for(session, None)
        lead = session.scalars(select(Staff).where(Staff.role == StaffRole.PROCESLEDER)).one()
    good = ack_token(secret, escalation_id, lead.id)
    forged = f"{escalation_id}.{lead.id}.{'A' * 32}"
    port = free_port()
    with serving(
        create_app(AppContext(env={"VENSKAB_DATABASE_URL": db_url}).services), port
    ) as base:
        assert httpx.post(f"{base}/ack/{forged}").status_code == 403
        assert (
            httpx.post(f"{base}/ack/{escalation_id}.{lead.id + 1}.{good.split('.')[2]}").status_code
            == 403
        )
        page = httpx.get(f"{base}/ack/{good}")  # a mail scanner's GET acknowledges nothing
        assert page.status_code == 200 and "<form" in page.text
        with session_factory() as session:
            assert session.get(Escalation, escalation_id).status == EscalationStatus.OPEN  # type: ignore[union-attr]
        done = httpx.post(f"{base}/ack/{good}")
        assert done.status_code == 200 and "kvitteret" in done.text
        reused = httpx.post(f"{base}/ack/{good}")
        assert reused.status_code == 409 and "allerede" in reused.text
    with session_factory() as session:
        escalation = session.get(Escalation, escalation_id)
        assert escalation is not None and escalation.status == EscalationStatus.ACKNOWLEDGED
        assert escalation.acknowledged_by == lead.id


async def test_an_overdue_task_escalates_and_recording_its_outcome_leaves_a_new_try(
    session_factory: sessionmaker[Session], runtime: Runtime, db_url: str
) -> None:
    cast(session_factory)
    await runtime.tick(at_local(2026, 3, 1, 12, 0))  # plans the call after the first solo visit
    await runtime.tick(at_local(2026, 3, 12, 12, 0))  # two days after it was due
    with session_factory() as session:
        overdue = session.scalars(select(Escalation).where(Escalation.rule == "task_overdue")).all()
        call = session.scalars(select(Task).where(Task.touchpoint_id == "first-visit-call")).one()
    # One escalation; the first meeting (never marked done) and the call are its evidence.
    assert len(overdue) == 1 and call.id in {e["task_id"] for e in overdue[0].evidence}
    cli = AppContext(env={"VENSKAB_DATABASE_URL": db_url})
    listed = CliRunner().invoke(main, ["tasks"], obj=cli)
    assert "Ring til forælder/kontaktperson" in listed.output
    result = CliRunner().invoke(
        main, ["task", str(call.id), "--outcome", "not_reached", "--note", "voicemail"], obj=cli
    )
    assert result.exit_code == 0, result.output
    with session_factory() as session:
        tasks = session.scalars(
            select(Task).where(Task.touchpoint_id == "first-visit-call").order_by(Task.id)
        ).all()
    assert [t.status for t in tasks] == [TaskStatus.NOT_REACHED, TaskStatus.OPEN]


async def test_the_daily_digest_comes_at_eight_on_working_days_with_only_what_matters(
    session_factory: sessionmaker[Session],
    runtime: Runtime,
    telegram: FakeTelegram,
    mailbox: tuple[Mailbox, int],
) -> None:
    match_id = cast(session_factory)
    # Sunday noon: the parent's survey SMS (due Tuesday 3 March) goes out, well before any digest
    # (lanes send side by side: a digest and an SMS in the same tick may go either way round).
    await runtime.tick(at_local(2026, 3, 8, 12, 0))
    await runtime.tick(at_local(2026, 3, 9, 7, 30))  # Monday before eight: plans, no digest
    assert not [p for p in to_chat(telegram, LEAD_CHAT) if "Dagens overblik" in p["text"]]
    raise_now(
        session_factory,
        match_id,
        "message_from_parent",
        Severity.NORMAL,
        at_local(2026, 3, 9, 7, 40),
    )
    await runtime.tick(at_local(2026, 3, 10, 8, 5))  # Tuesday: the call is due today
    digests = [p["text"] for p in to_chat(telegram, LEAD_CHAT) if "Dagens overblik" in p["text"]]
    assert len(digests) == 1, digests
    assert "Dagens opgaver (2)" in digests[0] and "Ring til forælder/kontaktperson" in digests[0]
    assert "(!) 02.03 09:00 Første møde" in digests[0]  # overdue, marked
    assert "Åbne sager" in digests[0] and "Spørgeskemaer, der mangler svar (1)" in digests[0]
    assert "Aflyste" not in digests[0] and "sparring" not in digests[0]  # empty sections left out
    assert any(
        "Dagens overblik" in str(m["Subject"]) for m in mailbox[0].to("procesleder@example.org")
    )
    # The coordinator has nothing today: no digest at all.
    assert not [p for p in to_chat(telegram, COORDINATOR_CHAT) if "Dagens overblik" in p["text"]]
    await runtime.tick(at_local(2026, 3, 10, 9, 0))
    assert (
        len([p for p in to_chat(telegram, LEAD_CHAT) if "Dagens overblik" in p["text"]]) == 1
    )  # once a day
    await runtime.tick(at_local(2026, 3, 14, 8, 5))  # Saturday
    assert len([p for p in to_chat(telegram, LEAD_CHAT) if "Dagens overblik" in p["text"]]) == 1


async def test_low_mood_twice_in_a_row_raises_an_escalation(
    session_factory: sessionmaker[Session], runtime: Runtime
) -> None:
    match_id = cast(session_factory)
    with session_factory.begin() as session:
        session.add(CheckIn(match_id=match_id, mood=2, created_at=at_local(2026, 3, 9, 20, 0)))
    await runtime.tick(at_local(2026, 3, 10, 10, 0))
    with session_factory.begin() as session:
        assert (
            session.scalars(select(Escalation).where(Escalation.rule == "low_mood")).first() is None
        )
        session.add(CheckIn(match_id=match_id, mood=1, created_at=at_local(2026, 3, 16, 20, 0)))
    await runtime.tick(at_local(2026, 3, 17, 10, 0))
    with session_factory() as session:
        escalation = session.scalars(select(Escalation).where(Escalation.rule == "low_mood")).one()
    assert escalation.evidence[0]["moods"] == [2, 1]


async def test_prompts_nobody_answers_for_three_weeks_raise_an_escalation(
    session_factory: sessionmaker[Session], runtime: Runtime
) -> None:
    cast(session_factory)
    await runtime.tick(at_local(2026, 3, 1, 12, 0))
    for week in range(4):  # the Monday prompts and the Tuesday reminders go out; nobody answers
        monday = at_local(2026, 3, 9, 19, 30) + timedelta(weeks=week)
        await runtime.tick(monday)
        await runtime.tick(monday + timedelta(days=1))
    await runtime.tick(at_local(2026, 4, 2, 12, 0))
    with session_factory() as session:
        escalation = session.scalars(
            select(Escalation).where(Escalation.rule == "unanswered_prompts")
        ).one()
    assert len(escalation.evidence[0]["prompts"]) >= 2


async def test_an_acknowledged_unanswered_prompts_case_takes_the_later_weeks_without_new_cases(
    session_factory: sessionmaker[Session], runtime: Runtime, telegram: FakeTelegram
) -> None:
    cast(session_factory)
    await runtime.tick(at_local(2026, 3, 1, 12, 0))
    acknowledged = False
    for week in range(6):  # nobody answers, for six weeks
        monday = at_local(2026, 3, 9, 19, 30) + timedelta(weeks=week)
        for moment in (monday, monday + timedelta(days=1, hours=1)):  # prompt; reminder, rules
            await runtime.tick(moment)
        with session_factory.begin() as session:
            case = session.scalars(
                select(Escalation).where(Escalation.rule == "unanswered_prompts")
            ).first()
            if case is not None and not acknowledged:
                acknowledge(session, case.id, case.staff_id, monday + timedelta(days=1), "test")
                acknowledged = True
    with session_factory() as session:
        cases = list(
            session.scalars(select(Escalation).where(Escalation.rule == "unanswered_prompts"))
        )
    assert len(cases) == 1  # one case that stays acknowledged, not a new one every week
    assert cases[0].status.value == "acknowledged" and cases[0].evidence_count >= 3
    pushes = [
        t for t in to_chat(telegram, LEAD_CHAT, "besøgsbeskeder") if "Dagens" not in t["text"]
    ]
    assert len(pushes) <= 2


async def test_a_mentorbarn_match_without_a_visit_for_three_weeks_raises_an_escalation(
    session_factory: sessionmaker[Session], runtime: Runtime
) -> None:
    match_id = cast(session_factory, programme="mentorbarn")
    with session_factory.begin() as session:
        session.add(
            Visit(
                match_id=match_id,
                planned_date=date(2026, 3, 9),
                status=VisitStatus.VISITED,
                times=2,
            )
        )
    await runtime.tick(at_local(2026, 3, 25, 10, 0))  # 16 days
    with session_factory() as session:
        assert (
            session.scalars(select(Escalation).where(Escalation.rule == "no_visit")).first() is None
        )
    await runtime.tick(at_local(2026, 3, 31, 10, 0))  # 22 days
    with session_factory() as session:
        escalation = session.scalars(select(Escalation).where(Escalation.rule == "no_visit")).one()
    assert escalation.evidence[0]["last_visit"] == "2026-03-09"


def test_a_sibling_match_is_invoiced_at_half_price(
    session_factory: sessionmaker[Session], engine: Any
) -> None:
    from scheduler.planner import plan_all
    from tests.support.cast import PROGRAMMES

    with session_factory.begin() as session:
        make_match(session, programme="mentorbarn").sibling = True
    plan_all(
        engine,
        session_factory,
        PROGRAMMES,
        datetime(2026, 5, 25, tzinfo=UTC),
        report=raise_escalation,
    )
    with session_factory() as session:
        invoice = session.scalars(
            select(Task).where(Task.touchpoint_id == "invoice-reminder")
        ).one()
    assert invoice.title.endswith("25.000 kr. (halv pris: søskende)")
    assert invoice.due_at.date() == date(2026, 6, 2)
