"""Sparring groups: staff add a session, families RSVP by button, those coming get the link."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import RSVP, Locale, SparringRSVP, SparringSession
from tests.support.bot_harness import (
    FAMILY_CHAT,
    BotHarness,
    callback_data,
    labels,
    snapshot,
)
from tests.support.cast import make_match
from venskab.cli import main
from venskab.cli.common import AppContext

OTHER_CHAT = 5002
FAR_AWAY_CHAT = 5003
INVITE_EVENING = datetime(2026, 3, 31, 16, 5, tzinfo=UTC)  # 18:05 in Copenhagen (summer time)
DAY_BEFORE = datetime(2026, 4, 13, 16, 5, tzinfo=UTC)
LINK = "https://meet.example.org/sparring-april"

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app


def cli(app: AppContext, *args: str) -> str:
    result = CliRunner().invoke(main, list(args), obj=app)
    assert result.exit_code == 0, result.output
    return result.output


def three_families(session_factory: sessionmaker[Session], locale: str) -> list[int]:
    """Two families in Hovedstaden (5001, 5002) and one in Syddanmark (5003); their match ids."""
    with session_factory.begin() as session:
        first = make_match(session)
        first.volunteer_family.locale = Locale(locale)
        other = make_match(session, telegram_chat_id=OTHER_CHAT)
        far = make_match(session, telegram_chat_id=FAR_AWAY_CHAT)
        far.region = far.volunteer_family.region = "Syddanmark"
        return [first.id, other.id, far.id]


def add_session(app: AppContext) -> int:
    output = cli(
        app,
        "sparring",
        "add",
        "--programme",
        "hjem-til-os",
        "--region",
        "Hovedstaden",
        "--at",
        "2026-04-14T19:30",
        "--link",
        LINK,
    )
    found = re.search(r"sparringsmøde (\d+) er tilføjet", output)
    assert found, output
    assert "2 venskabsfamilier bliver inviteret ved næste kørsel." in output
    return int(found.group(1))


@pytest.mark.parametrize("locale", ["da", "en"])
def test_families_rsvp_by_button_and_those_coming_get_the_link_the_day_before(
    bot: BotHarness, app: AppContext, session_factory: sessionmaker[Session], locale: str
) -> None:
    first, _, _ = three_families(session_factory, locale)
    session_id = add_session(app)

    invited = bot.tick(INVITE_EVENING)
    message_id, invite = bot.prompt_to(FAMILY_CHAT, invited, "rs")
    other_id, other = bot.prompt_to(OTHER_CHAT, invited, "rs")
    yes = bot.press(FAMILY_CHAT, callback_data(invite)[0], message_id)
    bot.press(OTHER_CHAT, callback_data(other)[2], other_id)
    shown = cli(app, "sparring", "show", str(session_id))
    reminded = bot.tick(DAY_BEFORE)

    when = {"da": "tirsdag den 14. april 2026 kl. 19:30", "en": "Tuesday, 14 April 2026 at 19:30"}
    assert when[locale] in str(invite["text"])
    assert (
        labels(invite)
        == {
            "da": [["👍 Ja, vi kommer", "🤔 Måske", "👎 Nej"]],
            "en": [["👍 Yes, we'll come", "🤔 Maybe", "👎 No"]],
        }[locale]
    )
    assert callback_data(invite)[0] == f"v1|rs|{first}|{session_id}|y"
    assert not [
        p
        for p in invited.of("sendMessage")
        if p["chat_id"] == FAR_AWAY_CHAT and "v1|rs|" in str(p.get("reply_markup"))
    ]
    assert {"da": "✔ Tak for svaret: I kommer.", "en": "✔ Thanks for your answer: you are coming."}[
        locale
    ] in yes.text
    assert "Kommer (1):\n  Familien Eksempel (Kontaktvoksen)\n" in shown
    assert "Kommer ikke (1):" in shown
    (reminder,) = [p for p in reminded.of("sendMessage") if LINK in p["text"]]
    assert reminder["chat_id"] == FAMILY_CHAT
    assert {"da": "Husk sparring i morgen", "en": "Reminder: sparring tomorrow"}[
        locale
    ] in reminder["text"]


def test_an_answer_can_change_until_the_meeting_and_the_reminder_follows_it(
    bot: BotHarness, app: AppContext, session_factory: sessionmaker[Session]
) -> None:
    three_families(session_factory, "da")
    add_session(app)
    message_id, invite = bot.prompt_to(FAMILY_CHAT, bot.tick(INVITE_EVENING), "rs")
    bot.press(FAMILY_CHAT, callback_data(invite)[0], message_id)

    changed = bot.press(FAMILY_CHAT, callback_data(invite)[2], message_id)
    reminded = bot.tick(DAY_BEFORE)
    bot.clock.now = datetime(2026, 4, 14, 18, 0, tzinfo=UTC)  # the meeting has started
    late = bot.press(FAMILY_CHAT, callback_data(invite)[0], message_id)

    assert "✔ Tak for svaret: I kommer ikke." in changed.text
    assert changed.text.count("✔") == 1  # the earlier answer is replaced, not appended
    assert not [p for p in reminded.of("sendMessage") if LINK in p["text"]]
    assert late.of("answerCallbackQuery")[0]["text"] == "Denne knap er udløbet."
    with session_factory() as session:
        assert [r.answer for r in session.scalars(select(SparringRSVP))] == [RSVP.NO]


def test_a_family_outside_the_region_cannot_answer_for_the_session(
    bot: BotHarness, app: AppContext, session_factory: sessionmaker[Session]
) -> None:
    _, _, far = three_families(session_factory, "da")
    session_id = add_session(app)
    before = snapshot(session_factory)

    forged = bot.press(FAR_AWAY_CHAT, f"v1|rs|{far}|{session_id}|y", message_id=1)

    assert forged.of("answerCallbackQuery")[0]["text"] == "Denne knap er udløbet."
    assert snapshot(session_factory) == before


def test_the_programmes_recurring_sessions_get_ids_and_rsvp_buttons_too(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)

    # Hjem til Os: the first Tuesday of every other month at 19:30; 5 May 2026 is one.
    invited = bot.tick(datetime(2026, 4, 21, 16, 5, tzinfo=UTC))
    message_id, invite = bot.prompt_to(FAMILY_CHAT, invited, "rs")
    bot.press(FAMILY_CHAT, callback_data(invite)[0], message_id)

    assert "tirsdag den 5. maj 2026 kl. 19:30" in str(invite["text"])
    with session_factory() as session:
        (rsvp,) = session.scalars(select(SparringRSVP)).all()
        sparring = session.get(SparringSession, rsvp.session_id)
        assert sparring is not None and sparring.region == ""
        assert sparring.starts_at == datetime(2026, 5, 5, 17, 30, tzinfo=UTC)
