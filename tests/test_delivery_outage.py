"""Outcomes are never lost: PostgreSQL stopped while messages are in flight, and started again.

The test runs its own PostgreSQL cluster (initdb and pg_ctl on a spare port), so that it can
stop it: sends that were handed to the provider before the database went away keep their
outcome until it is back, and none is recorded ``unknown``."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from followup.escalations import raise_escalation
from followup.hooks import engine_hooks
from scheduler.channels.base import Channel as SendingChannel
from scheduler.channels.sandbox import SandboxChannel
from scheduler.channels.sms import SmsChannel
from scheduler.dispatcher import Dispatcher
from scheduler.planner import plan_all
from store.db import make_engine, make_session_factory, upgrade
from store.models import OutboxMessage, OutboxStatus
from tests.conftest import free_port
from tests.fakes.twilio import FakeTwilio
from tests.support.cast import PROGRAMMES, make_match

pytestmark = pytest.mark.slow

BIN = Path("/usr/lib/postgresql/15/bin")
SID = "AC" + "6" * 32
TOKEN = "twilio-test-token"
START = datetime(2026, 3, 1, 12, tzinfo=UTC)
WELCOME_TIME = datetime(2026, 3, 2, 17, 5, tzinfo=UTC)
LATER = datetime(2026, 3, 9, 9, tzinfo=UTC)
COUNT = 24
OUTAGE = float(os.environ.get("VENSKAB_TEST_OUTAGE_SECONDS", "8"))


class Cluster:
    """A throwaway PostgreSQL cluster (as the postgres user when the tests run as root)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="venskab-pg-"))
        self.port = free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            self.prefix = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self._run(BIN / "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def _run(self, *args: object) -> None:
        subprocess.run(
            [*self.prefix, *map(str, args)], check=True, capture_output=True, timeout=120
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            BIN / "pg_ctl", "-D", self.data, "-o", options, "-l", self.dir / "log", "-w", "start"
        )

    def stop(self) -> None:
        self._run(BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [*self.prefix, str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not (BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15 server binaries are not installed")
    cluster = Cluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


def dispatcher(
    factory: sessionmaker[Session], twilio: FakeTwilio
) -> tuple[Dispatcher, dict[str, SendingChannel]]:
    channels: dict[str, SendingChannel] = {
        "sms": SmsChannel(SID, TOKEN, "+4520123400", api_url=twilio.url, segments_per_second=None),
        **{name: SandboxChannel(name) for name in ("email", "telegram", "voice")},
    }
    d = Dispatcher(
        factory,
        PROGRAMMES,
        channels,
        sandbox=frozenset({"email", "telegram", "voice"}),
        secret="test-secret",
        hooks=engine_hooks(PROGRAMMES, None),
    )
    return d, channels


async def test_a_database_stopped_mid_dispatch_loses_no_outcome(cluster: Cluster) -> None:
    engine = make_engine(cluster.url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        for number in range(COUNT):
            match = make_match(
                session, "familien-i-fokus", telegram_chat_id=None, family_email=None
            )
            match.volunteer_family.phone = f"+45201260{number:02d}"
    plan_all(engine, factory, PROGRAMMES, START, report=raise_escalation)
    with factory.begin() as session:  # the welcome SMS alone: the sparring invitation later
        for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.touchpoint_id != "welcome")
        ):
            row.due_at = max(row.due_at, LATER)
    with FakeTwilio(TOKEN, account_sid=SID) as twilio:
        # Every send takes 1.5 s at Twilio: a group is in flight when the database stops.
        twilio.fail_next(delay=1.5, times=COUNT)
        first, channels = dispatcher(factory, twilio)
        running = asyncio.create_task(first.run_once(WELCOME_TIME))
        deadline = time.monotonic() + 30
        while not twilio.messages and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.to_thread(cluster.stop)
        await asyncio.sleep(OUTAGE)
        await asyncio.to_thread(cluster.start)
        await running
        for channel in channels.values():
            await channel.close()
        # The next tick sends what was never claimed.
        second, channels = dispatcher(factory, twilio)
        await second.run_once(WELCOME_TIME + timedelta(minutes=10))
        for channel in channels.values():
            await channel.close()
        with factory() as session:
            rows = list(
                session.scalars(
                    select(OutboxMessage).where(OutboxMessage.touchpoint_id == "welcome")
                )
            )
    engine.dispose()
    sends = Counter(m.params["To"] for m in twilio.messages)
    statuses = Counter(r.status for r in rows)
    figures = {
        "messages": COUNT,
        "duplicates": sum(n - 1 for n in sends.values()),
        "never sent": COUNT - len(sends),
        "unknown": statuses[OutboxStatus.UNKNOWN],
    }
    print(f"\nPostgreSQL stopped {OUTAGE:.0f} s mid-dispatch: {figures}")
    assert statuses == {OutboxStatus.SENT: COUNT}
    assert figures == {"messages": COUNT, "duplicates": 0, "never sent": 0, "unknown": 0}
