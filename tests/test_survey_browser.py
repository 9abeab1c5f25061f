"""A parent fills in the survey on a 360-pixel-wide phone screen, in Danish and in English.

Headless Chromium from Debian (``/usr/bin/chromium``, installed by ``.ci/run``), driven by
Playwright with JavaScript switched off: the pages must work without it. Nothing is installed or
downloaded at run time. Without the browser these tests fail in CI (``CI=true``) and are skipped,
with the reason, elsewhere.

Set ``VENSKAB_TEST_SCREENSHOTS=/some/dir`` to keep the screenshots for a look.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.models import Locale
from tests.support import survey_app
from tests.support.cast import make_match
from tests.support.survey_app import LiveApp, answers, invitation, invite

# The live web app from tests.support.survey_app (module-scoped server, per-test clock).
_served = survey_app._served
live = survey_app.live

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 360, "height": 740}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: the browser tests cannot run (.ci/run installs Debian's chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def phone(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, device_scale_factor=1)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("VENSKAB_TEST_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path


def _luminance(css: str) -> float:
    numbers = [float(x) for x in re.findall(r"[\d.]+", css)[:3]]

    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in numbers)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(foreground: str, background: str) -> float:
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def check_phone_friendly(page: Any, *, targets_expected: bool = True) -> None:
    """Fits 360 px without sideways scrolling; big tap targets; WCAG AA contrast."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    targets = page.locator("label.option, button")
    assert (targets.count() > 0) == targets_expected
    for index in range(targets.count()):
        box = targets.nth(index).bounding_box()
        assert box is not None and box["height"] >= 48 and box["width"] >= 200, box
    pairs = page.evaluate(
        """() => [...document.querySelectorAll('h1, p, legend, label, button')].map(e => {
            let bg = 'rgb(255, 255, 255)';
            for (let n = e; n; n = n.parentElement) {
              const c = getComputedStyle(n).backgroundColor;
              if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') { bg = c; break; }
            }
            return [getComputedStyle(e).color, bg];
        })"""
    )
    for foreground, background in pairs:
        assert contrast(foreground, background) >= 4.5, (foreground, background)


def choose(page: Any, question: str, answer: str) -> None:
    page.get_by_role("group", name=question).get_by_role("radio", name=answer, exact=True).check()


def test_a_parent_answers_in_danish_on_a_small_phone(
    phone: Any, live: LiveApp, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory.begin() as session:
        token = invite(session, make_match(session))
    phone.goto(f"{live.url}/s/{token}")
    assert phone.locator("html").get_attribute("lang") == "da"
    assert phone.get_by_role("heading", level=1).inner_text() == "Kort spørgeskema til forældre"
    check_phone_friendly(phone)
    screenshot(phone, tmp_path, "survey-da-page1")

    choose(phone, "Hvordan har du det i din hverdag for tiden?", "2 Dårligt")
    choose(phone, "Har du nogen at tale med, når noget er svært?", "4 Ofte")
    phone.get_by_role("button", name="Næste").click()
    assert "Side 2 af 3" in phone.content()
    choose(phone, "Hvordan synes du, dit barn har det for tiden?", "4 Godt")
    # Back and forth keeps what was chosen.
    phone.get_by_role("button", name="Tilbage").click()
    assert phone.get_by_role("radio", name="2 Dårligt").first.is_checked()
    phone.get_by_role("button", name="Næste").click()
    assert phone.get_by_role("radio", name="4 Godt").is_checked()
    choose(
        phone,
        "Har dit barn voksne uden for hjemmet, som barnet er glad for at være sammen med?",
        "Ja, flere",
    )
    screenshot(phone, tmp_path, "survey-da-page2")
    phone.get_by_role("button", name="Næste").click()
    phone.get_by_label("Er der andet, du vil fortælle os?").fill("Vi glæder os til hver mandag.")
    check_phone_friendly(phone)
    phone.get_by_role("button", name="Send svar").click()

    assert phone.get_by_role("heading", level=1).inner_text() == "Tak!"
    check_phone_friendly(phone, targets_expected=False)
    screenshot(phone, tmp_path, "survey-da-thanks")
    assert answers(session_factory, token) == {
        "parent_everyday": "2",
        "parent_talk": "4",
        "child_wellbeing": "4",
        "child_adults": "several",
        "comment": "Vi glæder os til hver mandag.",
    }
    assert invitation(session_factory, token).completed_at is not None


def test_a_parent_answers_the_end_survey_in_english(
    phone: Any, live: LiveApp, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory.begin() as session:
        token = invite(session, make_match(session, parent_locale=Locale.EN), wave="end")
    phone.goto(f"{live.url}/s/{token}")
    assert phone.locator("html").get_attribute("lang") == "en"
    assert "Page 1 of 3" in phone.content()
    choose(phone, "How are you doing in your everyday life at the moment?", "5 Very well")
    phone.get_by_role("button", name="Next").click()
    phone.get_by_role("button", name="Next").click()  # page 2 skipped: every question is optional
    choose(
        phone, "How have the visits to the friendship family been for your child?", "5 Very good"
    )
    choose(phone, "Would you recommend a friendship family to other families?", "Yes")
    check_phone_friendly(phone)
    screenshot(phone, tmp_path, "survey-en-page3")
    phone.get_by_role("button", name="Send answers").click()

    assert phone.get_by_role("heading", level=1).inner_text() == "Thank you!"
    assert answers(session_factory, token) == {
        "parent_everyday": "5",
        "visits_good": "5",
        "recommend": "yes",
    }
    # The link is used now: opening it again says so, in English.
    phone.goto(f"{live.url}/s/{token}")
    assert phone.get_by_role("heading", level=1).inner_text() == "Already answered"


def test_a_broken_link_shows_a_clear_page_on_the_phone(
    phone: Any, live: LiveApp, tmp_path: Path
) -> None:
    phone.goto(f"{live.url}/s/this-is-not-a-token")
    headings = phone.get_by_role("heading", level=1).all_inner_texts()
    assert headings == ["Linket virker ikke", "This link does not work"]
    check_phone_friendly(phone, targets_expected=False)
    screenshot(phone, tmp_path, "survey-unknown")


def test_an_arabic_parent_reads_the_survey_from_the_right_once_arabic_is_on(
    phone: Any, live: LiveApp, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    from scheduler import i18n

    i18n.configure(None, ["ar"])  # VENSKAB_LANGUAGES=ar: the organisation turned Arabic on
    try:
        with session_factory.begin() as session:
            token = invite(session, make_match(session, parent_locale=Locale("ar")))
        phone.goto(f"{live.url}/s/{token}")
        html = phone.locator("html")
        assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
        # The browser lays the page out from the right: headings and answers start there.
        assert phone.evaluate("getComputedStyle(document.body).direction") == "rtl"
        heading = phone.get_by_role("heading", level=1).bounding_box()
        assert heading is not None and heading["x"] + heading["width"] > PHONE["width"] - 40
        check_phone_friendly(phone)
        screenshot(phone, tmp_path, "survey-ar-page1")
    finally:
        i18n.configure(None)
