"""Hostile or careless input on the staff web app, over a real socket: a date years away gets a
polite correction instead of a stored pause or a 500, and logins are throttled per address."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import MatchPause
from tests.support import staff_app
from tests.support.staff_app import World, csrf_of, login

_served = staff_app._served
world = staff_app.world


def test_the_match_page_refuses_a_pause_decades_ahead_with_a_polite_correction(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with world.client("procesleder") as client:
        page = client.get(f"/matches/{world.match}")
        form = {"csrf": csrf_of(page.text), "from": "2099-06-01", "to": "2100-06-01"}
        answer = client.post(f"/matches/{world.match}/pause", data=form)
        assert answer.status_code == 303
        shown = client.get(answer.headers["location"])
        assert shown.status_code == 200
        assert "mere end to år fra i dag" in shown.text
        near = {**form, "from": "2026-07-01", "to": "2026-08-01"}
        assert (
            "done=pause"
            in client.post(f"/matches/{world.match}/pause", data=near).headers["location"]
        )
    with session_factory() as session:
        starts = session.scalars(
            select(MatchPause.start_date).where(MatchPause.match_id == world.match)
        ).all()
    assert [day.isoformat() for day in starts] == ["2026-07-01"]


def test_reports_for_years_out_of_range_show_the_last_year_with_a_note_not_a_500(
    world: World,
) -> None:
    with world.client("admin") as client:
        page = client.get("/reports?from=0001-01-01&to=9999-12-31")
        assert page.status_code == 200
        assert "Vælg dage i årene 2000 til 2100" in page.text
        download = client.get("/reports/matches.csv?from=0001-01-01&to=9999-12-31")
        assert download.status_code == 200


def test_logins_are_throttled_per_address_across_accounts(world: World) -> None:
    with world.client() as client:
        # Twenty wrong passwords, each for another account: no account is locked by them,
        for number in range(20):
            wrong = login(client, f"gaet{number}@example.org", "forkert adgangskode")
            assert wrong.status_code == 401
        # but this address is: even the right password of a real account waits.
        refused = login(client, world.emails["coordinator"])
        assert refused.status_code == 429
        assert "For mange forsøg" in refused.text
