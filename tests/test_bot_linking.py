"""Linking a Telegram chat: the invite link staff print, /start, the privacy notice, help."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import InviteToken, Locale, Match, Staff, VolunteerFamily
from tests.support.bot_harness import (
    FAMILY_CHAT,
    STAFF_CHAT,
    TOKEN_IN_LINK,
    BotHarness,
    snapshot,
)
from tests.support.cast import make_match
from venskab.cli import main
from venskab.cli.common import AppContext

PRIVACY = {
    "da": [
        "Velkommen, Kontaktvoksen!",
        "Det gemmer vi:",
        "Det ser kun Procesleder",
        "Skriv aldrig CPR-numre",
    ],
    "en": [
        "Welcome, Kontaktvoksen!",
        "What we store:",
        "Who sees it: only Procesleder",
        "Never write CPR numbers",
    ],
}
PLAN = {
    "da": [
        "Årshjul for Barn A og Familien Eksempel (Hjem til Os):",
        "Forløbet starter",
        "Besøg hver mandag",
        "Invitation til sparring",
        "Farvelhilsen til venskabsfamilien",
    ],
    "en": [
        "Year plan for Barn A and Familien Eksempel (Hjem til Os):",
        "The match starts",
        "Visit every Monday",
        "Invitation to group sparring",
        "Farewell message to the volunteer family",
    ],
}

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app


def invite(app: AppContext, kind: str, subject_id: int) -> str:
    result = CliRunner().invoke(main, ["invite", kind, str(subject_id)], obj=app)
    assert result.exit_code == 0, result.output
    found = TOKEN_IN_LINK.search(result.output.strip().splitlines()[-1])
    assert found, result.output
    return found.group(1)


def unlinked_family(session_factory: sessionmaker[Session], locale: Locale = Locale.DA) -> int:
    with session_factory.begin() as session:
        match = make_match(session, telegram_chat_id=None)
        match.volunteer_family.locale = locale
        return match.volunteer_family_id


@pytest.mark.parametrize("locale", ["da", "en"])
def test_it_links_a_family_with_the_printed_link_and_shows_privacy_and_year_plan(
    bot: BotHarness, app: AppContext, session_factory: sessionmaker[Session], locale: str
) -> None:
    family_id = unlinked_family(session_factory, Locale(locale))
    token = invite(app, "family", family_id)

    sent = bot.say(FAMILY_CHAT, f"/start {token}")

    welcome, plan = sent.of("sendMessage")
    for phrase in PRIVACY[locale]:
        assert phrase in welcome["text"]
    worry = {"da": "⚠️ Jeg er bekymret for noget", "en": "⚠️ I'm worried about something"}[locale]
    assert welcome["reply_markup"]["keyboard"] == [[{"text": worry}]]
    assert welcome["reply_markup"]["is_persistent"] is True
    for phrase in PLAN[locale]:
        assert phrase in plan["text"]
    assert "Ring til forælder" not in plan["text"]  # staff-internal steps stay internal
    with session_factory() as session:
        family = session.get(VolunteerFamily, family_id)
        assert family is not None and family.telegram_chat_id == FAMILY_CHAT


def test_it_keeps_the_invite_token_short_url_safe_and_stores_only_its_hash(
    bot: BotHarness, app: AppContext, session_factory: sessionmaker[Session]
) -> None:
    token = invite(app, "family", unlinked_family(session_factory))

    assert 20 <= len(token) <= 64
    with session_factory() as session:
        stored = session.scalars(select(InviteToken)).one()
        assert token not in (stored.token_hash, str(stored.id))
        assert stored.expires_at - stored.created_at == timedelta(days=14)


def test_a_used_link_gets_a_polite_explanation_and_changes_nothing(
    bot: BotHarness, app: AppContext, session_factory: sessionmaker[Session]
) -> None:
    token = invite(app, "family", unlinked_family(session_factory))
    bot.say(FAMILY_CHAT, f"/start {token}")
    before = snapshot(session_factory)

    sent = bot.say(4242, f"/start {token}")

    assert "Linket er allerede brugt" in sent.text
    assert "bed den medarbejder, der gav jer linket, om et nyt" in sent.text
    assert snapshot(session_factory) == before


@pytest.mark.parametrize(
    ("language", "expected"),
    [("da", "Linket er udløbet"), ("en", "The link has expired")],
)
def test_an_expired_link_says_so_and_how_to_get_a_new_one(
    bot: BotHarness,
    app: AppContext,
    session_factory: sessionmaker[Session],
    language: str,
    expected: str,
) -> None:
    token = invite(app, "family", unlinked_family(session_factory))
    bot.clock.now += timedelta(days=14, minutes=1)
    before = snapshot(session_factory)

    sent = bot.say(FAMILY_CHAT, f"/start {token}", language=language)

    assert expected in sent.text
    assert snapshot(session_factory) == before


def test_an_unknown_link_and_an_unlinked_chat_get_only_help(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    unlinked_family(session_factory)
    with session_factory() as session:
        match_id = session.scalars(select(Match.id)).one()
    before = snapshot(session_factory)

    unknown = bot.say(4242, "/start abcDEF123_-")
    plan = bot.say(4242, "/plan")
    hello = bot.say(4242, "Hej, er der nogen?", language="en")
    button = bot.press(4242, f"v1|wo|{match_id}", message_id=1)

    assert "Det link kender vi desværre ikke" in unknown.text
    assert "åbne det personlige link" in plan.text
    assert "open the personal link we gave you" in hello.text
    assert button.of("answerCallbackQuery")[0]["text"] == "Denne knap er udløbet."
    assert snapshot(session_factory) == before


def test_it_links_a_staff_member_who_then_gets_staff_help(
    bot: BotHarness, app: AppContext, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        staff_id = make_match(session).staff_id
    assert staff_id is not None
    token = invite(app, "staff", staff_id)

    linked = bot.say(STAFF_CHAT, f"/start {token}")
    helped = bot.say(STAFF_CHAT, "/help")

    assert "Velkommen, Procesleder. Denne chat er nu forbundet som medarbejder" in linked.text
    assert "/today" in helped.text and "/match ID" in helped.text
    with session_factory() as session:
        staff = session.get(Staff, staff_id)
        assert staff is not None and staff.telegram_chat_id == STAFF_CHAT


def test_the_family_help_lists_what_it_can_do_in_both_languages(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    danish = bot.say(FAMILY_CHAT, "/help")
    with session_factory.begin() as session:
        family = session.scalars(select(VolunteerFamily)).one()
        family.locale = Locale.EN
    english = bot.say(FAMILY_CHAT, "/help")

    assert "/checkin – fortæl, hvordan det går" in danish.text
    assert "sender vi den til Procesleder" in danish.text
    assert "/pause – pause the visit messages" in english.text
    assert "we pass it on to Procesleder" in english.text


def test_inviting_someone_who_does_not_exist_is_a_clear_error(
    bot: BotHarness, app: AppContext, session_factory: sessionmaker[Session]
) -> None:
    before = snapshot(session_factory)

    family = CliRunner().invoke(main, ["invite", "family", "999999"], obj=app)
    staff = CliRunner().invoke(main, ["invite", "staff", "999999"], obj=app)

    assert family.exit_code == 2 and "there is no volunteer family with id 999999" in family.output
    assert staff.exit_code == 2 and "there is no staff member with id 999999" in staff.output
    assert snapshot(session_factory) == before
