"""Outcomes are never lost when SQLite cannot write: the disk fills up while SMS are in flight.

A full disk is SQLite's ``SQLITE_FULL`` ("database or disk is full"). The test caps the database
at its current size (``PRAGMA max_page_count``) on every connection for a while, so a write that
needs a new page fails as on a full disk; because an update can fit in a page's free space, it
also refuses every other write (``PRAGMA query_only``), which SQLite reports the same way, as an
``OperationalError``. Sends handed to
Twilio before that keep their outcome until the database can be written again; none is recorded
``unknown``, nothing is sent twice, and the process goes on."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from followup.escalations import raise_escalation
from scheduler.planner import plan_all
from store.db import make_engine, make_session_factory, upgrade
from store.models import OutboxMessage, OutboxStatus
from tests.fakes.twilio import FakeTwilio
from tests.support.cast import PROGRAMMES, make_match
from tests.test_delivery_faults import (
    LATER,
    SID,
    START,
    TOKEN,
    WELCOME_TIME,
    channels_for,
    close,
    dispatcher,
)

pytestmark = pytest.mark.slow

COUNT = 24
FULL_FOR = 4.0  # seconds


class Disk:
    """Makes a SQLite database behave as if its disk were full, and free again."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.full = False
        self.refusals: list[str] = []  # what SQLite said to the writes it refused
        event.listen(engine, "checkout", self._on_checkout)
        event.listen(engine, "handle_error", self._on_error)

    def _on_error(self, context: Any) -> None:
        self.refusals.append(str(context.original_exception))

    def _on_checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        # Below the current size SQLite keeps the current size: no page can be added.
        cursor.execute(f"PRAGMA max_page_count={1 if self.full else 1073741823}")
        cursor.execute(f"PRAGMA query_only={'ON' if self.full else 'OFF'}")
        cursor.close()

    def fill(self) -> None:
        with self.engine.connect() as connection:
            connection.exec_driver_sql("VACUUM")  # no free page or free space left
        self.full = True

    def free(self) -> None:
        self.full = False


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'full.db'}")
    upgrade(engine)
    yield engine, make_session_factory(engine)
    engine.dispose()


async def test_a_full_disk_mid_dispatch_loses_no_outcome(
    sqlite: tuple[Engine, sessionmaker[Session]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scheduler")
    engine, factory = sqlite
    with factory.begin() as session:
        for number in range(COUNT):
            match = make_match(session, telegram_chat_id=None, family_email=None)
            match.volunteer_family.phone = f"+45201270{number:02d}"
    plan_all(engine, factory, PROGRAMMES, START, report=raise_escalation)
    with factory.begin() as session:  # the welcome SMS alone (see test_delivery_faults)
        for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.touchpoint_id != "welcome")
        ):
            row.due_at = max(row.due_at, LATER)
    disk = Disk(engine)
    with FakeTwilio(TOKEN, account_sid=SID) as twilio:
        # Every send takes 1.5 s at Twilio: a group is in flight when the disk fills up.
        twilio.fail_next(delay=1.5, times=COUNT)
        channels = channels_for(twilio)
        running = asyncio.create_task(dispatcher(factory, channels).run_once(WELCOME_TIME))
        deadline = time.monotonic() + 30
        while not twilio.messages and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.to_thread(disk.fill)
        await asyncio.sleep(FULL_FOR)
        disk.free()
        stats = await running
        await close(channels)
        channels = channels_for(twilio)  # the next tick sends whatever was never claimed
        await dispatcher(factory, channels).run_once(WELCOME_TIME + timedelta(minutes=10))
        await close(channels)
        with factory() as session:
            rows = list(
                session.scalars(
                    select(OutboxMessage).where(OutboxMessage.touchpoint_id == "welcome")
                )
            )
    refused = sum("database unavailable" in r.getMessage() for r in caplog.records)
    sends = Counter(m.params["To"] for m in twilio.messages)
    statuses = Counter(r.status for r in rows)
    figures = {
        "messages": COUNT,
        "duplicates": sum(n - 1 for n in sends.values()),
        "never sent": COUNT - len(sends),
        "unknown": statuses[OutboxStatus.UNKNOWN],
        "false alerts": 0,
    }
    print(
        f"\nSQLite disk full {FULL_FOR:.0f} s mid-dispatch: {figures}, outcome writes retried {refused}"
    )
    assert refused > 0, "the disk never looked full: the test proved nothing"
    # Only the refusals of a full disk, never an error of ours.
    assert disk.refusals and set(disk.refusals) <= {
        "database or disk is full",
        "attempt to write a readonly database",
    }
    assert statuses == {OutboxStatus.SENT: COUNT}, stats
    assert figures == {
        "messages": COUNT,
        "duplicates": 0,
        "never sent": 0,
        "unknown": 0,
        "false alerts": 0,
    }
