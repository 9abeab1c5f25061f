"""The contact standard: a match whose staff have not been in touch as the programme promises
raises one case, which closes when the missing contacts are recorded."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from followup import watch
from followup.alert_content import _case
from scheduler.render import load, render_loaded
from store.models import Escalation, EscalationStatus, Staff, Task, TaskStatus
from tests.support.cast import PROGRAMMES, make_match
from venskab.cli import main
from venskab.cli.common import AppContext

# Hjem til Os: the first contact with each party within a month of the start (2 March 2026),
# then every 2 months with the volunteer family and every 3 months with the parent.
BEHIND = datetime(2026, 4, 3, 10, tzinfo=UTC)


def cli(db_url: str, now: datetime, *args: str) -> Result:
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, now_override=now)
    return CliRunner().invoke(main, list(args), obj=app)


def evaluate(session_factory: sessionmaker[Session], now: datetime) -> list[Escalation]:
    with session_factory.begin() as session:
        watch.evaluate(session, PROGRAMMES, now)
    with session_factory() as session:
        return list(
            session.scalars(
                select(Escalation)
                .where(Escalation.rule == "contact_overdue")
                .order_by(Escalation.id)
            )
        )


def test_a_match_behind_its_contact_standard_raises_one_case_that_contacts_close(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
    assert evaluate(session_factory, datetime(2026, 4, 1, 10, tzinfo=UTC)) == []  # not yet due

    cases = evaluate(session_factory, BEHIND)
    assert len(cases) == 1 and cases[0].status == EscalationStatus.OPEN
    behind = {b["party"]: b["due"] for b in cases[0].evidence[-1]["behind"]}
    assert behind == {"volunteer_family": "2026-04-02", "contact_person": "2026-04-02"}
    assert len(evaluate(session_factory, BEHIND.replace(hour=18))) == 1  # nothing new to say

    # A call with the family, recorded by hand: the parent is still waiting.
    result = cli(
        db_url, BEHIND, "contact", "add", str(match_id), "--with", "family", "--kind", "call"
    )
    assert result.exit_code == 0, result.output
    assert "en samtale med venskabsfamilien 3. apr. 2026 er noteret" in result.output
    cases = evaluate(session_factory, BEHIND.replace(hour=12))
    assert len(cases) == 1 and cases[0].status == EscalationStatus.OPEN
    assert [b["party"] for b in cases[0].evidence[-1]["behind"]] == ["contact_person"]

    # The call to the parent after the first solo visit, done: that is the parent's contact.
    with session_factory.begin() as session:
        session.add(
            Task(
                match_id=match_id,
                touchpoint_id="first-visit-call",
                kind="call",
                title="Ring til forælderen",
                due_at=datetime(2026, 3, 12, 8, tzinfo=UTC),
                status=TaskStatus.DONE,
                completed_at=datetime(2026, 4, 3, 13, tzinfo=UTC),
            )
        )
    cases = evaluate(session_factory, BEHIND.replace(hour=14))
    assert len(cases) == 1 and cases[0].status == EscalationStatus.RESOLVED

    # Two months after the family's call nobody has called again: a new case, the family only.
    assert len(evaluate(session_factory, datetime(2026, 6, 3, 10, tzinfo=UTC))) == 1
    cases = evaluate(session_factory, datetime(2026, 6, 4, 10, tzinfo=UTC))
    assert [c.status for c in cases] == [EscalationStatus.RESOLVED, EscalationStatus.OPEN]
    assert [b["party"] for b in cases[1].evidence[-1]["behind"]] == ["volunteer_family"]


def test_the_alert_says_with_whom_and_since_when_in_danish_and_english(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    evaluate(session_factory, BEHIND)
    said = {}
    with session_factory() as session:
        case = session.scalars(select(Escalation).where(Escalation.rule == "contact_overdue")).one()
        staff = session.get(Staff, case.staff_id)
        assert staff is not None
        context, _token = _case(session, case, staff, 1, None, "secret", PROGRAMMES)
        for locale in ("da", "en"):
            said[locale] = render_loaded(load("escalation_alert", "email", locale), context).body
    assert (
        "Vi har ikke været i kontakt med venskabsfamilien som lovet (senest 2. apr.)." in said["da"]
    )
    assert "Vi har ikke været i kontakt med forælderen som lovet (senest 2. apr.)." in said["da"]
    assert "in touch with the volunteer family as promised (due by 2 Apr" in said["en"]
    assert "then record the contact" in said["en"]


def test_a_contact_in_the_future_or_for_no_match_is_refused_with_one_line(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
    for args, says in (
        ((str(match_id), "--on", "2026-05-01"), "ligger i fremtiden"),
        ((str(match_id), "--on", "2026-02-01"), "er før matchet startede"),
        ((str(match_id), "--on", "1.4.2026"), "skriv en dato som ÅÅÅÅ-MM-DD"),
        (("99999",), "der er intet match 99999"),
    ):
        result = cli(db_url, BEHIND, "contact", "add", *args, "--with", "parent", "--kind", "visit")
        assert result.exit_code == 2 and says in result.output, (args, result.output)
