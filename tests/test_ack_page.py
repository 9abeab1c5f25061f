"""The page behind an alert email's link: it shows what is being acknowledged, in the staff
member's language, and acknowledges, snoozes or resolves only on a POST from its own form.
Through the real web app over a socket."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from followup.alerts import ack_token
from followup.escalations import raise_escalation
from scheduler.links import secret_for
from store.models import Escalation, EscalationStatus, Locale, ResolutionOutcome, Severity
from tests.conftest import free_port
from tests.support.cast import make_match
from tests.support.webserver import serving
from venskab.cli.common import AppContext
from web.ack import ACK_THROTTLE
from web.app import create_app

OPENED = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # 10:00 in Copenhagen
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def a_case(factory: sessionmaker[Session], locale: str = "da") -> tuple[int, str]:
    """A worry on a match, and the link token of its staff member."""
    with factory.begin() as session:
        match = make_match(session)
        assert match.staff is not None
        match.staff.locale = Locale(locale)
        escalation = raise_escalation(
            session,
            match,
            "worry",
            now=OPENED,
            severity=Severity.URGENT,
            evidence={"text": "Barnet virkede bange"},
        )
        token = ack_token(secret_for(session, None), escalation.id, match.staff.id)
        return escalation.id, token


def state(factory: sessionmaker[Session], escalation_id: int) -> Escalation:
    with factory() as session:
        found = session.get(Escalation, escalation_id)
        assert found is not None
        return found


@pytest.fixture
def base(db_url: str) -> Iterator[str]:
    context = AppContext(env={"VENSKAB_DATABASE_URL": db_url})
    context.now_override = NOW
    ACK_THROTTLE._seen.clear()  # each test is a new visitor: the link's throttle starts afresh
    with serving(create_app(context.services), free_port()) as url:
        yield url


@pytest.mark.parametrize(
    ("locale", "shown"),
    [
        (
            "da",
            [
                "Venskabsfamilien er bekymret for barnet",
                "Barn A · Familien Eksempel",
                "3. marts 2026 kl. 10:00",
                "Kvittér",
                "Udsæt sagen",
                "3 dage",
                "2 uger",
                'min="2026-03-05" max="2026-05-03"',
                "Hvordan endte det?",
                "Underretning sendt til kommunen",
                "Afslut sagen",
            ],
        ),
        (
            "en",
            [
                "The volunteer family is worried about the child",
                "Barn A · Familien Eksempel",
                "3 March 2026, 10:00",
                "Acknowledge",
                "Snooze the case",
                "3 days",
                "2 weeks",
                'min="2026-03-05" max="2026-05-03"',
                "How did it end?",
                "Report of concern filed with the municipality",
                "Resolve the case",
            ],
        ),
    ],
)
def test_the_link_shows_what_is_being_acknowledged_and_changes_nothing(
    session_factory: sessionmaker[Session], base: str, locale: str, shown: list[str]
) -> None:
    escalation_id, token = a_case(session_factory, locale)

    page = httpx.get(f"{base}/ack/{token}")

    assert page.status_code == 200
    for text in shown:
        assert text in page.text
    assert "Barnet virkede bange" not in page.text  # the family's words stay in the alert
    assert state(session_factory, escalation_id).status == EscalationStatus.OPEN


def test_acknowledge_then_resolve_with_an_outcome(
    session_factory: sessionmaker[Session], base: str
) -> None:
    escalation_id, token = a_case(session_factory)

    done = httpx.post(f"{base}/ack/{token}", data={"action": "ack"})
    assert done.status_code == 200 and "Sagen er kvitteret" in done.text
    assert "Afslut sagen" in done.text  # it can be resolved from here too
    missing = httpx.post(f"{base}/ack/{token}", data={"action": "resolve", "note": "Talt"})
    assert missing.status_code == 400 and "Vælg, hvordan sagen endte" in missing.text
    assert state(session_factory, escalation_id).status == EscalationStatus.ACKNOWLEDGED
    resolved = httpx.post(
        f"{base}/ack/{token}",
        data={"action": "resolve", "outcome": "reported", "note": "Underretning sendt i dag."},
    )
    assert resolved.status_code == 200 and "Sagen er afsluttet" in resolved.text

    case = state(session_factory, escalation_id)
    assert case.status == EscalationStatus.RESOLVED
    assert case.resolution_outcome == ResolutionOutcome.REPORTED
    assert case.resolution_note == "Underretning sendt i dag."
    again = httpx.get(f"{base}/ack/{token}")
    assert again.status_code == 409 and "allerede afsluttet" in again.text
    assert "<form" not in again.text


def test_resolve_with_an_outcome_and_no_note(
    session_factory: sessionmaker[Session], base: str
) -> None:
    escalation_id, token = a_case(session_factory, "en")

    resolved = httpx.post(f"{base}/ack/{token}", data={"action": "resolve", "outcome": "no_action"})

    assert resolved.status_code == 200 and "The case is resolved" in resolved.text
    case = state(session_factory, escalation_id)
    assert (case.resolution_outcome, case.resolution_note) == (ResolutionOutcome.NO_ACTION, None)


@pytest.mark.parametrize(
    ("form", "shown", "until"),
    [
        ({"days": "3"}, "Sagen er udsat til lørdag 7. marts", NOW + timedelta(days=3)),
        ({}, "Sagen er udsat til onsdag 11. marts", NOW + timedelta(days=7)),
        # A chosen day: from its start, in the staff member's zone (Copenhagen, UTC+1).
        (
            {"days": "7", "until": "2026-03-20"},
            "Sagen er udsat til fredag 20. marts",
            datetime(2026, 3, 19, 23, 0, tzinfo=UTC),
        ),
    ],
)
def test_snooze_for_a_chosen_span_or_until_a_day_from_the_link(
    session_factory: sessionmaker[Session],
    base: str,
    form: dict[str, str],
    shown: str,
    until: datetime,
) -> None:
    escalation_id, token = a_case(session_factory)

    snoozed = httpx.post(f"{base}/ack/{token}", data={"action": "snooze", **form})

    assert snoozed.status_code == 200 and shown in snoozed.text
    case = state(session_factory, escalation_id)
    assert case.status == EscalationStatus.OPEN
    assert case.snoozed_until is not None
    assert case.snoozed_until.replace(tzinfo=UTC) == until


def test_a_snooze_day_outside_tomorrow_to_60_days_ahead_is_refused(
    session_factory: sessionmaker[Session], base: str
) -> None:
    escalation_id, token = a_case(session_factory)

    refused = [
        httpx.post(f"{base}/ack/{token}", data={"action": "snooze", **form})
        for form in (
            {"until": "2026-03-04"},  # today
            {"until": "2026-05-04"},  # 61 days ahead
            {"until": "i morgen"},
            {"days": "5"},  # not one of the offered spans
        )
    ]

    assert [r.status_code for r in refused] == [400] * 4
    assert "en dag fra i morgen og op til 60 dage frem" in refused[0].text
    assert state(session_factory, escalation_id).snoozed_until is None


def test_a_post_from_another_site_or_with_a_forged_token_changes_nothing(
    session_factory: sessionmaker[Session], base: str
) -> None:
    escalation_id, token = a_case(session_factory)

    foreign = httpx.post(
        f"{base}/ack/{token}",
        data={"action": "resolve", "note": "x" * 10},
        headers={"Origin": "https://evil.example"},
    )
    forged = httpx.post(f"{base}/ack/{token[:-2]}AA", data={"action": "ack"})

    assert foreign.status_code == 403 and forged.status_code == 403
    assert "Linket er ikke gyldigt" in forged.text
    assert state(session_factory, escalation_id).status == EscalationStatus.OPEN
