"""Essential messages that expire unsent during a long provider outage reach staff once: one
case and one alert per staff member listing the matches, not one email per match."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from followup import alerts
from store.models import Escalation, Match, OutboxMessage, OutboxStatus
from tests.fakes.twilio import FakeTwilio
from tests.support.cast import PROGRAMMES
from tests.test_delivery_faults import (
    WELCOME_TIME,
    assert_no_personal_data,
    channels_for,
    close,
    debug_log,  # noqa: F401 - a fixture
    dispatcher,
    figures,
    sms_families,
    twilio,  # noqa: F401 - a fixture
    welcome,
)
from tests.test_delivery_faults import (
    alerts as count_cases,
)

FAMILIES = 8


def one_staff_member(factory: sessionmaker[Session]) -> int:
    """Every match in the hands of the first match's staff member."""
    with factory.begin() as session:
        matches = list(session.scalars(select(Match).order_by(Match.id)))
        for match in matches[1:]:
            match.staff_id = matches[0].staff_id
        return int(matches[0].staff_id or 0)


async def test_an_outage_past_the_expiry_raises_one_grouped_alert_per_staff_member(
    engine: Engine,
    session_factory: sessionmaker[Session],
    twilio: FakeTwilio,  # noqa: F811
    debug_log: pytest.LogCaptureFixture,  # noqa: F811
) -> None:
    sms_families(session_factory, engine, FAMILIES)
    staff_id = one_staff_member(session_factory)
    with session_factory.begin() as session:  # the welcome SMS is worth sending for 40 minutes
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.touchpoint_id == "welcome")
            .values(expires_at=WELCOME_TIME + timedelta(minutes=40))
        )
    twilio.set_outage()
    now = WELCOME_TIME
    while now < WELCOME_TIME + timedelta(hours=1):
        channels = channels_for(twilio)
        await dispatcher(session_factory, channels).run_once(now)
        await close(channels)
        with session_factory.begin() as session:  # the tick's alerting step
            alerts.notify(session, now, PROGRAMMES, "Europe/Copenhagen")
        now += timedelta(minutes=5)
    twilio.end_outage()
    with session_factory.begin() as session:  # a normal case's push waits for working hours
        morning = datetime(2026, 3, 3, 7, 30, tzinfo=UTC)  # 08:30 in Copenhagen
        alerts.notify(session, morning, PROGRAMMES, "Europe/Copenhagen")
    rows = welcome(session_factory)
    assert {r.status for r in rows} == {OutboxStatus.EXPIRED}
    assert count_cases(session_factory, "delivery_failed") == 0
    with session_factory() as session:
        cases = list(
            session.scalars(select(Escalation).where(Escalation.rule == "delivery_expired"))
        )
        assert len(cases) == 1
        assert cases[0].staff_id == staff_id and cases[0].match_id is None
        # Every expired message counts; the case keeps the newest few items (kept small).
        assert cases[0].evidence_count == FAMILIES
        listed = [item["match"] for item in cases[0].evidence]
        assert set(listed) <= {r.match_id or 0 for r in rows} and len(set(listed)) == len(listed)
        queued = list(
            session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "alert", OutboxMessage.recipient_id == staff_id
                )
            )
        )
        # One alert on each of the staff member's channels (here: email), not one per match.
        assert len(queued) == len({q.channel for q in queued}) == 1
        result = figures("expired in an outage", FAMILIES, twilio, rows, len(queued) - 1)
        print(f"alerts to the staff member: {len(queued)}, matches listed: {len(listed)}")
        assert result["duplicates"] == 0 and result["unknown"] == 0
        assert_no_personal_data(debug_log, session)
