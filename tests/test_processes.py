"""Dispatchers as separate processes: killed mid-batch, and three sharing one outbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from followup.hooks import engine_hooks
from scheduler.channels.sandbox import SandboxChannel
from scheduler.channels.sms import SmsChannel
from scheduler.dispatcher import Dispatcher
from store.models import Escalation, OutboxMessage, OutboxStatus
from tests.fakes.twilio import FakeTwilio
from tests.support.cast import PROGRAMMES, make_match

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SID = "AC" + "2" * 32
TOKEN = "twilio-test-token"
WELCOME_TIME = datetime(2026, 3, 2, 17, 5, tzinfo=UTC)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VENSKAB_", "TWILIO_", "TELEGRAM_", "SMTP_"))
    }
    env.update(extra)
    return env


async def test_a_dispatcher_killed_mid_dispatch_sends_nothing_twice_and_raises_only_what_was_in_flight(
    engine: Engine, session_factory: sessionmaker[Session], db_url: str
) -> None:
    with session_factory.begin() as session:
        for number in range(6):
            match = make_match(
                session, "familien-i-fokus", telegram_chat_id=None, family_email=None
            )
            match.volunteer_family.phone = f"+45201236{number:02d}"
    with FakeTwilio(TOKEN, account_sid=SID) as twilio:
        env = clean_env(
            VENSKAB_DATABASE_URL=db_url,
            TWILIO_ACCOUNT_SID=SID,
            TWILIO_AUTH_TOKEN=TOKEN,
            TWILIO_FROM="+4520123400",
            TWILIO_API_URL=twilio.url,
        )
        venskab = Path(sys.executable).parent / "venskab"
        # Twilio's default pace (1 segment a second) makes the batch take several seconds.
        process = subprocess.Popen(
            [str(venskab), "tick", "--now", WELCOME_TIME.isoformat()],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while len(twilio.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        sent_before = len(twilio.messages)
        assert 2 <= sent_before < 6
        welcome = select(OutboxMessage).where(OutboxMessage.touchpoint_id == "welcome")
        with session_factory() as session:
            left = Counter(r.status for r in session.scalars(welcome))
        # Claimed one at a time just before sending: at most the message in flight is left
        # claimed; the others were never claimed and are still planned.
        assert left[OutboxStatus.SENDING] <= 1
        assert set(left) <= {OutboxStatus.PLANNED, OutboxStatus.SENDING, OutboxStatus.SENT}
        # Restart after the claim lease: the rest goes out, nothing twice, and only the message
        # that was in flight is raised to staff.
        channels: dict[str, Any] = {
            "sms": SmsChannel(
                SID, TOKEN, "+4520123400", api_url=twilio.url, segments_per_second=100
            )
        }
        channels |= {n: SandboxChannel(n) for n in ("email", "telegram", "voice")}
        dispatcher = Dispatcher(
            session_factory,
            PROGRAMMES,
            channels,
            secret="test-secret",
            hooks=engine_hooks(PROGRAMMES, None),
        )
        stats = await dispatcher.run_once(WELCOME_TIME + timedelta(minutes=10))
        await channels["sms"].close()
        # (The sparring invitation goes by SMS too: a duplicate is the same text twice.)
        sends = Counter((m.params["To"], m.params.get("Body")) for m in twilio.messages)
        assert set(sends.values()) == {1}
        with session_factory() as session:
            rows = list(session.scalars(welcome))
            escalations = list(
                session.scalars(select(Escalation).where(Escalation.rule == "delivery_unknown"))
            )
        statuses = Counter(r.status for r in rows)
        # The message in flight was asked about at Twilio: sent if Twilio has it, sent now if
        # not. Nothing is left in doubt and nothing is raised to staff.
        assert statuses == {OutboxStatus.SENT: 6}, stats
        assert stats.unknown == 0 and escalations == []


def test_three_dispatcher_processes_share_ten_thousand_messages_each_sent_exactly_once(
    engine: Engine, session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    count = 10_000
    with session_factory.begin() as session:
        match = make_match(session)
        now = datetime(2026, 3, 3, 12, tzinfo=UTC)
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
                    "channel": "telegram",
                    "locale": "da",
                    "essential": True,
                    "due_at": now - timedelta(minutes=1),
                    "status": "planned",
                    "plan_version": 1,
                    "context": {"reminder": 0},
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(count)
            ],
        )
    record = tmp_path / "sent.txt"
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.dispatch_worker",
                db_url,
                f"worker-{n}",
                now.isoformat(),
                str(record),
            ],
            cwd=ROOT,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(3)
    ]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], outputs
    sends = Counter(record.read_text().split())
    assert len(sends) == count and set(sends.values()) == {1}, (
        "a message was sent twice or not at all"
    )
    with session_factory() as session:
        by_status = dict(
            session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all()
        )
        workers_used = session.scalars(select(OutboxMessage.claimed_by).distinct()).all()
    assert by_status == {OutboxStatus.SENT: count}
    assert len(workers_used) >= 2, f"one worker did everything: {outputs}"
