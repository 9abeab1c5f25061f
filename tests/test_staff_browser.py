"""A procesleder's morning in the staff web app, in headless Chromium without JavaScript, on a
1280-pixel desktop and a 360-pixel phone: sign in, see today's case and task, acknowledge and
snooze the case, record the task's outcome, open the match and its year wheel, edit a planned
message's text and cancel it. No page scrolls sideways.

Debian's ``/usr/bin/chromium`` through Playwright (see tests/test_survey_browser.py). The
screenshots are kept in ``test-artifacts/staff/`` (or ``VENSKAB_TEST_SCREENSHOTS``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Escalation, EscalationStatus, OutboxMessage, OutboxStatus, Task, TaskStatus
from tests.support import staff_app
from tests.support.staff_app import NOW, PASSWORD, World
from tests.test_survey_browser import browser as browser  # one headless Debian chromium

_served = staff_app._served
world = staff_app.world

ARTIFACTS = (
    Path(
        os.environ.get("VENSKAB_TEST_SCREENSHOTS")
        or Path(__file__).parent.parent / "test-artifacts"
    )
    / "staff"
)


def _shot(page: Any, name: str, width: int) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000


def _fits(page: Any, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll} px wide at {width} px"


@pytest.mark.parametrize("width", [1280, 360])
def test_a_procesleder_works_through_her_day_in_the_browser(
    browser: Any, world: World, session_factory: sessionmaker[Session], width: int
) -> None:
    context = browser.new_context(
        viewport={"width": width, "height": 800},
        java_script_enabled=True,  # only to measure the page; the pages use none
        locale="da-DK",
        device_scale_factor=1,
    )
    page = context.new_page()
    try:
        _day(page, world, session_factory, width)
    finally:
        context.close()


def _day(page: Any, world: World, factory: sessionmaker[Session], width: int) -> None:
    page.goto(f"{world.url}/today")
    assert "/login" in page.url
    _fits(page, width)
    page.fill("#login", world.emails["procesleder"])
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    assert page.url.endswith("/today")
    case = page.locator(f"#case-{world.case}")
    assert "Besked fra venskabsfamilien" in case.inner_text()
    assert "Barn A · Familien Eksempel" in case.inner_text()
    assert "Ring til forælderen" in page.locator(f"#task-{world.task}").inner_text()
    _fits(page, width)
    _shot(page, "today", width)

    # Acknowledge the case, then snooze it for a week.
    case.get_by_role("button", name="Kvittér").click()
    assert "Sagen er kvitteret." in page.locator(".flash").inner_text()
    assert "kvitteret" in page.locator(f"#case-{world.case}").inner_text()
    page.locator(f"#case-{world.case}").get_by_role("button", name="Udsæt").click()
    assert "Sagen er udsat til tirsdag 21. april." in page.locator(".flash").inner_text()

    # The call was made.
    page.locator(f"#task-{world.task}").get_by_role("button", name="Udført").click()
    assert "Udfaldet er gemt." in page.locator(".flash").inner_text()
    assert page.locator(f"#task-{world.task}").count() == 0

    # The match and its year wheel.
    page.locator(f"#case-{world.case} a[href='/matches/{world.match}']").click()
    wheel = page.locator("svg.wheel")
    assert wheel.count() == 1
    assert page.locator("svg.wheel circle.done").count() >= 4  # the visits reported
    assert page.locator("svg.wheel circle.missed").count() >= 1  # the cancelled one
    assert page.locator("svg.wheel circle.upcoming").count() >= 40
    assert page.locator("svg.wheel line.today").count() == 1
    assert "Uge 7 af 52" in (wheel.text_content() or "")
    # Week by week since the start: five visits, then the cancelled one, then this week.
    weeks = page.locator(".strip.heat span")
    assert [weeks.nth(i).get_attribute("class") for i in range(weeks.count())] == [
        *["visited"] * 5,
        "missed",
        "none",
    ]
    _fits(page, width)
    _shot(page, "match", width)

    # A planned message: edit its text, see it in the preview, then cancel it.
    page.goto(f"{world.url}/outbox?match={world.match}")
    _fits(page, width)
    _shot(page, "outbox", width)
    first = page.locator("ul.list li.card a").first
    first.click()
    message_id = int(page.url.rsplit("/", 1)[1])
    page.fill("#text", "Hej! Husk besøget på torsdag. Hilsen Procesleder")
    page.get_by_role("button", name="Gem teksten").click()
    assert "Teksten er gemt." in page.locator(".flash").inner_text()
    assert "Husk besøget på torsdag" in page.locator("#preview").inner_text()
    _fits(page, width)
    page.get_by_role("button", name="Annullér beskeden").click()
    assert "Beskeden er annulleret." in page.locator(".flash").inner_text()
    assert "annulleret" in page.locator("dd.status-cancelled").inner_text()

    # Reports: the pictures load as images and the page fits the phone.
    page.goto(f"{world.url}/reports")
    pictures = page.locator("figure img")
    assert pictures.count() == 2  # retention and visits; no survey has been sent here
    for n in range(2):
        assert pictures.nth(n).evaluate("i => i.complete && i.naturalWidth > 0")
    _fits(page, width)
    _shot(page, "reports", width)

    with factory() as session:
        escalation = session.get(Escalation, world.case)
        assert escalation is not None
        assert escalation.status == EscalationStatus.OPEN  # snoozed: open, silent until then
        assert escalation.acknowledged_at == NOW
        assert escalation.snoozed_until is not None
        task = session.get(Task, world.task)
        assert task is not None and task.status == TaskStatus.DONE
        message = session.get(OutboxMessage, message_id)
        assert message is not None and message.status == OutboxStatus.CANCELLED
        assert message.context["staff"]["text"].startswith("Hej! Husk besøget")
        still = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.match_id == world.match, OutboxMessage.status == OutboxStatus.PLANNED
            )
        ).all()
        assert still, "only the one message was cancelled"
