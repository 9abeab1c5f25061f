"""The family's calendar feed: ``/calendar`` in the bot gives an unguessable address; the feed
parses with icalendar, shows visits at the agreed local time across daylight saving time, the
sparring session with its link and the anniversary; a new address or ``stop`` closes the old
one (404), and so does ``venskab calendar revoke``; a wrong token is 404."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from followup.sparring import add_session
from store.models import Locale
from tests.conftest import free_port
from tests.fakes.telegram import FakeTelegram
from tests.support.bot_harness import FAMILY_CHAT, VISIT_EVENING, BotHarness, app_context
from tests.support.cast import make_match
from tests.support.webserver import serving
from venskab.cli import main
from venskab.cli.common import AppContext
from web.app import create_app

pytest_plugins = ["tests.support.bot_harness"]

ZONE = ZoneInfo("Europe/Copenhagen")
URL = re.compile(r"(http://127\.0\.0\.1:\d+/calendar/[A-Za-z0-9_-]{43}\.ics)")


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def web(bot: BotHarness, port: int) -> Iterator[str]:
    with serving(create_app(bot.app.services), port) as url:
        yield url


@pytest.fixture
def app(db_url: str, engine: Engine, fake: FakeTelegram, port: int) -> AppContext:
    """The bot harness's context, with the web side on the test's port."""
    context = app_context(db_url, engine, fake, VENSKAB_HTTP_PORT=str(port))
    context.now_override = VISIT_EVENING
    return context


def _events(body: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(e.uid): e for e in calendar.events}


def _moment(event: icalendar.Event) -> datetime:
    start = event.start
    assert isinstance(start, datetime), start
    return start


def _link(text: str) -> str:
    found = URL.search(text)
    assert found, text
    return found.group(1)


@pytest.mark.parametrize("locale", ["da", "en"])
def test_calendar_feed_shows_visits_in_local_time_across_dst_and_can_be_revoked(
    bot: BotHarness, web: str, session_factory: sessionmaker[Session], locale: str
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)  # Mondays 15:30 from Monday 2 March 2026
        match.volunteer_family.locale = Locale(locale)
        match.volunteer_family.external_ref = "VF-01"
        add_session(
            session,
            match.programme,
            "",
            datetime(2026, 5, 5, 19, 30, tzinfo=ZONE),
            "https://meet.example.org/sparring-maj",
            None,
            "cli",
        )
        match_id = match.id

    first = bot.say(FAMILY_CHAT, "/calendar")
    url = _link(first.text)
    assert ("kalender" if locale == "da" else "calendar") in first.text

    answer = httpx.get(url)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    events = _events(answer.content)
    # Clocks go forward on Sunday 29 March 2026: 15:30 local is 14:30 UTC before, 13:30 after.
    before = _moment(events[f"visit-{match_id}-2026-03-16@venskab"])
    after = _moment(events[f"visit-{match_id}-2026-03-30@venskab"])
    assert before.astimezone(ZONE).time() == time(15, 30) == after.astimezone(ZONE).time()
    assert before.astimezone(UTC).hour == 14 and after.astimezone(UTC).hour == 13
    assert str(before.tzinfo) == "Europe/Copenhagen"
    visit_title = "Besøg: Barn A" if locale == "da" else "Visit: Barn A"
    assert str(events[f"visit-{match_id}-2026-03-16@venskab"]["summary"]) == visit_title
    (sparring,) = [e for uid, e in events.items() if uid.startswith("sparring-") and "05-05" in uid]
    assert _moment(sparring).astimezone(ZONE) == datetime(2026, 5, 5, 19, 30, tzinfo=ZONE)
    assert "https://meet.example.org/sparring-maj" in str(sparring["description"])
    assert events[f"anniversary-{match_id}@venskab"].start == date(2027, 3, 2)

    # Asking again does not show the address again; "new" replaces it, "stop" closes it.
    again = bot.say(FAMILY_CHAT, "/calendar")
    assert URL.search(again.text) is None and "/calendar new" in again.text
    renewed = _link(bot.say(FAMILY_CHAT, "/calendar new").text)
    assert renewed != url
    assert httpx.get(url).status_code == 404
    assert httpx.get(renewed).status_code == 200
    bot.say(FAMILY_CHAT, "/calendar stop")
    assert httpx.get(renewed).status_code == 404

    # The command line closes it too; a wrong or malformed token is 404 like a revoked one.
    third = _link(bot.say(FAMILY_CHAT, "/calendar").text)
    assert httpx.get(third).status_code == 200
    result = CliRunner().invoke(main, ["calendar", "revoke", "VF-01"], obj=bot.app)
    assert result.exit_code == 0, result.output
    assert httpx.get(third).status_code == 404
    assert httpx.get(f"{web}/calendar/{'A' * 43}.ics").status_code == 404
    assert httpx.get(f"{web}/calendar/not-a-token.ics").status_code == 404
