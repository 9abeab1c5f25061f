"""The bounded escalation policy, end to end through the real Telegram channel (the fake Bot
API) and real SMTP (aiosmtpd), with an injected clock: each step the programme names is pushed
once, then nothing; a snoozed case is silent until its date; long evidence still fits."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from followup.alerts import snooze
from followup.escalations import EVIDENCE_KEPT, raise_escalation
from followup.yearplan import fmt_date
from store.models import Escalation, Match, Severity
from tests.fakes.telegram import FakeTelegram
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
from venskab.runtime import Runtime

__all__ = ["mailbox", "runtime", "telegram"]  # the fixtures, shared with test_followup

WORRY = "er bekymret for Barn A."


def alerts_to(telegram: FakeTelegram, chat: int) -> list[str]:
    return [p["text"] for p in to_chat(telegram, chat, WORRY) if "Dagens overblik" not in p["text"]]


async def test_an_unacknowledged_urgent_case_gets_exactly_the_policy_pushes_over_a_week(
    session_factory: sessionmaker[Session],
    runtime: Runtime,
    telegram: FakeTelegram,
    mailbox: tuple[Mailbox, int],
) -> None:
    match_id = cast(session_factory)
    start = at_local(2026, 3, 3, 10, 0)  # a Tuesday
    raise_now(session_factory, match_id, "worry", Severity.URGENT, start)
    moment = start
    pushed_at: dict[int, list[timedelta]] = {LEAD_CHAT: [], COORDINATOR_CHAT: []}
    while moment <= start + timedelta(days=7):
        seen = {chat: len(alerts_to(telegram, chat)) for chat in pushed_at}
        await runtime.tick(moment)
        for chat, times in pushed_at.items():
            times += [moment - start] * (len(alerts_to(telegram, chat)) - seen[chat])
        moment += timedelta(minutes=30)
    # urgent: the staff member at once, the coordinators (and the staff member) after 2 h and
    # once more after 4 h, then no more pushes.
    hours = timedelta(hours=1)
    assert pushed_at[LEAD_CHAT] == [0 * hours, 2 * hours, 4 * hours]
    assert pushed_at[COORDINATOR_CHAT] == [2 * hours, 4 * hours]
    lead, coordinator = alerts_to(telegram, LEAD_CHAT), alerts_to(telegram, COORDINATOR_CHAT)
    assert "påmindelse" not in lead[0] and "påmindelse 2, ikke kvitteret endnu" in lead[2]
    assert "Vi sender ikke flere påmindelser" in coordinator[-1]
    # In Danish only, with a link to the case and no internal numbers.
    first = to_chat(telegram, LEAD_CHAT, WORRY)[0]
    labels = [b["text"] for row in first["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["✓ Kvittér", "⏸ Udsæt", "✅ Afslut"]
    assert "Se sagen: http://127.0.0.1:8000/ack/" in lead[0]
    assert "#" not in lead[0] and "match" not in lead[0]
    mails = [m for m in mailbox[0].to("procesleder@example.org") if "HASTER" in str(m["Subject"])]
    assert len(mails) == 3
    assert str(mails[0]["Subject"]) == "HASTER: Familien Eksempel er bekymret for Barn A."
    theirs = [m for m in mailbox[0].to("koordinator@example.org") if "HASTER" in str(m["Subject"])]
    assert len(theirs) == 2
    # Used up, but still open and visible: in the digest, once, with its age.
    with session_factory() as session:
        case = session.scalars(select(Escalation).where(Escalation.rule == "worry")).one()
        assert case.status.value == "open" and case.push_count == 3
    digests = [p["text"] for p in to_chat(telegram, LEAD_CHAT, "Dagens overblik")]
    assert digests and "HASTER: Venskabsfamilien er bekymret for barnet" in digests[-1]
    assert "(åben 7 dage)" in digests[-1] and digests[-1].count("bekymret") == 1


async def test_the_steps_keep_their_times_from_the_first_push_when_one_went_out_late(
    session_factory: sessionmaker[Session], runtime: Runtime, telegram: FakeTelegram
) -> None:
    match_id = cast(session_factory)
    start = at_local(2026, 3, 3, 10, 0)
    raise_now(session_factory, match_id, "worry", Severity.URGENT, start)
    await runtime.tick(start)
    # Down from 10:30 to 12:30: the 2-hour push goes out half an hour late.
    for moment in (start + timedelta(hours=2, minutes=30), start + timedelta(hours=3, minutes=59)):
        await runtime.tick(moment)
    assert len(alerts_to(telegram, COORDINATOR_CHAT)) == 1
    await runtime.tick(start + timedelta(hours=4))  # 4 hours after the first, not after 12:30
    assert len(alerts_to(telegram, COORDINATOR_CHAT)) == 2


async def test_a_normal_case_gets_one_reminder_a_working_day_later_and_then_only_the_digest(
    session_factory: sessionmaker[Session], runtime: Runtime, telegram: FakeTelegram
) -> None:
    match_id = cast(session_factory)
    friday = at_local(2026, 3, 6, 10, 0)
    raise_now(session_factory, match_id, "message_from_parent", Severity.NORMAL, friday)
    moment = friday
    while moment <= friday + timedelta(days=10):
        await runtime.tick(moment)
        moment += timedelta(hours=1)
    pushes = [
        p["text"]
        for p in to_chat(telegram, LEAD_CHAT, "Forælderen har skrevet til os.")
        if "Dagens overblik" not in p["text"]
    ]
    assert len(pushes) == 2  # Friday, and Monday (the next working day)
    assert to_chat(telegram, COORDINATOR_CHAT, "Forælderen har skrevet") == []


async def test_a_snoozed_case_is_silent_until_its_date_then_reminds_once(
    session_factory: sessionmaker[Session], runtime: Runtime, telegram: FakeTelegram
) -> None:
    match_id = cast(session_factory)
    start = at_local(2026, 3, 3, 10, 0)
    case_id = raise_now(session_factory, match_id, "worry", Severity.URGENT, start)
    await runtime.tick(start)
    assert len(alerts_to(telegram, LEAD_CHAT)) == 1
    until = at_local(2026, 3, 6, 9, 0)
    with session_factory.begin() as session:
        snooze(session, case_id, None, until, start + timedelta(minutes=5), "test")
    moment = start + timedelta(minutes=30)
    while moment < until:
        await runtime.tick(moment)
        moment += timedelta(hours=1)
    assert len(alerts_to(telegram, LEAD_CHAT)) == 1
    assert alerts_to(telegram, COORDINATOR_CHAT) == []
    for hours in range(0, 48, 2):
        await runtime.tick(until + timedelta(hours=hours))
    assert len(alerts_to(telegram, LEAD_CHAT)) == 2
    assert alerts_to(telegram, COORDINATOR_CHAT) == []


async def test_three_long_family_messages_give_a_short_telegram_alert_that_is_delivered(
    session_factory: sessionmaker[Session], runtime: Runtime, telegram: FakeTelegram
) -> None:
    match_id = cast(session_factory)
    start = at_local(2026, 3, 3, 10, 0)
    with session_factory.begin() as session:
        match = session.get(Match, match_id)
        for n in range(3):
            text = f"Besked {n}: " + " ".join(["Vi er lidt i tvivl om weekenden."] * 62)
            assert len(text) >= 2000
            raise_escalation(
                session,
                match,
                "message_from_family",
                now=start + timedelta(minutes=n),
                evidence={"text": text, "channel": "sms", "message_sid": f"SM{n}"},
            )
    await runtime.tick(start + timedelta(minutes=5))
    alerts = to_chat(telegram, LEAD_CHAT, "har skrevet til os")
    assert len(alerts) == 1
    text = alerts[0]["text"]
    assert len(text) < 1000
    assert 'Seneste besked: "Besked 2: Vi er lidt i tvivl' in text and "…" in text
    assert "3 gange" in text
    for internal in ("message_sid", "SM2", "channel:", "ref:"):
        assert internal not in text


async def test_evidence_stays_small_however_often_a_case_hears_news(
    session_factory: sessionmaker[Session],
) -> None:
    match_id = cast(session_factory)
    start = at_local(2026, 3, 3, 10, 0)
    with session_factory.begin() as session:
        match = session.get(Match, match_id)
        for n in range(40):
            raise_escalation(
                session,
                match,
                "message_from_family",
                now=start + timedelta(hours=n),
                evidence={"text": f"besked {n}"},
            )
    with session_factory() as session:
        case = session.scalars(select(Escalation)).one()
        assert case.evidence_count == 40
        assert [e["text"] for e in case.evidence] == [
            f"besked {n}" for n in range(40 - EVIDENCE_KEPT, 40)
        ]


def test_the_command_line_snoozes_a_case_and_lists_it_as_snoozed(
    session_factory: sessionmaker[Session], db_url: str
) -> None:
    from click.testing import CliRunner

    from venskab.cli import main
    from venskab.cli.common import AppContext

    match_id = cast(session_factory)
    case_id = raise_now(
        session_factory, match_id, "worry", Severity.URGENT, at_local(2026, 3, 3, 10, 0)
    )
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url})
    bad = CliRunner().invoke(main, ["snooze", str(case_id), "--until", "next week"], obj=app)
    assert bad.exit_code == 2 and "er ikke en ISO-dato" in bad.output
    past = CliRunner().invoke(main, ["snooze", str(case_id), "--until", "2020-01-01"], obj=app)
    assert past.exit_code == 2 and "udsættelsen skal slutte i fremtiden" in past.output
    until = (app.now() + timedelta(days=3)).date().isoformat()
    done = CliRunner().invoke(main, ["snooze", str(case_id), "--until", until], obj=app)
    assert done.exit_code == 0, done.output
    listed = CliRunner().invoke(
        main, ["escalations"], obj=AppContext(env={"VENSKAB_DATABASE_URL": db_url})
    )
    day = fmt_date(date.fromisoformat(until), "da", "medium")
    assert f"udsat til {day} 00:00" in listed.output and "(1 henvendelse," in listed.output


async def test_a_reminder_waiting_overnight_survives_the_match_being_replanned(
    session_factory: sessionmaker[Session], runtime: Runtime, telegram: FakeTelegram
) -> None:
    match_id = cast(session_factory)
    start = at_local(2026, 3, 3, 10, 0)
    case_id = raise_now(session_factory, match_id, "worry", Severity.URGENT, start)
    await runtime.tick(start)
    with session_factory.begin() as session:
        snooze(session, case_id, None, at_local(2026, 3, 3, 21, 0), start, "test")
    await runtime.tick(at_local(2026, 3, 3, 21, 30))  # the reminder waits for the morning
    with session_factory.begin() as session:
        match = session.get(Match, match_id)
        assert match is not None
        match.plan_version += 1  # a contact changed: the match's timeline is planned again
    await runtime.tick(at_local(2026, 3, 3, 23, 0))
    assert len(alerts_to(telegram, LEAD_CHAT)) == 1
    await runtime.tick(at_local(2026, 3, 4, 8, 0))
    assert len(alerts_to(telegram, LEAD_CHAT)) == 2  # the one reminder, in working hours
