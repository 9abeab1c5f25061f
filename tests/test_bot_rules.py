"""The bot's pure rules, as tables and properties: callback data, dates people type, stored
text, and the persistence's conversation states."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from bot import callbacks as cb
from bot.buttons import buttons_for, mood_buttons, rsvp_buttons, visit_buttons
from bot.formatting import chunks, parse_day, parse_period
from bot.persistence import DbPersistence
from followup.visits import TEXT_LIMIT, clean_text
from store.models import Audience, Cadence, Channel, Locale, Match, OutboxMessage
from store.validation import contains_cpr

ids = st.integers(1, cb.MAX_ID)  # the database's integer range
days = st.dates(date(2000, 1, 1), date(2999, 12, 31))


@given(match=ids, session=ids, day=days, locale=st.sampled_from(["da", "en"]))
def test_every_button_the_bot_makes_fits_in_64_bytes_and_parses_back(
    match: int, session: int, day: date, locale: str
) -> None:
    rows = [
        *visit_buttons(match, day, "weekly", locale),
        *visit_buttons(match, day, "two_three_monthly", locale),
        *mood_buttons(match, "d" + cb.day_code(day), locale),
        *rsvp_buttons(match, session, locale),
    ]
    for row in rows:
        for button in row:
            assert button.callback_data is not None
            assert len(button.callback_data.encode()) <= 64
            parsed = cb.parse(button.callback_data)
            assert parsed is not None and parsed.match_id == match


@given(st.text(max_size=80))
def test_arbitrary_callback_data_never_raises(data: str) -> None:
    cb.parse(data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("v1|v|12|20260309|y", cb.Callback("v", 12, ("20260309", "y"))),
        ("v1|rs|3|44|n", cb.Callback("rs", 3, ("44", "n"))),
        ("v1|ack|7", cb.Callback("ack", None, ("7",))),
        ("v1|lg|en", cb.Callback("lg", None, ("en",))),
        ("v1|v|12|20260309|q", None),
        ("v1|v|-12|20260309|y", None),
        ("v1|v|012|20260309|y", None),
        ("v1|v|12|20260309|y|", None),
        ("v2|v|12|20260309|y", None),
        ("visit:17:yes", None),
        ("v1|ck|1|d2026030|5", None),
        ("v1|ck|1|t0|6", None),
    ],
)
def test_callback_data_is_parsed_exactly(data: str, expected: cb.Callback | None) -> None:
    assert cb.parse(data) == expected


@pytest.mark.parametrize(
    ("text", "near", "expected"),
    [
        ("12/3", date(2026, 3, 9), date(2026, 3, 12)),
        ("12.3.2027", date(2026, 3, 9), date(2027, 3, 12)),
        ("2026-03-12", date(2026, 3, 9), date(2026, 3, 12)),
        ("torsdag den 12. marts", date(2026, 3, 9), date(2026, 3, 12)),
        ("2 jan", date(2026, 12, 28), date(2027, 1, 2)),  # the nearest, across new year
        ("31/2", date(2026, 3, 9), None),
        ("i morgen", date(2026, 3, 9), None),
        ("12/3 eller 13/3", date(2026, 3, 9), None),
    ],
)
def test_a_single_date_is_read_the_way_people_write_it(
    text: str, near: date, expected: date | None
) -> None:
    assert parse_day(text, near) == expected


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("1/7-9/8", date(2026, 3, 9), (date(2026, 7, 1), date(2026, 8, 9))),
        ("1. juli til 9. august", date(2026, 3, 9), (date(2026, 7, 1), date(2026, 8, 9))),
        ("20/12 - 3/1", date(2026, 3, 9), (date(2026, 12, 20), date(2027, 1, 3))),
        ("2026-07-01 2026-07-31", date(2026, 3, 9), (date(2026, 7, 1), date(2026, 7, 31))),
        ("1/2-5/2", date(2026, 3, 9), (date(2027, 2, 1), date(2027, 2, 5))),  # next February
        ("sommerferien", date(2026, 3, 9), None),
        ("1/7", date(2026, 3, 9), None),
    ],
)
def test_a_pause_period_is_read_as_first_and_last_day(
    text: str, today: date, expected: tuple[date, date] | None
) -> None:
    assert parse_period(text, today) == expected


@given(st.text(alphabet=st.sampled_from("0123456789- aæ\x00\n"), max_size=2100) | st.text())
def test_stored_text_has_no_control_characters_no_cpr_and_a_bounded_length(text: str) -> None:
    cleaned = clean_text(text)
    assert len(cleaned) <= TEXT_LIMIT
    assert "\x00" not in cleaned
    assert not contains_cpr(cleaned)


@given(st.text(min_size=1, max_size=12000) | st.text(alphabet="😊a\n ", min_size=1, max_size=9000))
def test_long_replies_are_split_into_messages_telegram_accepts(text: str) -> None:
    parts = chunks(text)
    # Telegram counts UTF-16 units: an emoji outside the BMP is two.
    assert all(1 <= len(p.encode("utf-16-le")) // 2 <= 4096 and p.strip() for p in parts)


def test_buttons_for_gives_the_visit_prompt_and_its_reminder_the_same_answers() -> None:
    match = Match(id=12, cadence=Cadence.WEEKLY, programme_id=1, region="")

    def row(occurrence: str, kind: str = "visit_prompt") -> OutboxMessage:
        return OutboxMessage(
            kind=kind,
            occurrence_key=occurrence,
            audience=Audience.VOLUNTEER_FAMILY,
            locale=Locale.EN,
            channel=Channel.TELEGRAM,
            context={},
        )

    prompt = buttons_for(row("2026-03-09"), match)
    reminder = buttons_for(row("2026-03-09:r1"), match)

    assert prompt == reminder
    assert [b.text for b in prompt[0]] == ["✅ Visited", "❌ Cancelled", "📅 Moved"]
    assert buttons_for(row("1", "message"), match) == ()
    assert buttons_for(row("garbage"), match) == ()


async def test_conversation_states_survive_a_new_persistence(
    session_factory: sessionmaker[Session],
) -> None:
    first = DbPersistence(session_factory)
    await first.update_conversation("flow", (5001, 5001), "WAITING_FOR_TEXT")
    await first.update_conversation("flow", (5002, 5002), 3)
    await first.update_conversation("flow", (5002, 5002), None)

    second = DbPersistence(session_factory)

    assert await second.get_conversations("flow") == {(5001, 5001): "WAITING_FOR_TEXT"}
    assert await second.get_conversations("other") == {}
