"""When a message may go out: quiet hours per channel, weekends, Danish public holidays, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from scheduler.rules import next_allowed
from tests.support.cast import PROGRAMMES

CPH = ZoneInfo("Europe/Copenhagen")
PROGRAMME = PROGRAMMES["hjem-til-os"]


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CPH)


CASES = [
    (
        "an SMS inside weekday hours goes at once",
        "sms",
        local(2026, 3, 3, 10, 0),
        local(2026, 3, 3, 10, 0),
    ),
    (
        "an SMS at 21:00 on a Tuesday waits for 08:00",
        "sms",
        local(2026, 3, 3, 21, 0),
        local(2026, 3, 4, 8, 0),
    ),
    ("an SMS at 06:30 waits for 08:00", "sms", local(2026, 3, 4, 6, 30), local(2026, 3, 4, 8, 0)),
    (
        "an SMS on Saturday at 09:00 waits for 10:00",
        "sms",
        local(2026, 3, 7, 9, 0),
        local(2026, 3, 7, 10, 0),
    ),
    (
        "an SMS on Sunday at 19:00 waits for Monday 08:00",
        "sms",
        local(2026, 3, 8, 19, 0),
        local(2026, 3, 9, 8, 0),
    ),
    (
        "a call on Christmas Eve waits for the 27th at 10:00 (a Sunday)",
        "voice",
        local(2026, 12, 24, 11, 0),
        local(2026, 12, 27, 10, 0),
    ),
    (
        "an SMS on New Year's Eve waits for 2 January (1 January is a holiday)",
        "sms",
        local(2026, 12, 31, 12, 0),
        local(2027, 1, 2, 10, 0),
    ),
    (
        "an SMS on Constitution Day waits for the next day",
        "sms",
        local(2026, 6, 5, 12, 0),
        local(2026, 6, 6, 10, 0),
    ),
    (
        "an SMS on Easter Monday waits for Tuesday",
        "sms",
        local(2026, 4, 6, 9, 0),
        local(2026, 4, 7, 8, 0),
    ),
    (
        "Telegram has no quiet hours by default",
        "telegram",
        local(2026, 3, 3, 23, 0),
        local(2026, 3, 3, 23, 0),
    ),
    (
        "email has no quiet hours by default",
        "email",
        local(2026, 12, 24, 23, 0),
        local(2026, 12, 24, 23, 0),
    ),
    (
        "the night DST starts: 08:00 is still 08:00 local",
        "sms",
        local(2026, 3, 29, 2, 30),
        local(2026, 3, 29, 10, 0),
    ),
    (
        "the night DST ends: 08:00 is still 08:00 local",
        "sms",
        local(2026, 10, 26, 1, 0),
        local(2026, 10, 26, 8, 0),
    ),
]


@pytest.mark.parametrize(
    ("label", "channel", "wanted", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_it_moves_a_send_to_the_next_allowed_moment(
    label: str, channel: str, wanted: datetime, expected: datetime
) -> None:
    assert next_allowed(wanted, channel, PROGRAMME, CPH) == expected.astimezone(UTC), label


def test_a_programme_can_set_its_own_quiet_hours() -> None:
    from scheduler.programme import parse_programme

    programme = parse_programme(
        {
            "id": "late",
            "name": "Late",
            "quiet_hours": {"sms": {"weekdays": "09:00-21:30"}},
            "touchpoints": [
                {"id": "x", "kind": "message", "audience": "volunteer_family", "channels": ["sms"]}
            ],
        }
    )
    assert next_allowed(local(2026, 3, 3, 21, 0), "sms", programme, CPH) == local(
        2026, 3, 3, 21, 0
    ).astimezone(UTC)
    assert next_allowed(local(2026, 3, 3, 8, 0), "sms", programme, CPH) == local(
        2026, 3, 3, 9, 0
    ).astimezone(UTC)


def test_1_may_is_an_ordinary_day_unless_the_organisation_makes_it_a_day_off() -> None:
    from scheduler.working_days import is_working_day, set_days_off

    noon = local(2026, 5, 1, 12, 0)  # a Friday
    assert is_working_day(date(2026, 5, 1))
    assert next_allowed(noon, "sms", PROGRAMME, CPH) == noon.astimezone(UTC)
    try:
        set_days_off(((5, 1),))  # VENSKAB_EXTRA_DAYS_OFF=05-01
        assert not is_working_day(date(2026, 5, 1))
        assert next_allowed(noon, "sms", PROGRAMME, CPH) > noon.astimezone(UTC)
    finally:
        set_days_off()


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 4, 2), "Skærtorsdag"),
        (date(2026, 6, 5), "Grundlovsdag"),
        (date(2026, 12, 24), "Juleaftensdag"),
        (date(2026, 12, 31), "Nytårsaftensdag"),
    ],
)
def test_the_days_danes_keep_off_hold_sms_and_staff_tasks(day: date, name: str) -> None:
    from scheduler.working_days import holiday_name, is_working_day

    assert holiday_name(day) == name
    assert not is_working_day(day)


def test_a_visit_prompt_after_the_sms_window_goes_earlier_the_same_day_not_next_morning() -> None:
    from scheduler.rules import allowed_on_the_day

    sunday_evening = local(2026, 3, 8, 19, 0)  # weekend SMS window 10-18
    assert next_allowed(sunday_evening, "sms", PROGRAMME, CPH).date() == date(2026, 3, 9)
    assert allowed_on_the_day(sunday_evening, "sms", PROGRAMME, CPH) == local(
        2026, 3, 8, 17, 59
    ).astimezone(UTC)
    # Telegram has no quiet hours: the prompt keeps its time.
    assert allowed_on_the_day(sunday_evening, "telegram", PROGRAMME, CPH) == sunday_evening
    # On a public holiday there is no window that day: it goes on the next allowed day.
    good_friday = local(2026, 4, 3, 19, 0)
    assert allowed_on_the_day(good_friday, "sms", PROGRAMME, CPH).date() > good_friday.date()
