"""The child's voice, lived through the real system with an injected clock.

A Hjem til Os match starts on Monday 2 March 2026 with its volunteer family on Telegram (the
fake Bot API). Three months in, the runtime's tick sends the family one invitation through the
outbox; they ask the child and answer with the smiley buttons and the child's own words, and a
forged or stale button changes nothing. Nine months in, the next invitation arrives and is
answered on the survey's web page from the link in that message. Both moments are on the staff
member's match page, in `venskab report child-voice`, and in the family's and the child's
export; erasing the child removes the answers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from followup.erasure import erase_person
from followup.people import export_person
from followup.staff_auth import set_password
from followup.yearplan import label
from store.models import (
    Match,
    MatchStatus,
    OutboxMessage,
    SurveyInvitation,
    SurveyResponse,
)
from tests.conftest import free_port
from tests.support.bot_harness import FAMILY_CHAT, BotHarness, Sent, callback_data, snapshot
from tests.support.cast import PROGRAMMES, make_match
from tests.support.staff_app import login
from tests.support.webserver import serving
from venskab.cli import main
from venskab.cli.common import AppContext
from web.app import create_app

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app

PASSWORD = "en god lang adgangskode"
# Tuesday 2 June 2026, 17:05 in Copenhagen: three months after the start, the moment's 17:00.
THREE_MONTHS = datetime(2026, 6, 2, 15, 5, tzinfo=UTC)
# Wednesday 2 December 2026, 17:05 in Copenhagen.
NINE_MONTHS = datetime(2026, 12, 2, 16, 5, tzinfo=UTC)
WORDS = "Vi bagte boller 🍞, og jeg må bestemme musikken. Мы играли! " + "ja " * 3000
LINK = re.compile(r"https?://[^\s]+/s/([A-Za-z0-9_-]+)")


@pytest.fixture
def web(engine: Engine, db_url: str) -> Iterator[tuple[httpx.Client, AppContext]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    context = AppContext(env={"VENSKAB_DATABASE_URL": db_url, "VENSKAB_PUBLIC_URL": url})
    with (
        serving(create_app(context.services), port),
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        yield client, context
    context.close()


def invitations_to_family(sent: Sent) -> list[dict[str, object]]:
    """The messages with the child's-voice Start button."""
    return [
        c.params
        for c in sent.calls
        if c.method == "sendMessage"
        and c.params["chat_id"] == FAMILY_CHAT
        and any(d.split("|")[1] == "cv" for d in callback_data(c.params))
    ]


def voice_rows(
    factory: sessionmaker[Session], wave: str
) -> tuple[SurveyInvitation, dict[str, str | None]]:
    with factory() as session:
        invitation = session.scalars(
            select(SurveyInvitation).where(
                SurveyInvitation.survey_id == "child-voice", SurveyInvitation.wave == wave
            )
        ).one()
        answers = {
            r.question_id: r.value
            for r in session.scalars(
                select(SurveyResponse).where(SurveyResponse.invitation_id == invitation.id)
            )
        }
        return invitation, answers


def report(db_url: str, now: datetime) -> list[dict[str, str]]:
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, now_override=now)
    result = CliRunner().invoke(
        main, ["report", "child-voice", "--from", "2026-01-01", "--to", "2026-12-31"], obj=app
    )
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.output)))


