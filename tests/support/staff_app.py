"""A live staff web app for the access and browser tests: the Starlette app served by uvicorn on
127.0.0.1 with a clock the test sets, and a small world of staff with passwords.

The world: two matches in two regions, each with its own procesleder; a coordinator of the
first region; an admin. The first match has five visits and a cancelled one, an open case, a task due today and its
plan of the next two weeks in the outbox.

A test module uses the server with ``_served = staff_app._served`` and ``world = staff_app.world``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from followup.escalations import raise_escalation
from followup.staff_auth import set_password
from scheduler.planner import plan_all
from store.models import CancelledBy, Staff, StaffRole, Task, Visit, VisitStatus
from tests.conftest import free_port
from tests.support.cast import PROGRAMMES, make_match
from tests.support.webserver import serving
from venskab.cli.common import AppContext
from web.app import create_app
from web.login import ACCOUNT_FAILURES, ADDRESS_FAILURES

NOW = datetime(2026, 4, 14, 9, 30, tzinfo=UTC)  # a Tuesday, six weeks into the first match
PASSWORD = "en god lang adgangskode"


@dataclass
class World:
    url: str
    context: AppContext
    match: int  # Hovedstaden, the procesleder's
    other_match: int  # Midtjylland, another procesleder's
    case: int
    task: int
    emails: dict[str, str]  # procesleder, other, coordinator, admin
    saved: dict[str, dict[str, str]] = field(default_factory=dict)  # a test's own keepsakes

    def at(self, now: datetime | None) -> None:
        self.context.now_override = now

    @contextmanager
    def client(self, who: str | None = None) -> Iterator[httpx.Client]:
        """A client over loopback; signed in as ``who`` (a key of ``emails``) when given."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            if who is not None:
                assert login(client, self.emails[who]).status_code == 303
            yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    page = client.get("/login")
    answer = client.post(
        "/login", data={"csrf": csrf_of(page.text), "login": email, "password": password}
    )
    return answer


@pytest.fixture(scope="module")
def _served(engine: Engine, db_url: str) -> Iterator[tuple[str, AppContext]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    context = AppContext(env={"VENSKAB_DATABASE_URL": db_url, "VENSKAB_PUBLIC_URL": url})
    with serving(create_app(context.services), port):
        yield url, context
    context.close()


def build_world(
    engine: Engine, factory: sessionmaker[Session], url: str, context: AppContext
) -> World:
    with factory.begin() as session:
        first = make_match(session, start=date(2026, 3, 2))
        second = make_match(session, start=date(2026, 3, 2), telegram_chat_id=None)
        other = second.staff
        assert other is not None
        other.name, other.email, other.region = (
            "Procesleder Midt",
            "midt@example.org",
            "Midtjylland",
        )
        second.region = second.volunteer_family.region = "Midtjylland"
        second.child.first_name = "Barn B"
        second.volunteer_family.name = "Familien Midt"
        coordinator = Staff(
            name="Koordinator",
            role=StaffRole.COORDINATOR,
            region="Hovedstaden",
            email="koordinator@example.org",
        )
        admin = Staff(name="Administrator", role=StaffRole.ADMIN, email="admin@example.org")
        session.add_all([coordinator, admin])
        session.flush()
        for member in (first.staff, other, coordinator, admin):
            assert member is not None
            set_password(session, member, PASSWORD, NOW, actor="test")
        case = raise_escalation(
            session,
            first,
            "message_from_family",
            now=NOW - timedelta(hours=3),
            evidence={"text": "Kan vi flytte besøget?"},
        )
        task = Task(
            match_id=first.id,
            kind="call",
            title="Ring til forælderen efter første besøg",
            owner_id=first.staff_id,
            due_at=NOW - timedelta(hours=1),
        )
        session.add(task)
        # Five Mondays visited, then one cancelled for illness.
        for week in range(6):
            day = date(2026, 3, 2) + timedelta(weeks=week)
            session.add(
                Visit(
                    match_id=first.id,
                    planned_date=day,
                    status=VisitStatus.VISITED if week < 5 else VisitStatus.CANCELLED,
                    cancelled_by=None if week < 5 else CancelledBy.ILLNESS,
                    reported_at=datetime.combine(day, time(18), tzinfo=UTC),
                )
            )
        session.flush()
        ids = (first.id, second.id, case.id, task.id)
    plan_all(engine, factory, PROGRAMMES, NOW, horizon=timedelta(days=14), report=raise_escalation)
    return World(
        url,
        context,
        *ids,
        emails={
            "procesleder": "procesleder@example.org",
            "other": "midt@example.org",
            "coordinator": "koordinator@example.org",
            "admin": "admin@example.org",
        },
    )


@pytest.fixture
def world(
    _served: tuple[str, AppContext], engine: Engine, session_factory: sessionmaker[Session]
) -> Iterator[World]:
    url, context = _served
    ACCOUNT_FAILURES.reset()
    ADDRESS_FAILURES.reset()
    found = build_world(engine, session_factory, url, context)
    found.at(NOW)
    yield found
    found.at(None)


@contextmanager
def signed_in(
    url: str, factory: sessionmaker[Session], role: StaffRole = StaffRole.ADMIN
) -> Iterator[tuple[httpx.Client, str]]:
    """A client signed in as a new staff member with ``role`` (for pages such as the sandbox and
    the import page), and the session's CSRF token."""
    email = f"{role.value}-test@example.org"
    with factory.begin() as session:
        member = Staff(name=f"Test {role.value}", role=role, email=email)
        session.add(member)
        session.flush()
        set_password(session, member, PASSWORD, datetime.now(UTC), actor="test")
    with httpx.Client(base_url=url, timeout=30) as client:
        assert login(client, email).status_code == 303
        yield client, csrf_of(client.get("/today").text)


def browser_login(page: Any, url: str, factory: sessionmaker[Session]) -> None:
    """Sign a browser page in as a new admin."""
    email = "admin-browser@example.org"
    with factory.begin() as session:
        member = Staff(name="Test admin", role=StaffRole.ADMIN, email=email)
        session.add(member)
        session.flush()
        set_password(session, member, PASSWORD, datetime.now(UTC), actor="test")
    page.goto(f"{url}/login")
    page.fill("#login", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
