"""Retention with an injected clock: contact details go 3 months after a person's last match
ends (not while they are in another match), free text 12 months after; a dry run shows exactly
what would go and changes nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from followup.retention import RetentionPolicy, run_retention
from followup.survey_defs import default_surveys
from store.models import (
    Audience,
    AuditEntry,
    Channel,
    CheckIn,
    Child,
    ContactPerson,
    Escalation,
    Match,
    OutboxMessage,
    OutboxStatus,
    Referral,
    SurveyResponse,
    Visit,
    VolunteerFamily,
    WaitStatus,
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
        match = session.scalars(select(Match)).one()
        match.external_ref = "M-7"
        match.volunteer_family.external_ref = "F-7"
        match.contacts[0].external_ref = "K-7"
    result = cli(db_url, "--lang", "en", "retention", "--dry-run", now=at(date(2027, 6, 2)))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("retention would clear: ")
    assert (
        "checkin_texts_cleared 1" in result.output and "family_contact_details 1" in result.output
    )
    # Which matches and people, by their refs; never a name or an address.
    assert "  matches: M-7\n" in result.output
    assert "  volunteer families: F-7\n" in result.output
    assert "  parents and contacts: K-7\n" in result.output
    for personal in ("Familien Eksempel", "Forælder", "+4520123411", "foraelder@example.org"):
        assert personal not in result.output
    danish = cli(db_url, "retention", "--dry-run", now=at(date(2027, 6, 2)))
    assert danish.output.startswith("sletning efter opbevaringstid ville slette: ")
    assert "  venskabsfamilier: F-7\n" in danish.output
    assert "  forældre og kontaktpersoner: K-7\n" in danish.output
    assert FAMILY["checkin"] in everything_text(session_factory)
    done = cli(db_url, "--lang", "en", "retention", now=at(date(2027, 6, 2)))
    assert done.output.startswith("retention cleared: ")
    assert FAMILY["checkin"] not in everything_text(session_factory)
    again = cli(db_url, "--lang", "en", "retention", "--dry-run", now=at(date(2027, 6, 3)))
    assert again.output == "retention: nothing is due\n"


LEFT = date(2026, 5, 1)  # when the never-matched family and the parent left the waiting list
WAITING_NOTE = "Vi tænker stadig på jer"


def waiting_note(key: str, audience: Audience, recipient: int) -> OutboxMessage:
    return OutboxMessage(
        idempotency_key=key,
        match_id=None,
        touchpoint_id="waiting",
        occurrence_key=key,
        kind="waiting_note",
        template="waiting_note",
        audience=audience,
        recipient_id=recipient,
        channel=Channel.SMS,
        due_at=at(LEFT) - timedelta(days=60),
        status=OutboxStatus.SENT,
        body=WAITING_NOTE,
        sent_at=at(LEFT) - timedelta(days=60),
    )


def seed_never_matched(session: Session) -> dict[str, int]:
    """A family and a parent who left the waiting list without a match, and a family and a
    parent still waiting: each with a waiting-list message."""
    programme_id = make_match(session).programme_id
    people: dict[str, int] = {}
    for key, status in (("left", WaitStatus.LEFT), ("waiting", WaitStatus.WAITING)):
        family = VolunteerFamily(
            name=f"Familien {key}",
            contact_name="Voksen",
            phone=f"+45201234{len(people) + 60}",
            external_ref=f"F-{key}",
            status=status,
            status_since=LEFT,
        )
        parent = ContactPerson(
            name=f"Forælder {key}", phone=f"+45201234{len(people) + 70}", external_ref=f"K-{key}"
        )
        session.add_all([family, parent])
        session.flush()
        session.add(
            Referral(
                programme_id=programme_id,
                child=Child(first_name="Barn V", birth_year=2017),
                contact_person_id=parent.id,
                status=status,
                status_since=LEFT,
            )
        )
        session.add_all(
            [
                waiting_note(f"wf-{key}", Audience.VOLUNTEER_FAMILY, family.id),
                waiting_note(f"wp-{key}", Audience.CONTACT_PERSON, parent.id),
            ]
        )
        people[f"family_{key}"], people[f"parent_{key}"] = family.id, parent.id
    session.flush()
    return people


def held(factory: sessionmaker[Session], people: dict[str, int]) -> dict[str, tuple[Any, ...]]:
    with factory() as session:
        found: dict[str, tuple[Any, ...]] = {}
        for key, person_id in people.items():
            model: Any = VolunteerFamily if key.startswith("family") else ContactPerson
            audience = (
                Audience.VOLUNTEER_FAMILY if key.startswith("family") else Audience.CONTACT_PERSON
            )
            person = session.get(model, person_id)
            assert person is not None
            body = session.scalars(
                select(OutboxMessage.body).where(
                    OutboxMessage.audience == audience, OutboxMessage.recipient_id == person_id
                )
            ).one()
            found[key] = (person.phone, body)
        return found


def test_people_who_never_matched_lose_details_and_waiting_texts_after_they_left(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        people = seed_never_matched(session)
    before = held(session_factory, people)
    assert all(phone and body == WAITING_NOTE for phone, body in before.values())

    assert retain(session_factory, LEFT + relativedelta(months=3) - timedelta(days=1)) == {}
    cleared = retain(session_factory, LEFT + relativedelta(months=3))
    assert cleared == {"waiting_family_details": 1, "waiting_contact_details": 1}
    after = held(session_factory, people)
    assert after["family_left"] == (None, WAITING_NOTE)
    assert after["parent_left"] == (None, WAITING_NOTE)
    # Still waiting: nothing goes.
    assert after["family_waiting"] == before["family_waiting"]
    assert after["parent_waiting"] == before["parent_waiting"]

    texts = retain(session_factory, LEFT + relativedelta(months=12))
    assert texts == {"waiting_messages_families": 1, "waiting_messages_contacts": 1}
    after = held(session_factory, people)
    assert after["family_left"] == after["parent_left"] == (None, None)
    assert after["family_waiting"] == before["family_waiting"]
    assert after["parent_waiting"] == before["parent_waiting"]
    assert retain(session_factory, LEFT + relativedelta(months=13)) == {}


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


def test_venskab_run_schedules_retention_at_a_quarter_past_three_and_the_job_clears(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    from venskab.cli.common import AppContext
    from venskab.runtime import Runtime
    from venskab.serving import start_ticks

    with session_factory.begin() as session:
        seed(session)
    night = at(date(2027, 6, 2))
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, now_override=night)

    async def scheduled() -> datetime | None:
        scheduler = start_ticks(Runtime(app))
        scheduler.pause()  # no tick runs: only the retention job, by hand
        try:
            job = scheduler.get_job("retention")
            assert job is not None
            fields = {f.name: str(f) for f in job.trigger.fields}
            assert (fields["hour"], fields["minute"]) == ("3", "15")
            assert str(job.trigger.timezone) == "Europe/Copenhagen"
            first = job.trigger.get_next_fire_time(None, datetime(2027, 6, 1, 12, tzinfo=UTC))
            await job.func()  # as the scheduler runs it, on the app's clock
            return first
        finally:
            scheduler.shutdown(wait=False)

    try:
        first = asyncio.run(scheduled())
    finally:
        app.close()
    assert first is not None and first.astimezone(UTC) == datetime(2027, 6, 2, 1, 15, tzinfo=UTC)
    text = everything_text(session_factory)
    assert FAMILY["checkin"] not in text and "+4520123411" not in text
    with session_factory() as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.run")).all()
