"""The sandbox and the import page in headless Chromium, JavaScript off, at 360 and 1280 px:

- an organisation links a demo family's chat, moves the clock a week, answers the visit prompt
  with the real bot's buttons, then moves the clock a month and finds the parent's SMS and the
  staff member's email in the inbox, and the next prompts in the chat;
- a CSV with an error: the dry run names its line and saves nothing; the corrected file is
  checked, then saved on confirmation.

Screenshots are kept in ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from store import clock as store_clock
from store.models import OutboxMessage, Staff, Visit, VisitStatus
from tests.conftest import free_port
from tests.support.browser import DESKTOP, browser, fits, phone, screenshot
from tests.support.cast import make_match
from tests.support.sandbox_app import SandboxServer
from tests.support.staff_app import browser_login

__all__ = ["browser", "phone"]  # fixtures

# Tuesday 3 March 2026, noon in Copenhagen: the match started on Monday 2 March.
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
    """The sandbox at its starting time, its rows stamped by its clock."""
    sandbox.app.time_offset = START - datetime.now(UTC)
    store_clock.install(sandbox.app.now, lambda: "Europe/Copenhagen")
    yield sandbox


def _press(page: Any, label: str, timeout: float = 10_000) -> None:
    page.locator("button", has_text=label).last.click(timeout=timeout)


def test_sandbox_chat_visit_confirmation_and_a_month_of_the_clock(
    live: SandboxServer, phone: Any, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match = make_match(session, start=date(2026, 3, 2), telegram_chat_id=None)
        family_id, match_id = match.volunteer_family_id, match.id

    phone.set_default_timeout(10_000)
    browser_login(phone, live.url, session_factory)
    phone.goto(f"{live.url}/sandbox?lang=da")
    assert "Familien Eksempel" in phone.inner_text("main")
    phone.locator("a", has_text="Skriv som familien").click()
    _press(phone, "Forbind familiens chat med botten")
    chat = phone.inner_text("main")
    assert "Velkommen, Kontaktvoksen!" in chat and "Årshjul for Barn A" in chat
    assert "/start" in chat and "/start " not in chat.replace("/start\n", "")  # no token shown

    # A week on: Monday 9 March's visit prompt is in the chat, with its buttons.
    _press(phone, "+1 uge")
    assert "Tiden er spolet frem til tirs. 10. mar. 2026" in phone.inner_text("main")
    assert "Kom Barn A på besøg i dag?" in phone.inner_text("main")
    fits(phone)
    screenshot(phone, "sandbox-chat-visit-prompt-360")
    _press(phone, "Kom på besøg")
    chat = phone.inner_text("main")
    assert "Tak! Besøget mandag den 9. marts 2026 er noteret." in chat
    _press(phone, "4 🙂")
    with session_factory() as session:
        visit = session.scalars(select(Visit).where(Visit.match_id == match_id)).one()
        assert (visit.planned_date, visit.status) == (date(2026, 3, 9), VisitStatus.VISITED)

    # The family writes; the bot passes it on.
    phone.fill("textarea[name=text]", "Vi glæder os til næste gang.")
    _press(phone, "Send")
    assert "Vi glæder os til næste gang." in phone.inner_text("main")
    phone.set_viewport_size(DESKTOP)
    screenshot(phone, "sandbox-chat-1280")
    phone.set_viewport_size({"width": 360, "height": 740})

    # A month on, every due moment ticked: the next prompts arrived in the chat, and the
    # parent's SMS and the staff member's email are in the inbox.
    _press(phone, "+1 måned", timeout=90_000)  # a month of ticks: slower on PostgreSQL
    assert "Tiden er spolet frem til fre. 10. apr. 2026" in phone.inner_text("main")
    assert phone.inner_text("main").count("Kom Barn A på besøg i dag?") >= 4
    phone.goto(f"{live.url}/sandbox/inbox?lang=da")
    inbox = phone.inner_text("main")
    assert "Forælder" in inbox and "SMS" in inbox
    assert "Procesleder" in inbox and "E-mail" in inbox
    fits(phone)
    screenshot(phone, "sandbox-inbox-360")
    with session_factory() as session:
        recorded = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.sandbox.is_(True), OutboxMessage.channel.in_(["sms", "email"]))
        )
    sms_shown = phone.locator("article.message.sms").count()
    assert recorded and sms_shown >= 1
    phone.goto(f"{live.url}/sandbox/chat/{family_id}?lang=en")
    assert "Move forward" in phone.inner_text("main") or "+1 week" in phone.inner_text("main")


CSV_WITH_ERROR = (
    "ref,name,role,region,email\n"
    "S-01,Procesleder Øst,procesleder,Hovedstaden,oest@example.org\n"
    "S-02,Koordinator Vest,chef,Syddanmark,vest@example.org\n"
)


def test_import_page_reports_the_line_of_an_error_and_writes_only_on_confirmation(
    live: SandboxServer, phone: Any, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    bad = tmp_path / "staff.csv"
    bad.write_text(CSV_WITH_ERROR, encoding="utf-8")
    phone.set_default_timeout(10_000)
    browser_login(phone, live.url, session_factory)  # a coordinator or an admin imports
    phone.goto(f"{live.url}/import?lang=da")
    phone.check("input[name=kind][value=staff]")
    phone.set_input_files("input[name=file]", str(bad))
    _press(phone, "Tjek filen")
    report = phone.inner_text("main")
    assert "1 fejl. Intet er gemt." in report
    row = phone.locator("table.problems tbody tr").first.inner_text()
    assert row.split()[0] == "3" and "role" in row
    fits(phone)
    screenshot(phone, "import-error-360")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Staff)) == 1  # who signed in

    good = tmp_path / "staff-corrected.csv"
    good.write_text(CSV_WITH_ERROR.replace(",chef,", ",coordinator,"), encoding="utf-8")
    phone.goto(f"{live.url}/import?lang=da")
    phone.check("input[name=kind][value=staff]")
    phone.set_input_files("input[name=file]", str(good))
    _press(phone, "Tjek filen")
    assert "Ingen fejl: 2 nye og 0 opdaterede. Intet er gemt endnu." in phone.inner_text("main")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Staff)) == 1
    _press(phone, "Gem 2 linjer")
    assert "Gemt: 2 nye" in phone.inner_text("main")
    with session_factory() as session:
        refs = set(session.scalars(select(Staff.external_ref)))
    assert refs == {"S-01", "S-02", None}  # and the admin who signed in, without a ref
