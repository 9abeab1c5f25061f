"""A case resolved on the staff web app's Today page records how it ended, like the Telegram
alert and the email page do; a snooze offers the same spans."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from store.models import Escalation, EscalationStatus, ResolutionOutcome
from tests.support import staff_app
from tests.support.staff_app import NOW, World, csrf_of

_served = staff_app._served
world = staff_app.world


def test_a_case_is_resolved_with_an_outcome_chosen_on_the_case_card(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with world.client("procesleder") as client:
        page = client.get("/today").text
        assert "Hvordan endte det?" in page
        assert "Henvist til anden hjælp" in page
        token = csrf_of(page)
        # Without an outcome the case stays open, and the page says why.
        refused = client.post(f"/cases/{world.case}/resolve", data={"csrf": token, "note": "ok"})
        assert refused.status_code == 303
        assert "error=need_outcome" in refused.headers["location"]
        again = client.get(refused.headers["location"]).text
        assert "Vælg, hvordan sagen endte, før du afslutter den." in again
        with session_factory() as session:
            case = session.get(Escalation, world.case)
            assert case is not None and case.status == EscalationStatus.OPEN

        done = client.post(
            f"/cases/{world.case}/resolve",
            data={"csrf": token, "outcome": "handled", "note": "Talt med familien\x07"},
        )
        assert done.status_code == 303 and "done=resolve" in done.headers["location"]
    with session_factory() as session:
        case = session.get(Escalation, world.case)
        assert case is not None and case.status == EscalationStatus.RESOLVED
        assert case.resolution_outcome == ResolutionOutcome.HANDLED
        assert case.resolution_note == "Talt med familien"  # the bell is not kept


def test_a_case_is_snoozed_for_three_days_from_the_case_card(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with world.client("procesleder") as client:
        page = client.get("/today").text
        assert '<option value="3">3 dage</option>' in page
        answer = client.post(
            f"/cases/{world.case}/snooze", data={"csrf": csrf_of(page), "days": "3"}
        )
        assert answer.status_code == 303 and "done=snooze" in answer.headers["location"]
    with session_factory() as session:
        case = session.get(Escalation, world.case)
        assert case is not None and case.snoozed_until is not None
        assert case.snoozed_until.replace(tzinfo=NOW.tzinfo) - NOW == timedelta(days=3)