def test_the_child_is_heard_at_three_and_nine_months(
    bot: BotHarness,
    session_factory: sessionmaker[Session],
    web: tuple[httpx.Client, AppContext],
    db_url: str,
) -> None:
    client, web_context = web
    with session_factory.begin() as session:
        match = make_match(session)
        match_id, family_id, child_id = match.id, match.volunteer_family_id, match.child_id
        assert match.staff is not None
        set_password(session, match.staff, PASSWORD, THREE_MONTHS, actor="test")
        staff_email = str(match.staff.email)

    # Nothing the day before; the invitation at the moment, once, however often the tick runs.
    before = bot.tick(THREE_MONTHS - timedelta(days=1))
    assert invitations_to_family(before) == []
    sent = bot.tick(THREE_MONTHS)
    (invited,) = invitations_to_family(sent)
    again = bot.tick(THREE_MONTHS + timedelta(minutes=20))
    assert invitations_to_family(again) == []
    text = str(invited["text"])
    assert "Barn A har besøgt jer et stykke tid nu" in text
    assert "tryk på det ansigt, Barn A vælger" in text
    with session_factory() as session:
        outbox_rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.touchpoint_id == "child-voice-3mo")
        ).all()
        assert [(r.channel.value, r.locale.value) for r in outbox_rows if r.sent_at] == [
            ("telegram", "da")
        ]

    # The family asks the child: three smileys, then the child's own words.
    message_id = int(next(c.result["message_id"] for c in sent.calls if c.params is invited))
    start = callback_data(invited)[0]
    first = bot.press(FAMILY_CHAT, start, message_id)
    assert "Hvordan har du det, når du er hos familien?" in first.text
    assert "(1 af 3)" in first.text
    assert first.buttons() == [["😟", "🙁", "😐", "🙂", "😄"]]
    second = bot.press(FAMILY_CHAT, first.data("🙂"), message_id)
    assert "Hvordan er det at lave ting sammen med dem?" in second.text
    third = bot.press(FAMILY_CHAT, second.data("😄"), message_id)
    assert "Glæder du dig til næste gang?" in third.text
    stale = third.data("😐")  # kept for later
    opened = bot.press(FAMILY_CHAT, third.data("😄"), message_id)
    assert "Hvad kan du bedst lide ved at være hos familien?" in opened.text
    saved = bot.say(FAMILY_CHAT, WORDS)
    assert (
        saved.text == "Tak, fordi I spurgte Barn A! Vi har gemt svarene, og Procesleder kan se dem."
    )
    invitation, answers = voice_rows(session_factory, "3mo")
    assert invitation.completed_at == THREE_MONTHS + timedelta(minutes=20)
    assert invitation.volunteer_family_id == family_id
    assert answers["feel_at_family"] == "4"
    assert answers["doing_things"] == "5"
    assert answers["look_forward"] == "5"
    assert answers["like_best"] is not None
    assert answers["like_best"].startswith("Vi bagte boller 🍞, og jeg må bestemme musikken.")
    assert len(answers["like_best"]) == 2000  # the question's max_length, not an error

    # A stale smiley, a forged one for another match, and one for a moment never sent: nothing.
    unchanged = snapshot(session_factory)
    for data in (
        stale,
        f"v1|cv|{match_id + 77}|3mo|1|1",
        f"v1|cv|{match_id}|6mo|1|1",
        f"v1|cv|{match_id}|3mo|9|1",
        f"v1|cv|{match_id}|3mo|1|9",
    ):
        pressed = bot.press(FAMILY_CHAT, data, message_id)
        assert "Denne knap er udløbet." in pressed.text
    assert snapshot(session_factory) == unchanged

    # The reminder a week later is not sent: the moment was answered.
    later = bot.tick(THREE_MONTHS + timedelta(days=7, hours=1))
    assert invitations_to_family(later) == []

    # Nine months: the next invitation; this time the family answers on the web page.
    nine = bot.tick(NINE_MONTHS)
    (invited_9,) = invitations_to_family(nine)
    found = LINK.search(str(invited_9["text"]))
    assert found, invited_9["text"]
    token = found.group(1)
    web_context.now_override = NINE_MONTHS + timedelta(hours=2)
    page = client.get(f"/s/{token}")
    assert page.status_code == 200
    assert "Barnets stemme" in page.text
    assert "Hvordan har du det, når du er hos familien?" in page.text
    done = client.post(
        f"/s/{token}/1",
        data={
            "q_feel_at_family": "3",
            "q_doing_things": "4",
            "q_look_forward": "2",
            "q_like_best": "At hunden hopper op, når jeg kommer.",
            "nav": "next",
        },
    )
    assert done.status_code == 303 and "/done" in done.headers["location"]
    nine_invitation, nine_answers = voice_rows(session_factory, "9mo")
    assert nine_invitation.completed_at == NINE_MONTHS + timedelta(hours=2)
    assert nine_answers["look_forward"] == "2"

    # The staff member sees both moments on the match page.
    web_context.now_override = NINE_MONTHS + timedelta(hours=3)
    assert login(client, staff_email, PASSWORD).status_code == 303
    html = client.get(f"/matches/{match_id}").text
    section = html.split('id="voice-h"', 1)[1].split("</section>", 1)[0]
    assert "3 måneder" in section and "9 måneder" in section
    assert section.count("spurgt af venskabsfamilien") == 2
    assert "🙂</span> 4/5" in section and "🙁</span> 2/5" in section
    assert "At hunden hopper op, når jeg kommer." in section
    assert "Vi bagte boller 🍞" in section

    # ... and the report has one row per answered moment, without the child's words.
    rows = report(db_url, NINE_MONTHS + timedelta(days=1))
    assert [(r["match_id"], r["moment"], r["relayed_by"]) for r in rows] == [
        (str(match_id), "3mo", "volunteer_family"),
        (str(match_id), "9mo", "volunteer_family"),
    ]
    assert [(r["feel_at_family"], r["doing_things"], r["look_forward"]) for r in rows] == [
        ("4", "5", "5"),
        ("3", "4", "2"),
    ]
    assert [r["smiley_mean"] for r in rows] == ["4.67", "3.0"]
    assert [r["answered_on"] for r in rows] == ["2026-06-02", "2026-12-02"]
    assert all(r["own_words"] == "true" for r in rows)
    assert "hunden" not in str(rows)

    # The answers are part of the family's and the child's export; erasing the child removes them.
    now = NINE_MONTHS + timedelta(days=2)
    with session_factory.begin() as session:
        family_export = export_person(session, "family", family_id, now=now)
        child_export = export_person(session, "child", child_id, now=now)
    assert [s["wave"] for s in family_export["child_voice"]] == ["3mo", "9mo"]
    assert [s["wave"] for s in child_export["child_voice"]] == ["3mo", "9mo"]
    words = [r["value"] for s in child_export["child_voice"] for r in s["responses"]]
    assert "At hunden hopper op, når jeg kommer." in words
    with session_factory.begin() as session:
        ended = session.get(Match, match_id)
        assert ended is not None
        ended.status, ended.end_date = MatchStatus.ENDED, date(2026, 12, 3)
        summary = erase_person(session, "child", child_id, "test", now=now)
    assert summary["child_voice_answers_deleted"] == 8
    assert voice_rows(session_factory, "3mo")[1] == {}
    assert voice_rows(session_factory, "9mo")[1] == {}


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("da", "Barnets stemme: et par spørgsmål til barnet"),
        ("en", "The child's voice: a few questions for the child"),
    ],
)
def test_the_year_plan_names_the_moments_in_the_familys_language(
    locale: str, expected: str
) -> None:
    for programme in PROGRAMMES.values():
        for moment in ("child-voice-3mo", "child-voice-9mo"):
            assert label(programme.touchpoint(moment), locale) == expected
