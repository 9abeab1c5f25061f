"""Retry policy as data: a programme may change a channel's policy and a touchpoint its own
(``retry: {max_interval: 10min, until: 2h}``); the dispatcher follows it over the fake Twilio."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from followup.hooks import engine_hooks
from scheduler.dispatcher import Dispatcher
from scheduler.programme import PROGRAMMES_DIR, Programme, ProgrammeError, parse_programme
from scheduler.retry import DEFAULT_POLICY, policy_for
from store.models import OutboxStatus
from tests.fakes.twilio import FakeTwilio
from tests.support.cast import PROGRAMMES
from tests.test_delivery_faults import (
    WELCOME_TIME,
    alerts,
    channels_for,
    close,
    sms_families,
    twilio,  # noqa: F401 - a fixture
    welcome,
)


def programme_with(
    welcome_retry: dict[str, str] | None, sms: dict[str, str] | None = None
) -> Programme:
    raw = yaml.safe_load(Path(PROGRAMMES_DIR, "hjem-til-os.yaml").read_text(encoding="utf-8"))
    for touchpoint in raw["touchpoints"]:
        if touchpoint["id"] == "welcome" and welcome_retry is not None:
            touchpoint["retry"] = welcome_retry
    if sms is not None:
        raw["retry"] = {"sms": sms}
    return parse_programme(raw)


def test_a_touchpoint_changes_only_what_it_names_of_its_channels_policy() -> None:
    programme = programme_with({"max_interval": "10min"}, sms={"first": "1min", "until": "6h"})
    spec = programme.touchpoint("welcome").retry
    policy = policy_for(DEFAULT_POLICY, programme.retry.get("sms"), spec)  # type: ignore[call-overload]
    assert policy.cap == timedelta(minutes=10)
    assert policy.first == timedelta(minutes=1)
    assert policy.until == timedelta(hours=6)
    assert policy.jitter == DEFAULT_POLICY.jitter
    due = WELCOME_TIME
    assert policy.deadline(due, due + timedelta(days=14)) == due + timedelta(hours=6)
    assert policy.deadline(due, due + timedelta(hours=1)) == due + timedelta(hours=1)
    assert programme_with(None).touchpoint("welcome").retry is None


@pytest.mark.parametrize(
    ("retry", "said"),
    [
        ({"max_interval": "1mo"}, "touchpoint 'welcome', field 'retry.max_interval'"),
        ({"max_interval": "soon"}, "is not a duration"),
        ({"until": "-2h"}, "must be a positive duration"),
        ({"attempts": "5"}, "unknown field"),
    ],
)
def test_a_bad_retry_policy_is_refused_with_the_place_and_the_reason(
    retry: dict[str, str], said: str
) -> None:
    with pytest.raises(ProgrammeError) as refused:
        programme_with(retry)
    assert said in str(refused.value)


async def tries_through_outage(
    factory: sessionmaker[Session], fake: FakeTwilio, programme: Programme
) -> dict[int, list[datetime]]:
    """An hour of HTTP 500s, then an hour of service, ticks every minute: when was each welcome
    SMS tried (the last try of a sent one is its send)?"""
    programmes = {**PROGRAMMES, programme.id: programme}
    tries: dict[int, list[datetime]] = {}
    seen: dict[int, int] = {}
    fake.set_outage()
    now = WELCOME_TIME
    while now < WELCOME_TIME + timedelta(hours=2):
        if now >= WELCOME_TIME + timedelta(hours=1):
            fake.end_outage()
        channels = channels_for(fake)
        await Dispatcher(
            factory,
            programmes,
            channels,
            sandbox=frozenset({"email", "telegram", "voice"}),
            secret="test-secret",
            hooks=engine_hooks(programmes, None),
        ).run_once(now)
        await close(channels)
        for row in welcome(factory):
            if row.attempts != seen.get(row.id, 0):
                seen[row.id] = row.attempts
                tries.setdefault(row.id, []).append(now)
        now += timedelta(minutes=1)
    return tries


def longest_wait(tries: dict[int, list[datetime]]) -> float:
    """The longest wait between two tries of one message, in minutes."""
    return max((b - a).total_seconds() / 60 for times in tries.values() for a, b in pairwise(times))


async def test_a_touchpoints_shorter_interval_tries_more_often_and_sends_soon_after_an_outage(
    engine: Engine,
    session_factory: sessionmaker[Session],
    twilio: FakeTwilio,  # noqa: F811
) -> None:
    sms_families(session_factory, engine, 4)
    shorter = await tries_through_outage(
        session_factory, twilio, programme_with({"max_interval": "10min"})
    )
    rows = welcome(session_factory)
    recovered = WELCOME_TIME + timedelta(hours=1)
    waits = sorted(round((r.sent_at - recovered).total_seconds() / 60) for r in rows if r.sent_at)
    print(
        f"\nmax_interval 10min: longest wait {longest_wait(shorter):.0f} min, sent {waits} min after"
    )
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert longest_wait(shorter) <= 10 * 1.2 + 1  # the cap, its jitter and one tick
    assert max(waits) <= 10 * 1.2 + 1


async def test_the_default_policy_waits_up_to_half_an_hour_between_tries(
    engine: Engine,
    session_factory: sessionmaker[Session],
    twilio: FakeTwilio,  # noqa: F811
) -> None:
    sms_families(session_factory, engine, 4)
    tries = await tries_through_outage(session_factory, twilio, programme_with(None))
    print(f"\ndefault policy: longest wait {longest_wait(tries):.0f} min")
    assert {r.status for r in welcome(session_factory)} == {OutboxStatus.SENT}
    assert longest_wait(tries) >= 30 * 0.8  # what the touchpoint above shortened


async def test_a_touchpoints_until_gives_up_before_its_expiry_and_tells_staff_once(
    engine: Engine,
    session_factory: sessionmaker[Session],
    twilio: FakeTwilio,  # noqa: F811
) -> None:
    sms_families(session_factory, engine, 3)
    await tries_through_outage(session_factory, twilio, programme_with({"until": "20min"}))
    rows = welcome(session_factory)
    assert {r.status for r in rows} == {OutboxStatus.EXPIRED}  # although the expiry is 14 days
    assert not any(r.sent_at for r in rows)
    assert alerts(session_factory, "delivery_expired") == 3  # one per staff member (3 here)
