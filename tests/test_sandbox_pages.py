"""The sandbox and import pages over HTTP: refused unless the sandbox runs, refused from
another site's page; the clock ticks at due moments (not every minute) and its time survives a
restart; an Excel sheet is imported like a CSV, line numbers and all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from store import clock as store_clock
from store.models import OutboxMessage, OutboxStatus, Staff, StaffRole
from tests.conftest import free_port
from tests.support.cast import make_match
from tests.support.sandbox_app import SandboxServer
from tests.support.staff_app import signed_in
from tests.support.webserver import serving
from tests.support.xlsx import xlsx
from venskab.cli.common import AppContext
from venskab.sandbox import restore_offset
from web.app import create_app

START = datetime(2026, 3, 3, 11, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sandbox(db_url: str, engine: Engine) -> Iterator[SandboxServer]:
    server = SandboxServer(db_url, engine, free_port(), START).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def live(sandbox: SandboxServer, session_factory: sessionmaker[Session]) -> Iterator[SandboxServer]:
    sandbox.app.time_offset = START - datetime.now(UTC)
    store_clock.install(sandbox.app.now, lambda: "Europe/Copenhagen")
    yield sandbox


def test_sandbox_pages_are_404_unless_the_sandbox_runs(
    db_url: str, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, _engine=engine)
    assert app.services.sandbox is None
    with serving(create_app(app.services), free_port()) as url:
        for path in ("/sandbox", "/sandbox/inbox", "/sandbox/chat/1"):
            assert httpx.get(url + path).status_code == 404, path
        assert httpx.post(f"{url}/sandbox/clock", data={"step": "month"}).status_code == 404
        assert httpx.post(f"{url}/sandbox/chat/1/say", data={"text": "hej"}).status_code == 404


def test_sandbox_refuses_foreign_pages_and_bad_forms(
    live: SandboxServer, session_factory: sessionmaker[Session]
) -> None:
    # Without a login: to the login page, and no form is taken.
    assert httpx.get(f"{live.url}/sandbox").headers["location"] == "/login?next=%2Fsandbox"
    assert httpx.get(f"{live.url}/import").headers["location"] == "/login?next=%2Fimport"
    assert httpx.post(f"{live.url}/sandbox/clock", data={"step": "week"}).status_code == 403
    with signed_in(live.url, session_factory) as (client, csrf):
        foreign = {"Origin": "https://example.org"}
        clock = f"/sandbox/clock?csrf={csrf}"
        answer = client.post(clock, data={"step": "week"}, headers=foreign)
        assert answer.status_code == 403
        # A signed-in staff member's form without the session's token changes nothing either.
        assert client.post("/sandbox/clock", data={"step": "week"}).status_code == 403
        assert client.post(clock, data={"step": "year"}).status_code == 400
        press = {"message": "x", "data": "v1|v|1|20260309|y"}
        assert client.post(f"/sandbox/chat/1/press?csrf={csrf}", data=press).status_code == 400
        assert client.get("/sandbox/chat/999999").status_code == 404
    with signed_in(live.url, session_factory, StaffRole.PROCESLEDER) as (client, csrf):
        assert client.get("/import").status_code == 403  # coordinators and admins import
    assert live.app.now() - START < timedelta(minutes=1)  # nothing moved


def test_the_clock_ticks_at_due_moments_and_its_time_survives_a_restart(
    live: SandboxServer, session_factory: sessionmaker[Session], db_url: str, engine: Engine
) -> None:
    with session_factory.begin() as session:
        make_match(session, start=date(2026, 3, 2), telegram_chat_id=None)
    assert live.control is not None
    moved = live.call(live.control.advance(timedelta(days=7)))
    assert moved.end - moved.start == timedelta(days=7)
    # At most one tick per due moment, plus one every 6 hours: nowhere near one a minute.
    assert 28 <= moved.ticks <= 80 and moved.sent > 0
    with session_factory() as session:
        sent = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENT)
        ).all()
    # Stamped by the sandbox's clock, inside the week it moved through (the wall clock is
    # elsewhere); Monday's visit prompt went out at its due moment, 19:00, as a tick ran then.
    assert all(m.sent_at and START <= m.sent_at <= START + timedelta(days=7) for m in sent)
    (prompt,) = [m for m in sent if m.kind == "visit_prompt" and m.occurrence_key == "2026-03-09"]
    assert prompt.sent_at == prompt.due_at == datetime(2026, 3, 9, 18, 0, tzinfo=UTC)

    restarted = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, _engine=engine)
    restore_offset(restarted)
    assert abs(restarted.now() - (START + timedelta(days=7))) < timedelta(minutes=1)


def test_import_page_reads_an_excel_sheet_and_names_the_line(
    live: SandboxServer, session_factory: sessionmaker[Session]
) -> None:
    header: list[str | int | float] = ["ref", "name", "role", "region", "email"]
    rows: list[list[str | int | float]] = [
        header,
        ["S-01", "Procesleder Øst", "procesleder", "Hovedstaden", "oest@example.org"],
        ["S-02", "Koordinator Vest", "chef", "Syddanmark", "vest@example.org"],
    ]
    with signed_in(live.url, session_factory) as (client, csrf):
        _import_checks(client, csrf, rows, session_factory)


def _import_checks(
    client: httpx.Client,
    csrf: str,
    rows: list[list[str | int | float]],
    session_factory: sessionmaker[Session],
) -> None:
    check = f"/import/check?lang=en&csrf={csrf}"
    files = {"file": ("staff.xlsx", xlsx(rows), "application/octet-stream")}
    answer = client.post(check, data={"kind": "staff"}, files=files)
    assert answer.status_code == 422
    assert "1 problem. Nothing was saved." in answer.text
    assert '<td class="n">3</td><td class="c">role</td>' in answer.text

    rows[2][2] = "coordinator"
    files = {"file": ("staff.xlsx", xlsx(rows), "application/octet-stream")}
    answer = client.post(check, data={"kind": "staff"}, files=files)
    assert answer.status_code == 200 and "No problems: 2 new and 0 updated." in answer.text
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Staff)) == 1  # the one signed in

    broken = {"file": ("staff.xlsx", b"PK\x03\x04 not really a workbook", "application/zip")}
    answer = client.post(check, data={"kind": "staff"}, files=broken)
    assert answer.status_code == 422 and "not a spreadsheet that can be read" in answer.text
    too_big = {"file": ("staff.csv", b"x" * (1024 * 1024 + 1), "text/csv")}
    answer = client.post(f"/import/check?csrf={csrf}", data={"kind": "staff"}, files=too_big)
    assert answer.status_code == 413
