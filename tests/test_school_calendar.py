"""The school calendar: Danish school holidays per municipality, offered as a pause in /pause.

Through the real bot against the fake Bot API, with the clock the test sets, and the command line
against the test database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.school_calendar import (
    CALENDAR_FILE,
    KINDS,
    SchoolCalendar,
    SchoolCalendarError,
    load_school_calendar,
)
from store.models import Locale, Match, MatchPause
from tests.support.bot_harness import FAMILY_CHAT, BotHarness, snapshot
from tests.support.cast import make_match
from venskab.cli import main
from venskab.cli.common import AppContext

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# 1 October 2026, a Thursday evening: the autumn holiday (week 42) is 12-18 October.
OCTOBER_FIRST = datetime(2026, 10, 1, 17, 0, tzinfo=UTC)


def family_match(session_factory: sessionmaker[Session], locale: str = "da") -> int:
    with session_factory.begin() as session:
        match = make_match(session)  # Hjem til Os from 2 March 2026, visits on Mondays
        match.volunteer_family.locale = Locale(locale)
        return match.id


def visit_prompts(sent: object, match_id: int, day: str) -> list[str]:
    return [
        str(p.get("reply_markup"))
        for p in sent.of("sendMessage")  # type: ignore[attr-defined]
        if f"v1|v|{match_id}|{day}|y" in str(p.get("reply_markup"))
    ]


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
            "The pause is noted: from Monday, 12 October 2026 to Sunday, 18 October 2026.",
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
    with session_factory() as session:
        pause = session.scalars(select(MatchPause).where(MatchPause.match_id == match_id)).one()
        assert (pause.start_date, pause.end_date, pause.reason) == (
            date(2026, 10, 12),
            date(2026, 10, 19),
            "school holiday autumn-2026",
        )
    assert not visit_prompts(in_holiday, match_id, "20261012")
    assert visit_prompts(back, match_id, "20261019")


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
        "The pause is noted: from Wednesday, 14 October 2026 to Sunday, 18 October 2026."
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
        match_id, municipality = match.id, match.municipality
    exported = run("person", "export", "child", str(match_id))

    assert refused.exit_code == 2
    assert "line 3, column municipality: too long (at most 64 characters)" in refused.output
    assert imported.exit_code == 0, imported.output
    assert municipality == "Københavns Kommune"
    assert '"municipality": "Københavns Kommune"' in exported.output
