"""Stops and starts as an operator sees them, with real processes: ``venskab tick`` stopped
mid-dispatch by SIGTERM and by SIGKILL while it paces SMS at Twilio's 1 segment a second, and
replicas that start together on an empty database. Each prints its figures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from followup.escalations import raise_escalation
from scheduler.planner import plan_all
from store.models import Escalation, OutboxMessage, OutboxStatus
from tests.fakes.twilio import FakeTwilio
from tests.support.cast import PROGRAMMES, make_match

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
VENSKAB = Path(sys.executable).parent / "venskab"
SID = "AC" + "5" * 32
TOKEN = "twilio-test-token"
START = datetime(2026, 3, 1, 12, tzinfo=UTC)
WELCOME_TIME = datetime(2026, 3, 2, 17, 5, tzinfo=UTC)
LATER = datetime(2026, 3, 9, 9, tzinfo=UTC)
COUNT = 8


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VENSKAB_", "TWILIO_", "TELEGRAM_", "SMTP_"))
    }
    env.update(extra)
    return env


def tick(env: dict[str, str], now: datetime) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(VENSKAB), "tick", "--now", now.isoformat()],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def families(engine: Engine, factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        for number in range(COUNT):
            match = make_match(
                session, "familien-i-fokus", telegram_chat_id=None, family_email=None
            )
            match.volunteer_family.phone = f"+45201250{number:02d}"
    plan_all(engine, factory, PROGRAMMES, START, report=raise_escalation)
    with factory.begin() as session:  # the welcome SMS alone: the sparring invitation later
        for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.touchpoint_id != "welcome")
        ):
            row.due_at = max(row.due_at, LATER)


def statuses(factory: sessionmaker[Session]) -> Counter[OutboxStatus]:
    with factory() as session:
        query = select(OutboxMessage.status).where(OutboxMessage.touchpoint_id == "welcome")
        return Counter(session.scalars(query))


def in_doubt_alerts(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        query = select(Escalation).where(Escalation.rule == "delivery_unknown")
        return sum(len(e.evidence) for e in session.scalars(query))


def stop_after_two(
    env: dict[str, str], twilio: FakeTwilio, signum: int
) -> tuple[subprocess.Popen[str], str, str]:
    process = tick(env, WELCOME_TIME)
    deadline = time.monotonic() + 60
    while len(twilio.messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    return process, out, err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_tick_stopped_mid_dispatch_gives_up_nothing_it_never_sent(
    engine: Engine, session_factory: sessionmaker[Session], db_url: str, signum: int
) -> None:
    families(engine, session_factory)
    with FakeTwilio(TOKEN, account_sid=SID) as twilio:
        env = clean_env(
            VENSKAB_DATABASE_URL=db_url,
            TWILIO_ACCOUNT_SID=SID,
            TWILIO_AUTH_TOKEN=TOKEN,
            TWILIO_FROM="+4520123400",
            TWILIO_API_URL=twilio.url,
        )
        process, _out, err = stop_after_two(env, twilio, signum)
        sent_before = len(twilio.messages)
        assert sent_before < COUNT
        after_stop = statuses(session_factory)
        if signum == signal.SIGTERM:
            # A clean stop: exit 0, nothing on stderr, nothing left claimed.
            assert process.returncode == 0 and err == ""
            assert after_stop[OutboxStatus.SENDING] == 0
            assert after_stop[OutboxStatus.SENT] == sent_before
        else:
            # Claimed one at a time, just before sending: at most the message in flight and
            # the next one, claimed while the first one's outcome was still being written.
            assert after_stop[OutboxStatus.SENDING] <= 2
        # The next tick, after the lease: the rest goes out, nothing twice.
        restart = tick(env, WELCOME_TIME + timedelta(minutes=10))
        _, err = restart.communicate(timeout=120)
        assert restart.returncode == 0 and err == "", err
        final = statuses(session_factory)
        sends = Counter(m.params["To"] for m in twilio.messages)
        figures = {
            "messages": COUNT,
            "duplicates": sum(n - 1 for n in sends.values()),
            "never sent": COUNT - len(sends),
            "unknown": final[OutboxStatus.UNKNOWN],
            "false alerts": in_doubt_alerts(session_factory) - final[OutboxStatus.UNKNOWN],
        }
        print(f"\n{signal.Signals(signum).name} mid-dispatch: {figures}")
        assert figures["duplicates"] == 0 and figures["false alerts"] == 0
        if signum == signal.SIGTERM:
            assert figures["unknown"] == figures["never sent"] == 0
            assert final == {OutboxStatus.SENT: COUNT}
        else:
            assert figures["unknown"] <= 2
            assert figures["never sent"] <= figures["unknown"]
            assert final[OutboxStatus.SENT] + final[OutboxStatus.UNKNOWN] == COUNT


def test_a_sigkill_while_twilio_holds_an_sms_records_it_sent_after_the_restart(
    engine: Engine, session_factory: sessionmaker[Session], db_url: str
) -> None:
    """The message in flight when the process is killed reached Twilio: the next tick asks
    Twilio (the SMS channel's reconciliation) and records it sent, not ``unknown``."""
    families(engine, session_factory)
    with FakeTwilio(TOKEN, account_sid=SID) as twilio:
        env = clean_env(
            VENSKAB_DATABASE_URL=db_url,
            TWILIO_ACCOUNT_SID=SID,
            TWILIO_AUTH_TOKEN=TOKEN,
            TWILIO_FROM="+4520123400",
            TWILIO_API_URL=twilio.url,
        )
        process = tick(env, WELCOME_TIME)
        deadline = time.monotonic() + 60
        while len(twilio.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        twilio.fail_next(delay=4.0)  # the third SMS: Twilio takes it, but only after 4 s
        twilio.wait_until_failures_taken()  # the third is at Twilio now, held
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        killed = statuses(session_factory)
        while len(twilio.messages) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)  # Twilio finishes the one it was holding
        restart = tick(env, WELCOME_TIME + timedelta(minutes=10))
        _, err = restart.communicate(timeout=120)
        assert restart.returncode == 0 and err == "", err
        final = statuses(session_factory)
        sends = Counter(m.params["To"] for m in twilio.messages)
        figures = {
            "messages": COUNT,
            "duplicates": sum(n - 1 for n in sends.values()),
            "never sent": COUNT - len(sends),
            "unknown": final[OutboxStatus.UNKNOWN],
            "false alerts": in_doubt_alerts(session_factory),
        }
        print(f"\nSIGKILL with an SMS held at Twilio: {figures} (left sending: {killed})")
    assert killed[OutboxStatus.SENDING] == 1  # the kill did catch a message in flight
    assert figures == {
        "messages": COUNT,
        "duplicates": 0,
        "never sent": 0,
        "unknown": 0,
        "false alerts": 0,
    }
    assert final == {OutboxStatus.SENT: COUNT}


def test_replicas_starting_together_on_an_empty_database_all_come_up(
    db_url: str, tmp_path: Path
) -> None:
    if db_url.startswith("postgresql"):
        # An empty schema of our own in the test database: the race is on its catalog.
        admin = create_engine(db_url)
        with admin.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS startup_race CASCADE"))
            connection.execute(text("CREATE SCHEMA startup_race"))
        url = db_url + ("&" if "?" in db_url else "?") + "options=-csearch_path%3Dstartup_race"
    else:
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    try:
        replicas = [
            subprocess.Popen(
                [str(VENSKAB), "db", "upgrade"],
                env=clean_env(VENSKAB_DATABASE_URL=url),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        results = [(r.wait(timeout=120), r.communicate()[1]) for r in replicas]
        print(f"\nreplicas started together: exit codes {[code for code, _ in results]}")
        assert [code for code, _ in results] == [0, 0, 0], results
        checked = create_engine(url)
        with checked.connect() as connection:
            versions = connection.execute(text("SELECT count(*) FROM alembic_version")).scalar()
            outbox = connection.execute(select(func.count()).select_from(OutboxMessage)).scalar()
        checked.dispose()
        assert versions == 1 and outbox == 0
    finally:
        if db_url.startswith("postgresql"):
            with admin.begin() as connection:
                connection.execute(text("DROP SCHEMA IF EXISTS startup_race CASCADE"))
            admin.dispose()
