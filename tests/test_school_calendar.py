"""The school calendar: Danish school holidays per municipality, offered as a pause in /pause.

Through the real bot against the fake Bot API, with the clock the test sets, and the command line
against the test database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.school_calendar import (
    CALENDAR_FILE,
    KINDS,
    SchoolCalendar,
    SchoolCalendarError,
    load_school_calendar,
)
from store.models import (
    AuditEntry,
    Channel,
    Child,
    Locale,
    Match,
    MatchPause,
    OutboxMessage,
    OutboxStatus,
)
from tests.support import survey_app
from tests.support.bot_harness import FAMILY_CHAT, BotHarness, Sent, snapshot
from tests.support.cast import make_match
from tests.support.survey_app import LiveApp
from tests.test_family_sms import FAMILY_PHONE, cases, reply, send_due
from venskab.cli import main
from venskab.cli.common import AppContext
from venskab.demo import replay, seed
from venskab.runtime import Runtime

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app
_served = survey_app._served  # the web app over a real socket, for Twilio's webhooks
live = survey_app.live

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# 1 October 2026, a Thursday evening: the autumn holiday (week 42) is 12-18 October.
OCTOBER_FIRST = datetime(2026, 10, 1, 17, 0, tzinfo=UTC)


def family_match(session_factory: sessionmaker[Session], locale: str = "da") -> int:
    with session_factory.begin() as session:
        match = make_match(session)  # Hjem til Os from 2 March 2026, visits on Mondays
        match.volunteer_family.locale = Locale(locale)
        return match.id


def visit_prompts(sent: Sent, match_id: int, day: str) -> list[str]:
    return [
        str(p.get("reply_markup"))
        for p in sent.of("sendMessage")
        if f"v1|v|{match_id}|{day}|y" in str(p.get("reply_markup"))
    ]


def assert_autumn_paused(
    factory: sessionmaker[Session], match_id: int, in_holiday: Sent, back: Sent
) -> None:
    """The match has a pause for the autumn holiday 2026, and no visit prompt came in it."""
    with factory() as session:
        pause = session.scalars(select(MatchPause).where(MatchPause.match_id == match_id)).one()
        assert (pause.start_date, pause.end_date, pause.reason) == (
            date(2026, 10, 12),
            date(2026, 10, 19),
            "school holiday autumn-2026",
        )
    assert not visit_prompts(in_holiday, match_id, "20261012")
    assert visit_prompts(back, match_id, "20261019")


@pytest.mark.parametrize(
    ("locale", "button", "saved"),
    [
        (
            "da",
            "Pause i efterårsferien, 12.–18. oktober",
            "Pausen er noteret: fra mandag den 12. oktober 2026 til og med søndag den "
            "18. oktober 2026.",
        ),
        (
            "en",
            "Pause for the autumn holiday, 12–18 October",
            "The pause is noted: from Monday, 12 October 2026 up to and including Sunday, "
            "18 October 2026.",
        ),
    ],
)
def test_pause_offers_the_autumn_holiday_and_no_visit_prompt_comes_in_it(
    bot: BotHarness, session_factory: sessionmaker[Session], locale: str, button: str, saved: str
) -> None:
    match_id = family_match(session_factory, locale)
    bot.tick(OCTOBER_FIRST)

    asked = bot.say(FAMILY_CHAT, "/pause")
    pressed = bot.press(FAMILY_CHAT, asked.data(button))
    in_holiday = bot.tick(datetime(2026, 10, 12, 17, 5, tzinfo=UTC))  # Monday 19:05 local
    back = bot.tick(datetime(2026, 10, 19, 17, 5, tzinfo=UTC))

    assert asked.buttons() == [[button]]
    assert pressed.text.startswith(saved)
    assert pressed.of("editMessageReplyMarkup") or pressed.of("editMessageText")
    assert_autumn_paused(session_factory, match_id, in_holiday, back)


def test_the_next_pause_offers_the_holiday_after_the_one_already_paused(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    family_match(session_factory)
    bot.tick(OCTOBER_FIRST)

    bot.press(FAMILY_CHAT, bot.say(FAMILY_CHAT, "/pause").data("Pause i efterårsferien"))
    again = bot.say(FAMILY_CHAT, "/pause")
    typed = bot.say(FAMILY_CHAT, "2/11-8/11")  # typing the dates still works after the button

    assert again.buttons() == [["Pause i juleferien, 19. december–3. januar"]]
    assert typed.text.startswith("Pausen er noteret: fra mandag den 2. november 2026")


def test_during_the_holiday_the_pause_starts_today(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    match_id = family_match(session_factory, "en")
    bot.tick(datetime(2026, 10, 14, 8, 0, tzinfo=UTC))  # Wednesday in week 42

    asked = bot.say(FAMILY_CHAT, "/pause")
    pressed = bot.press(FAMILY_CHAT, asked.data("Pause for the autumn holiday, 12–18 October"))

    assert pressed.text.startswith(
        "The pause is noted: from Wednesday, 14 October 2026 up to and including Sunday, "
        "18 October 2026."
    )
    with session_factory() as session:
        pause = session.scalars(select(MatchPause).where(MatchPause.match_id == match_id)).one()
        assert (pause.start_date, pause.end_date) == (date(2026, 10, 14), date(2026, 10, 19))


@pytest.mark.parametrize(
    "forged",
    [
        "v1|ph|{match}|20261013",  # not the first day of a holiday
        "v1|ph|{match}|20251013",  # a holiday that is over
        "v1|ph|{other}|20261012",  # someone else's match
        "v1|ph|{match}|20261399",  # not a date
    ],
)
def test_a_forged_or_stale_holiday_button_has_expired_and_changes_nothing(
    bot: BotHarness, session_factory: sessionmaker[Session], forged: str
) -> None:
    match_id = family_match(session_factory)
    bot.tick(OCTOBER_FIRST)
    bot.say(FAMILY_CHAT, "/pause")
    before = snapshot(session_factory)

    pressed = bot.press(FAMILY_CHAT, forged.format(match=match_id, other=match_id + 1))

    assert pressed.of("answerCallbackQuery")[0].get("text") == "Denne knap er udløbet."
    assert snapshot(session_factory) == before


QUESTION_EVENING = datetime(2026, 10, 5, 15, 5, tzinfo=UTC)  # Monday 17:05, a week before


@pytest.mark.parametrize(
    ("locale", "asked", "no", "saved"),
    [
        (
            "da",
            "Snart er det efterårsferien, fra mandag den 12. oktober til og med søndag den 18. oktober.",
            "Nej, vi holder pause",
            "Pausen er noteret: fra mandag den 12. oktober 2026 til og med søndag den "
            "18. oktober 2026.",
        ),
        (
            "en",
            "The autumn holiday is coming up, from Monday 12 October to Sunday 18 October.",
            "No, we take a break",
            "The pause is noted: from Monday, 12 October 2026 up to and including Sunday, "
            "18 October 2026.",
        ),
    ],
)
def test_a_week_before_the_autumn_holiday_the_family_is_asked_and_no_pauses_the_visits(
    bot: BotHarness,
    session_factory: sessionmaker[Session],
    locale: str,
    asked: str,
    no: str,
    saved: str,
) -> None:
    match_id = family_match(session_factory, locale)
    bot.tick(OCTOBER_FIRST)

    question = bot.tick(QUESTION_EVENING)
    pressed = bot.press(FAMILY_CHAT, question.data(no))
    in_holiday = bot.tick(datetime(2026, 10, 12, 17, 5, tzinfo=UTC))
    back = bot.tick(datetime(2026, 10, 19, 17, 5, tzinfo=UTC))

    (sent,) = [p for p in question.of("sendMessage") if "v1|hq|" in str(p.get("reply_markup"))]
    assert asked in sent["text"]
    assert f"v1|hq|{match_id}|20261012|y" in str(sent["reply_markup"])
    assert pressed.text.startswith(saved)
    assert_autumn_paused(session_factory, match_id, in_holiday, back)


def test_yes_keeps_the_visit_prompts_and_the_next_question_is_for_christmas(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    match_id = family_match(session_factory)
    bot.tick(OCTOBER_FIRST)

    question = bot.tick(QUESTION_EVENING)
    pressed = bot.press(FAMILY_CHAT, question.data("Ja, besøgene fortsætter"))
    in_holiday = bot.tick(datetime(2026, 10, 12, 17, 5, tzinfo=UTC))
    bot.tick(datetime(2026, 12, 1, 7, 0, tzinfo=UTC))
    christmas = bot.tick(datetime(2026, 12, 12, 16, 5, tzinfo=UTC))  # Saturday 17:05

    assert pressed.text.startswith("Dejligt! Vi spørger til besøgene som sædvanligt.")
    assert visit_prompts(in_holiday, match_id, "20261012")
    with session_factory() as session:
        assert not session.scalars(select(MatchPause)).all()
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "match.holiday_visits")
        ).one()
        assert audit.details == {"holiday": "autumn-2026"}
    assert any(
        "juleferien, fra lørdag den 19. december til og med søndag den 3. januar" in p["text"]
        for p in christmas.of("sendMessage")
    )


def test_a_family_without_telegram_answers_the_holiday_question_by_sms(
    engine: Engine, session_factory: sessionmaker[Session], live: LiveApp
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session, telegram_chat_id=None, family_email=None).id
    send_due(engine, session_factory, datetime(2026, 9, 28, tzinfo=UTC), QUESTION_EVENING)
    with session_factory() as session:
        question = session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "holiday_question")
        ).one()
        assert (question.channel, question.status) == (Channel.SMS, OutboxStatus.SENT)
        assert question.occurrence_key == "autumn-2026"
        body = question.body or ""
    live.at(QUESTION_EVENING + timedelta(minutes=30))

    nonsense = live.sms("7", sender=FAMILY_PHONE, sid="SM" + "d" * 32)
    answer = live.sms("2", sender=FAMILY_PHONE, sid="SM" + "e" * 32)
    again = live.sms("2", sender=FAMILY_PHONE, sid="SM" + "f" * 32)
    for evening in (
        datetime(2026, 10, 12, 17, 5, tzinfo=UTC),
        datetime(2026, 10, 19, 17, 5, tzinfo=UTC),
    ):
        send_due(engine, session_factory, evening - timedelta(days=1), evening)

    assert "Snart er det efterårsferien (12/10-18/10)" in body
    assert "2 = nej, vi holder pause i ferien" in body
    assert reply(answer.text).startswith(
        "Tak for besked. Vi spørger ikke til besøg fra 12/10 til 18/10."
    )
    assert reply(again.text).startswith("Tak. Der er allerede en pause i ferien.")
    assert cases(session_factory) == ["message_from_family"]  # "7" fits no question: to staff
    assert nonsense.status_code == 200
    with session_factory() as session:
        pause = session.scalars(select(MatchPause).where(MatchPause.match_id == match_id)).one()
        assert (pause.start_date, pause.end_date) == (date(2026, 10, 12), date(2026, 10, 19))
        prompted = {
            m.occurrence_key
            for m in session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.template == "visit_prompt",
                    OutboxMessage.status == OutboxStatus.SENT,
                )
            )
        }
    assert "2026-10-12" not in prompted and "2026-10-19" in prompted


def test_staff_see_the_coming_holiday_the_answer_and_their_task_in_it_in_the_digest(
    bot: BotHarness, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        # From 15 June: the child visit at 4 months falls on Thursday 15 October, in week 42.
        match = make_match(session, start=date(2026, 6, 15))
        match_id, staff_id = match.id, match.staff_id
    bot.tick(OCTOBER_FIRST)
    bot.press(FAMILY_CHAT, bot.say(FAMILY_CHAT, "/pause").data("Pause i efterårsferien"))

    bot.tick(datetime(2026, 10, 5, 6, 5, tzinfo=UTC))  # Monday 08:05: the digest

    with session_factory() as session:
        digest = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.template == "daily_digest",
                OutboxMessage.recipient_id == staff_id,
                OutboxMessage.occurrence_key == "2026-10-05",
                OutboxMessage.channel == Channel.EMAIL,
            )
        ).one()
    assert "Skoleferie inden for 14 dage (1):" in (digest.body or "")
    assert (
        f"• #{match_id} Barn A & Familien Eksempel: efterårsferie 12.10-18.10, pause; "
        "opgave i ferien: 15.10 Børnebesøg" in (digest.body or "")
    )


def key_on(calendar: SchoolCalendar, municipality: str, day: date) -> str | None:
    holiday = calendar.holiday_on(municipality, day)
    return holiday.key if holiday else None


def test_the_shipped_calendar_has_every_common_holiday_2025_to_2028() -> None:
    calendar = load_school_calendar()
    years = {
        year: sorted(h.kind for h in calendar.default if h.first.year == year)
        for year in (2025, 2026, 2027, 2028)
    }
    result = CliRunner().invoke(main, ["programme", "check", str(CALENDAR_FILE)])

    assert years == {year: sorted(KINDS) for year in (2025, 2026, 2027, 2028)}
    assert key_on(calendar, "Københavns Kommune", date(2026, 2, 11)) == "winter-2026"
    assert key_on(calendar, "", date(2027, 10, 20)) == "autumn-2027"
    assert key_on(calendar, "", date(2026, 1, 2)) == "christmas-2025"
    assert result.exit_code == 0, result.output
    assert "school holidays, 20 holidays" in result.output


def test_a_municipality_keeps_the_default_except_what_it_lists(tmp_path: Path) -> None:
    path = tmp_path / "school-holidays.yaml"
    path.write_text(
        CALENDAR_FILE.read_text(encoding="utf-8").replace(
            "municipalities: {}",
            "municipalities:\n  Vejle Kommune:\n"
            "    - {kind: winter, first: 2027-02-22, last: 2027-02-28}\n",
        ),
        encoding="utf-8",
    )
    calendar = load_school_calendar(path)

    assert key_on(calendar, "vejle", date(2027, 2, 16)) is None
    assert key_on(calendar, "Vejle", date(2027, 2, 23)) == "winter-2027"
    assert key_on(calendar, "Vejle", date(2026, 2, 11)) == "winter-2026"  # the default's
    assert key_on(calendar, "Odense", date(2027, 2, 16)) == "winter-2027"
    upcoming = calendar.next_holiday("Vejle Kommune", date(2027, 1, 10))
    assert upcoming is not None and upcoming.first == date(2027, 2, 22)


def test_check_names_the_entry_and_field_of_each_problem(tmp_path: Path) -> None:
    bad = tmp_path / "school-holidays.yaml"
    bad.write_text(
        "holidays:\n"
        "  - {kind: autum, first: 2026-10-12, last: 2026-10-18}\n"
        "  - {kind: winter, first: 2026-02-15, last: 2026-02-09}\n"
        "municipalities:\n"
        "  Vejle:\n"
        "    - {kind: summer, first: 2026-06-27, last: 2026-08-09}\n"
        "    - {kind: autumn, first: 2026-08-01, last: 2026-08-20}\n",
        encoding="utf-8",
    )
    overlap = tmp_path / "overlap.yaml"
    overlap.write_text(
        "holidays:\n"
        "  - {kind: winter, first: 2026-02-09, last: 2026-02-15}\n"
        "  - {kind: easter, first: 2026-02-14, last: 2026-02-20}\n",
        encoding="utf-8",
    )

    result = CliRunner().invoke(main, ["programme", "check", str(bad), str(overlap)])

    assert result.exit_code == 2
    assert f"{bad}: holidays, entry 1, field 'kind': Input should be 'winter'" in result.output
    assert f"{bad}: holidays, entry 2: last is before first" in result.output
    assert (
        f"{overlap}: holidays: easter from 2026-02-14 overlaps winter to 2026-02-15"
        in result.output
    )
    with pytest.raises(SchoolCalendarError) as raised:
        load_school_calendar(bad.with_name("missing.yaml"))
    assert "cannot read the file" in str(raised.value)


def test_a_match_imported_with_a_municipality_keeps_it_and_exports_it(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url})

    def run(*args: str | Path) -> Result:
        return CliRunner().invoke(main, [str(a) for a in args], obj=app)

    for kind, name in (
        ("staff", "staff.csv"),
        ("families", "families.csv"),
        ("contacts", "contacts.csv"),
    ):
        assert run("import", kind, EXAMPLES / name).exit_code == 0
    matches = tmp_path / "matches.csv"
    matches.write_text(
        "ref,programme,child_name,child_birth_year,family_ref,contact_refs,staff_ref,region,"
        "start_date,visit_weekday,municipality\n"
        "M-30,hjem-til-os,Barn D,2017,F-01,K-01,S-01,,2026-03-02,monday,Københavns Kommune\n"
        f"M-31,hjem-til-os,Barn E,2016,F-01,K-01,S-01,,2026-03-02,monday,{'x' * 65}\n",
        encoding="utf-8",
    )
    refused = run("import", "matches", matches)
    matches.write_text("\n".join(matches.read_text(encoding="utf-8").splitlines()[:2]) + "\n")
    imported = run("import", "matches", matches)
    with session_factory() as session:
        match = session.scalars(select(Match).where(Match.external_ref == "M-30")).one()
        child_id, municipality = match.child_id, match.municipality
    exported = run("person", "export", "child", str(child_id))

    assert refused.exit_code == 2
    assert "linje 3, kolonne municipality: for lang (højst 64 tegn)" in refused.output
    assert imported.exit_code == 0, imported.output
    assert municipality == "Københavns Kommune"
    assert '"municipality": "Københavns Kommune"' in exported.output


async def test_the_demo_family_paused_for_the_autumn_holiday_and_is_asked_about_christmas(
    db_url: str, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, _engine=engine)
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # the match started on 10 August
    seed(app, now)
    await replay(app, now, Runtime)

    with session_factory() as session:
        match = session.scalars(
            select(Match).join(Match.child).where(Child.first_name == "Barn A")
        ).one()
        questions = {
            m.occurrence_key: m.status
            for m in session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.match_id == match.id,
                    OutboxMessage.template == "holiday_question",
                )
            )
        }
        prompted = {
            m.occurrence_key
            for m in session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.match_id == match.id,
                    OutboxMessage.template == "visit_prompt",
                )
            )
        }
        pauses = [(p.start_date, p.end_date, p.reason) for p in match.pauses]
        municipality = match.municipality
    assert municipality == "Københavns Kommune"
    assert pauses == [(date(2026, 10, 12), date(2026, 10, 19), "school holiday autumn-2026")]
    # The autumn question went out before the seeded answer; the next one waits for 12 December.
    assert questions == {"christmas-2026": OutboxStatus.PLANNED}
    assert "2026-10-12" not in prompted and "2026-10-05" in prompted
