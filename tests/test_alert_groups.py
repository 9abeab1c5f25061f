"""Several new cases for one staff member within a few minutes go out as one message; urgent
news still goes at once. Through the real Telegram channel (fake Bot API) and real SMTP."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from followup.alerts import acknowledge
from store.models import Escalation, Severity
from tests.fakes.telegram import FakeTelegram
from tests.test_followup import (
    LEAD_CHAT,
    Mailbox,
    at_local,
    cast,
    mailbox,
    raise_now,
    runtime,
    telegram,
)
from venskab.runtime import Runtime

__all__ = ["mailbox", "runtime", "telegram"]  # the fixtures, shared with test_followup


def sent_to(telegram: FakeTelegram, chat: int) -> list[dict[str, object]]:
    return [
        p
        for _, p in telegram.sent("sendMessage")
        if p["chat_id"] == chat and "Dagens overblik" not in str(p["text"])
    ]


async def test_new_cases_within_minutes_go_as_one_message_and_a_worry_at_once(
    session_factory: sessionmaker[Session],
    runtime: Runtime,
    telegram: FakeTelegram,
    mailbox: tuple[Mailbox, int],
) -> None:
    match_id = cast(session_factory)
    start = at_local(2026, 3, 3, 10, 0)  # a Tuesday morning
    low_mood = raise_now(session_factory, match_id, "low_mood", Severity.NORMAL, start)
    raise_now(session_factory, match_id, "worry", Severity.URGENT, start + timedelta(minutes=1))
    await runtime.tick(start + timedelta(minutes=1))
    (worry,) = sent_to(telegram, LEAD_CHAT)  # the worry at once, on its own
    assert "HASTER" in str(worry["text"]) and "bekymret for Barn A" in str(worry["text"])

    missed = raise_now(
        session_factory, match_id, "missed_visits", Severity.NORMAL, start + timedelta(minutes=2)
    )
    silent = raise_now(
        session_factory, match_id, "no_visit", Severity.NORMAL, start + timedelta(minutes=3)
    )
    await runtime.tick(start + timedelta(minutes=4))
    assert len(sent_to(telegram, LEAD_CHAT)) == 1  # the first case still waits for company
    with session_factory.begin() as session:
        acknowledge(session, silent, None, start + timedelta(minutes=4), "test")
    await runtime.tick(start + timedelta(minutes=5))

    grouped = sent_to(telegram, LEAD_CHAT)[1:]
    assert len(grouped) == 1
    text = str(grouped[0]["text"])
    lines = [line for line in text.splitlines() if line.startswith("• ")]
    # Also the overdue task the planner found at 10:01: every case that came within minutes.
    assert text.startswith(f"{len(lines)} nye sager\n") and len(lines) == 3
    by_case = {int(line.rsplit("#", 1)[1].rstrip(")")): line for line in lines}
    assert "Besøgene er gået dårligt flere gange i træk" in by_case[low_mood]
    assert "aflyst eller ikke blevet til noget" in by_case[missed]
    assert "Intet besøg" not in text  # acknowledged meanwhile: left out
    markup = grouped[0]["reply_markup"]
    assert isinstance(markup, dict)
    assert [[b["callback_data"] for b in row] for row in markup["inline_keyboard"]] == [
        [f"v1|ack|{case}", f"v1|sn|{case}", f"v1|rv|{case}"] for case in by_case
    ]
    mails = [
        m for m in mailbox[0].to("procesleder@example.org") if "nye sager" in str(m["Subject"])
    ]
    assert len(mails) == 1 and str(mails[0]["Subject"]) == "3 nye sager"
    body = mails[0].get_body(("plain",))
    assert body is not None and body.get_content().count("/ack/") == 3

    # Each case keeps its own policy: one reminder a working day later; due together, the
    # reminders go as one message too, each line with how often and what to do next.
    moment = start + timedelta(minutes=30)
    while moment < start + timedelta(days=2):
        await runtime.tick(moment)
        moment += timedelta(hours=1)
    later = [str(p["text"]) for p in sent_to(telegram, LEAD_CHAT)[2:]]
    assert not any("nye sager" in t for t in later)
    (reminder,) = [t for t in later if "er stadig åbne" in t]
    assert reminder.startswith("3 sager er stadig åbne\n")
    # The worry keeps its own urgent policy; no case is reminded on its own besides.
    assert all("HASTER" in t for t in later if t != reminder)
    reminder_lines = [line for line in reminder.splitlines() if line.startswith("• ")]
    assert len(reminder_lines) == 3 and all("påmindelse 1)" in line for line in reminder_lines)
    for case in by_case:
        assert len([line for line in reminder_lines if f"sag #{case}," in line]) == 1
    assert reminder.count("Næste skridt: Ring til venskabsfamilien") == 2  # low mood, missed visits
    assert reminder.count("Se sagen: http") == 3
    with session_factory() as session:
        assert session.get(Escalation, low_mood).push_count == 2  # type: ignore[union-attr]
