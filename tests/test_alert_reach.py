"""Staff alerts that reach someone, at once when it matters: a parent's worried SMS and a
failure of the bot at any hour, cases without a staff member, news on a case whose pushes are
used up. Through the signed Twilio webhook, the real Telegram channel (fake Bot API) and real
SMTP (aiosmtpd), with an injected clock."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from followup.escalations import raise_escalation
from store.models import Escalation, Match, Severity, Staff
from tests.fakes.telegram import FakeTelegram
from tests.support import survey_app
from tests.support.survey_app import LiveApp
from tests.test_followup import (
    COORDINATOR_CHAT,
    LEAD_CHAT,
    Mailbox,
    at_local,
    cast,
    mailbox,
    raise_now,
    runtime,
    telegram,
    to_chat,
)
from venskab.cli import main
from venskab.cli.common import AppContext
from venskab.runtime import Runtime

__all__ = ["mailbox", "runtime", "telegram"]  # the fixtures, shared with test_followup

_served = survey_app._served
live = survey_app.live

FRIDAY_EVENING = at_local(2026, 3, 6, 20, 0)


def alerts(telegram: FakeTelegram, chat: int, about: str = "") -> list[str]:
    return [p["text"] for p in to_chat(telegram, chat, about) if "Dagens overblik" not in p["text"]]


WORRY = "er bekymret for Barn A."
PARENT = "Forælderen har skrevet til os."


@pytest.mark.parametrize("words", ["Jeg er bekymret for Barn A", "I am worried about him"])
async def test_a_parents_worried_sms_on_a_friday_evening_reaches_the_staff_member_at_once(
    live: LiveApp,
    session_factory: sessionmaker[Session],
    runtime: Runtime,
    telegram: FakeTelegram,
    mailbox: tuple[Mailbox, int],
    words: str,
) -> None:
    cast(session_factory)
    live.at(FRIDAY_EVENING)
    assert live.sms(words).status_code == 200
    await runtime.tick(FRIDAY_EVENING + timedelta(seconds=1))
    (alert,) = alerts(telegram, LEAD_CHAT)
    assert alert.startswith("‼️ HASTER – Barn A og Familien Eksempel\n")
    assert "Forælderen har skrevet til os." in alert and words in alert
    mails = mailbox[0].to("procesleder@example.org")
    assert [str(m["Subject"]) for m in mails] == ["HASTER: Forælderen har skrevet til os."]


async def test_a_parents_ordinary_sms_on_a_friday_evening_waits_for_monday(
    live: LiveApp, session_factory: sessionmaker[Session], runtime: Runtime, telegram: FakeTelegram
) -> None:
    cast(session_factory)
    live.at(FRIDAY_EVENING)
    live.sms("Tak for sidst, hvornår er næste besøg?")
    await runtime.tick(FRIDAY_EVENING + timedelta(minutes=10))
    assert alerts(telegram, LEAD_CHAT, PARENT) == []
    await runtime.tick(at_local(2026, 3, 9, 8, 10))
    assert len(alerts(telegram, LEAD_CHAT, PARENT)) == 1


async def test_a_bot_failure_on_a_friday_evening_reaches_the_coordinator_at_once(
    session_factory: sessionmaker[Session], runtime: Runtime, telegram: FakeTelegram
) -> None:
    cast(session_factory)
    with session_factory.begin() as session:
        # As bot.app records a failed update: no match, no severity given.
        raise_escalation(
            session, None, "bot_error", now=FRIDAY_EVENING, evidence={"error": "KeyError"}
        )
    await runtime.tick(FRIDAY_EVENING + timedelta(seconds=1))
    (alert,) = alerts(telegram, COORDINATOR_CHAT)
    assert alert.startswith("‼️ HASTER – Botten fik en fejl\n")
    assert "Botten fik en fejl, mens den svarede en bruger." in alert and "#" not in alert
    assert alerts(telegram, LEAD_CHAT) == []


async def test_a_case_without_a_staff_member_goes_to_the_coordinator_and_her_digest(
    session_factory: sessionmaker[Session], runtime: Runtime, telegram: FakeTelegram
) -> None:
    match_id = cast(session_factory)
    with session_factory.begin() as session:
        match = session.get(Match, match_id)
        assert match is not None
        match.staff_id = None
    start = at_local(2026, 3, 3, 10, 0)
    raise_now(session_factory, match_id, "low_mood", Severity.NORMAL, start)
    await runtime.tick(start + timedelta(minutes=6))
    (alert,) = alerts(telegram, COORDINATOR_CHAT)
    assert "Barn A og Familien Eksempel" in alert
    assert alerts(telegram, LEAD_CHAT) == []
    await runtime.tick(at_local(2026, 3, 4, 8, 0))
    digest = to_chat(telegram, COORDINATOR_CHAT, "Dagens overblik")[-1]["text"]
    assert "Besøgene er gået dårligt" in digest and "Barn A & Familien Eksempel" in digest


async def test_a_case_nobody_can_be_told_of_is_not_counted_as_sent(
    session_factory: sessionmaker[Session],
    runtime: Runtime,
    db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    match_id = cast(session_factory, lead_telegram=False)
    with session_factory.begin() as session:
        for staff in session.scalars(select(Staff)):
            staff.email, staff.telegram_chat_id = None, None
    start = at_local(2026, 3, 3, 10, 0)
    case_id = raise_now(session_factory, match_id, "worry", Severity.URGENT, start)
    caplog.set_level(logging.WARNING)
    await runtime.tick(start)
    with session_factory() as session:
        assert session.get(Escalation, case_id).push_count == 0  # type: ignore[union-attr]
    assert f"case {case_id}: nobody can be told of it" in caplog.text
    assert "Barnet virkede bange" not in caplog.text and "@" not in caplog.text
    listed = CliRunner().invoke(
        main, ["escalations"], obj=AppContext(env={"VENSKAB_DATABASE_URL": db_url})
    )
    assert "ikke sendt til nogen endnu" in listed.output
    assert "sendt til medarbejdere" not in listed.output


async def test_news_on_a_case_whose_pushes_are_used_up_is_pushed_once_more(
    session_factory: sessionmaker[Session], runtime: Runtime, telegram: FakeTelegram
) -> None:
    match_id = cast(session_factory)
    start = at_local(2026, 3, 3, 10, 0)
    raise_now(session_factory, match_id, "worry", Severity.URGENT, start)
    moment = start
    while moment <= start + timedelta(days=1):
        await runtime.tick(moment)
        moment += timedelta(minutes=30)
    assert len(alerts(telegram, LEAD_CHAT, WORRY)) == 3  # the policy is used up
    night = at_local(2026, 3, 4, 22, 0)
    await runtime.tick(night)
    assert len(alerts(telegram, LEAD_CHAT, WORRY)) == 3
    raise_now(session_factory, match_id, "worry", Severity.URGENT, night)  # a second worry
    await runtime.tick(night + timedelta(seconds=1))
    lead = alerts(telegram, LEAD_CHAT, WORRY)
    assert len(lead) == 4 and "2 gange" in lead[-1]
    assert len(alerts(telegram, COORDINATOR_CHAT, WORRY)) == 3
    for hours in range(1, 48):
        await runtime.tick(night + timedelta(hours=hours))
    assert len(alerts(telegram, LEAD_CHAT, WORRY)) == 4  # once, not again and again
