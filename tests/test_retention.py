"""Retention with an injected clock: contact details go 3 months after a person's last match
ends (not while they are in another match), free text 12 months after; a dry run shows exactly
what would go and changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from followup.retention import RetentionPolicy, run_retention
from followup.survey_defs import default_surveys
from store.models import (
    AuditEntry,
    CheckIn,
    ContactPerson,
    Escalation,
    OutboxMessage,
    SurveyResponse,
    Visit,
    VolunteerFamily,
    WebhookReceipt,
)
from tests.support.cast import make_match
from tests.test_cli import cli
from tests.test_export_erasure_complete import FAMILY, PARENT, everything, seed

ENDED = date(2026, 6, 1)  # the seeded match ends on this day


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 3, 15, tzinfo=UTC)


def retain(
    factory: sessionmaker[Session], day: date, *, dry_run: bool = False, **policy: int
) -> dict[str, int]:
    with factory.begin() as session:
        report = run_retention(
            session, at(day), day, default_surveys(), RetentionPolicy(**policy), dry_run=dry_run
        )
    return {k: v for k, v in report.counts.items() if v}


def details(factory: sessionmaker[Session]) -> tuple[object, ...]:
    with factory() as session:
        family = session.scalars(select(VolunteerFamily).order_by(VolunteerFamily.id)).first()
        parent = session.scalars(select(ContactPerson).order_by(ContactPerson.id)).first()
        assert family is not None and parent is not None
        return family.phone, family.email, family.telegram_chat_id, parent.phone, parent.email


def test_contact_details_go_three_months_after_the_last_match_ends(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        seed(session)
    kept = details(session_factory)
    assert kept == (
        "+4520123411",
        "familie@example.org",
        5001,
        "+4520123421",
        "foraelder@example.org",
    )

    assert retain(session_factory, ENDED + timedelta(days=90)) == {}
    assert details(session_factory) == kept

    due = ENDED + timedelta(days=93)
    assert retain(session_factory, due, dry_run=True) == {
        "family_contact_details": 1,
        "contact_person_details": 1,
        "bot_state": 1,
    }
    assert details(session_factory) == kept  # a dry run changes nothing
    assert retain(session_factory, due) == {
        "family_contact_details": 1,
        "contact_person_details": 1,
        "bot_state": 1,
    }
    assert details(session_factory) == (None, None, None, None, None)
    text = everything_text(session_factory)
    assert FAMILY["checkin"] in text and PARENT["answer"] in text  # free text is not due yet
    with session_factory() as session:
        runs = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.run")).all()
    assert [r.details["family_contact_details"] for r in runs] == [1]


def test_a_parent_in_another_running_match_keeps_their_details(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        seed(session)
        parent = session.scalars(select(ContactPerson).order_by(ContactPerson.id)).one()
        other = make_match(session, telegram_chat_id=5002)
        other.contacts.append(parent)
        parent_id = parent.id
    assert retain(session_factory, ENDED + timedelta(days=200)) == {
        "family_contact_details": 1,
        "bot_state": 1,
    }
    with session_factory() as session:
        kept = session.get(ContactPerson, parent_id)
        assert kept is not None and kept.phone == "+4520123421"


def test_free_text_goes_twelve_months_after_the_match_ends_and_the_statistics_stay(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        seed(session)
        session.add(WebhookReceipt(provider="twilio-sms", key="SM1", received_at=at(ENDED)))
    early = retain(session_factory, date(2027, 5, 31))
    assert "checkin_texts_cleared" not in early and early["webhook_receipts"] == 1

    due = date(2027, 6, 1)
    planned = retain(session_factory, due, dry_run=True)
    assert FAMILY["checkin"] in everything_text(session_factory)
    done = retain(session_factory, due)
    assert done == planned
    assert done["checkin_texts_cleared"] == 1 and done["visit_notes_cleared"] == 1
    assert done["messages_cleared"] == 2 and done["survey_texts"] == 1
    assert done["escalations_cleared"] == 2

    text = everything_text(session_factory)
    leftovers = [
        t
        for t in [*FAMILY.values(), *PARENT.values()]
        if t in text and t not in (FAMILY["record"], PARENT["record"])
    ]
    assert leftovers == []
    with session_factory() as session:
        assert [c.mood for c in session.scalars(select(CheckIn))] == [4]
        assert len(session.scalars(select(Visit)).all()) == 1
        assert len(session.scalars(select(OutboxMessage)).all()) == 2
        assert len(session.scalars(select(Escalation)).all()) == 2
        assert session.scalars(select(SurveyResponse)).all() == []
    assert retain(session_factory, due + timedelta(days=1)) == {}  # nightly: nothing more


def test_venskab_retention_dry_run_shows_what_would_go(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        seed(session)
    result = cli(db_url, "retention", "--dry-run", now=at(date(2027, 6, 2)))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("retention would clear: ")
    assert (
        "checkin_texts_cleared 1" in result.output and "family_contact_details 1" in result.output
    )
    assert FAMILY["checkin"] in everything_text(session_factory)
    done = cli(db_url, "retention", now=at(date(2027, 6, 2)))
    assert done.output.startswith("retention cleared: ")
    assert FAMILY["checkin"] not in everything_text(session_factory)


def everything_text(factory: sessionmaker[Session]) -> str:
    with factory() as session:
        return everything(session)


def test_the_nightly_job_clears_what_is_due_as_of_its_clock(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    from venskab.cli.common import AppContext
    from venskab.runtime import Runtime

    with session_factory.begin() as session:
        seed(session)
    app = AppContext(
        env={"VENSKAB_DATABASE_URL": db_url, "VENSKAB_RETENTION_TEXT_MONTHS": "6"},
        now_override=at(date(2026, 12, 2)),
    )
    try:
        described = Runtime(app).retention(at(date(2026, 12, 2)))
    finally:
        app.close()
    assert described.startswith("retention cleared: ") and "checkin_texts_cleared 1" in described
    assert FAMILY["checkin"] not in everything_text(session_factory)
