"""Showing a match page writes nothing but the access log: one ``match.view`` audit row per
view (a data-protection record of who looked), and no other table changes at all."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import AuditEntry
from tests.support import staff_app
from tests.support.bot_harness import snapshot
from tests.support.staff_app import World

_served = staff_app._served
world = staff_app.world

AUDIT = str(AuditEntry.__tablename__)


def test_a_match_page_inserts_nothing_but_its_access_log_entry(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with world.client("procesleder") as client:
        assert client.get("/today").status_code == 200  # signed in and settled
        before = snapshot(session_factory)

        page = client.get(f"/matches/{world.match}")
        assert page.status_code == 200
        after = snapshot(session_factory)

    assert {name: rows for name, rows in after.items() if name != AUDIT} == {
        name: rows for name, rows in before.items() if name != AUDIT
    }
    assert set(before[AUDIT]) <= set(after[AUDIT])
    assert len(after[AUDIT]) == len(before[AUDIT]) + 1
    with session_factory() as session:
        newest = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert newest is not None
    assert (newest.action, newest.entity, newest.entity_id) == (
        "match.view",
        "match",
        world.match,
    )
