"""The pure timeline: table-driven, with labels; time is a parameter, never the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scheduler.programme import PROGRAMMES_DIR, load_programme, parse_programme
from scheduler.timeline import MatchFacts, Occurrence, Pause, occurrences
from scheduler.working_days import is_working_day

NOW = datetime(2026, 1, 1, tzinfo=UTC)
HJEM_TIL_OS = load_programme(PROGRAMMES_DIR / "hjem-til-os.yaml")


def programme(*touchpoints: dict[str, Any], **extra: Any) -> Any:
    return parse_programme(
        {"id": "test", "name": "Test", "duration": "1y", "touchpoints": list(touchpoints), **extra}
    )


VISIT = {
    "id": "visit",
    "kind": "visit_prompt",
    "repeat": "visits",
    "offset": "1w",
    "audience": "volunteer_family",
    "channels": ["telegram"],
}


def due(prog: Any, facts: MatchFacts, touchpoint: str) -> list[datetime]:
    return [o.due for o in occurrences(prog, facts, NOW) if o.touchpoint.id == touchpoint]


# -- DST: a weekly 19:00 prompt stays at 19:00 local -------------------------------------------

DST_CASES = [
    ("winter, before the spring change", date(2026, 3, 23), 18),
    ("first Monday of summer time", date(2026, 3, 30), 17),
    ("last Monday of summer time", date(2026, 10, 19), 17),
    ("first Monday after the autumn change", date(2026, 10, 26), 18),
]


@pytest.mark.parametrize(("label", "day", "utc_hour"), DST_CASES, ids=[c[0] for c in DST_CASES])
def test_it_keeps_the_weekly_prompt_at_19_local_across_dst(
    label: str, day: date, utc_hour: int
) -> None:
    prog = programme(VISIT)
    facts = MatchFacts(timezone="Europe/Copenhagen", start_date=date(2026, 3, 2), visit_weekday=0)
    by_day = {d.date(): d for d in due(prog, facts, "visit")}
    assert by_day[day].time() == time(19, 0), label
    assert by_day[day].astimezone(UTC).hour == utc_hour, label


# -- calendar months from the end of a month ---------------------------------------------------

MONTH_CASES = [
    (
        "31 January + 1 month is the last day of February",
        date(2026, 1, 31),
        "1mo",
        date(2026, 2, 28),
    ),
    ("31 January + 4 months is 31 May", date(2026, 1, 31), "4mo", date(2026, 5, 31)),
    ("31 January + 3 months is 30 April", date(2026, 1, 31), "3mo", date(2026, 4, 30)),
    ("29 February + 1 year is 28 February", date(2028, 2, 29), "1y", date(2029, 2, 28)),
    ("29 February + 12 months is 28 February", date(2028, 2, 29), "12mo", date(2029, 2, 28)),
    ("29 February + 10 months is 29 December", date(2028, 2, 29), "10mo", date(2028, 12, 29)),
]


@pytest.mark.parametrize(
    ("label", "start", "offset", "expected"), MONTH_CASES, ids=[c[0] for c in MONTH_CASES]
)
def test_it_counts_calendar_months_from_month_ends(
    label: str, start: date, offset: str, expected: date
) -> None:
    prog = parse_programme(
        {
            "id": "t",
            "name": "T",
            "duration": "2y",
            "touchpoints": [
                {
                    "id": "x",
                    "kind": "message",
                    "offset": offset,
                    "audience": "volunteer_family",
                    "channels": ["sms"],
                }
            ],
        }
    )
    facts = MatchFacts(timezone="Europe/Copenhagen", start_date=start, visit_weekday=0)
    assert [d.date() for d in due(prog, facts, "x")] == [expected], label


def test_it_repeats_monthly_from_the_first_occurrence_without_drifting() -> None:
    prog = programme(
        {
            "id": "call",
            "kind": "message",
            "offset": "1mo",
            "repeat": {"every": "1mo", "count": 4},
            "audience": "volunteer_family",
            "channels": ["sms"],
        }
    )
    facts = MatchFacts(timezone="Europe/Copenhagen", start_date=date(2025, 12, 31), visit_weekday=0)
    assert [d.date() for d in due(prog, facts, "call")] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]


# -- cadences ----------------------------------------------------------------------------------

CADENCE_CASES = [
    (
        "weekly on the agreed weekday",
        "weekly",
        3,
        [date(2026, 3, 11), date(2026, 3, 18), date(2026, 3, 25)],
    ),
    ("every other week", "biweekly", 3, [date(2026, 3, 11), date(2026, 3, 25), date(2026, 4, 8)]),
    (
        "2-3 times a month: one prompt a week",
        "two_three_monthly",
        3,
        [date(2026, 3, 11), date(2026, 3, 18), date(2026, 3, 25)],
    ),
]


@pytest.mark.parametrize(
    ("label", "cadence", "n", "expected"), CADENCE_CASES, ids=[c[0] for c in CADENCE_CASES]
)
def test_it_prompts_on_the_programmes_cadence(
    label: str, cadence: str, n: int, expected: list[date]
) -> None:
    prog = programme(VISIT, cadence=cadence)
    facts = MatchFacts(
        timezone="Europe/Copenhagen", start_date=date(2026, 3, 2), visit_weekday=2
    )  # Wednesday
    assert [d.date() for d in due(prog, facts, "visit")][:n] == expected, label


def test_the_first_visit_is_on_the_agreed_weekday_a_week_after_the_first_meeting() -> None:
    prog = programme(VISIT)
    facts = MatchFacts(
        timezone="Europe/Copenhagen", start_date=date(2026, 3, 5), visit_weekday=0
    )  # Thursday start, Monday visits
    assert due(prog, facts, "visit")[0].date() == date(2026, 3, 16)


# -- paused and resumed ------------------------------------------------------------------------


def test_a_paused_match_gets_no_visit_prompts_during_the_pause() -> None:
    prog = programme(VISIT)
    facts = MatchFacts(
        timezone="Europe/Copenhagen",
        start_date=date(2026, 6, 1),
        visit_weekday=0,
        pauses=(Pause(date(2026, 7, 1), date(2026, 8, 3)),),  # summer holiday; back on 3 August
    )
    days = [d.date() for d in due(prog, facts, "visit")]
    assert date(2026, 6, 29) in days
    assert not [d for d in days if date(2026, 7, 1) <= d < date(2026, 8, 3)]
    assert date(2026, 8, 3) in days


def test_an_open_pause_stops_prompts_until_resumed() -> None:
    prog = programme(VISIT)
    facts = MatchFacts(
        timezone="Europe/Copenhagen",
        start_date=date(2026, 6, 1),
        visit_weekday=0,
        pauses=(Pause(date(2026, 7, 1)),),
    )
    assert max(d.date() for d in due(prog, facts, "visit")) == date(2026, 6, 29)


# -- ended early -------------------------------------------------------------------------------

EARLY = MatchFacts(
    timezone="Europe/Copenhagen",
    start_date=date(2026, 3, 2),
    visit_weekday=0,
    end_date=date(2026, 9, 14),
    ended_by="volunteer_family",
)


def test_a_match_ended_early_has_no_visit_prompts_or_calls_after_its_end() -> None:
    occs = occurrences(HJEM_TIL_OS, EARLY, NOW)
    regular = [o for o in occs if o.touchpoint.anchor not in {"match_end", "early_end"}]
    assert max(o.day for o in regular) < date(2026, 9, 14)
    assert "future-agreement" not in {o.touchpoint.id for o in occs}


def test_a_match_ended_early_by_the_family_gets_the_extra_child_visit() -> None:
    occs = {o.touchpoint.id: o for o in occurrences(HJEM_TIL_OS, EARLY, NOW)}
    assert occs["early-end-child-visit"].day == date(2026, 9, 17)
    assert "farewell-family" not in occs  # the anniversary farewell is for a year completed
    assert occs["end-survey"].day == date(2026, 9, 14)  # lasted more than 3 months


def test_an_early_end_by_the_childs_family_gets_no_extra_child_visit() -> None:
    facts = MatchFacts(
        timezone="Europe/Copenhagen",
        start_date=date(2026, 3, 2),
        visit_weekday=0,
        end_date=date(2026, 9, 14),
        ended_by="child_family",
    )
    assert "early-end-child-visit" not in {
        o.touchpoint.id for o in occurrences(HJEM_TIL_OS, facts, NOW)
    }


def test_a_match_that_lasted_under_three_months_gets_no_end_survey() -> None:
    facts = MatchFacts(
        timezone="Europe/Copenhagen",
        start_date=date(2026, 3, 2),
        visit_weekday=0,
        end_date=date(2026, 4, 20),
        ended_by="volunteer_family",
    )
    assert "end-survey" not in {o.touchpoint.id for o in occurrences(HJEM_TIL_OS, facts, NOW)}


# -- Danish public holidays --------------------------------------------------------------------

HOLIDAY_CASES = [
    ("Christmas Day moves to the next working day", date(2026, 2, 25), date(2026, 12, 28)),
    ("Christmas Eve is no working day either", date(2026, 2, 24), date(2026, 12, 28)),
    ("Constitution Day (5 June) moves to Monday", date(2025, 8, 5), date(2026, 6, 8)),
    ("a Sunday moves to Monday", date(2026, 3, 3), date(2027, 1, 4)),  # 3 Jan 2027
]


@pytest.mark.parametrize(
    ("label", "start", "expected"), HOLIDAY_CASES, ids=[c[0] for c in HOLIDAY_CASES]
)
def test_a_staff_task_on_a_public_holiday_moves_to_the_next_working_day(
    label: str, start: date, expected: date
) -> None:
    occs = {
        o.touchpoint.id: o
        for o in occurrences(
            HJEM_TIL_OS,
            MatchFacts(timezone="Europe/Copenhagen", start_date=start, visit_weekday=0),
            NOW,
        )
    }
    assert occs["future-agreement"].day == expected, label


def test_visit_prompts_stay_on_the_visit_day_even_on_a_holiday() -> None:
    prog = programme(VISIT)
    facts = MatchFacts(
        timezone="Europe/Copenhagen", start_date=date(2026, 12, 10), visit_weekday=3
    )  # Thursdays: 24 Dec 2026
    assert date(2026, 12, 24) in [d.date() for d in due(prog, facts, "visit")]
    assert not is_working_day(date(2026, 12, 24))


# -- the Hjem til Os year, as the issue describes it ------------------------------------------


def test_the_hjem_til_os_year_plan_from_monday_2_march_2026() -> None:
    facts = MatchFacts(timezone="Europe/Copenhagen", start_date=date(2026, 3, 2), visit_weekday=0)
    occs = occurrences(HJEM_TIL_OS, facts, NOW)
    first: dict[str, Occurrence] = {}
    for o in occs:
        first.setdefault(o.touchpoint.id, o)
    assert first["weekly-visit"].day == date(2026, 3, 9)  # weekly visits start the week after
    assert first["first-visit-call"].day == date(2026, 3, 10)  # the day after the first solo visit
    assert first["child-visit"].day == date(2026, 7, 2)  # about 4 months
    assert first["future-agreement"].day == date(2027, 1, 4)  # 10 months: 2 Jan 2027 is a Saturday
    assert first["farewell-family"].day == date(2027, 3, 2)
    assert first["farewell-parent"].day == date(2027, 3, 2)
    assert first["end-survey"].day == date(2027, 3, 2)
    sessions = sorted({o.session.starts_at.date() for o in occs if o.session is not None})
    gaps = {(b - a).days for a, b in pairwise(sessions)}
    assert len(sessions) == 6 and gaps <= {56, 63, 70}  # every other month
    visits = [o for o in occs if o.touchpoint.id == "weekly-visit"]
    assert len(visits) == 52 and visits[-1].day < date(2027, 3, 2)


def test_the_timeline_reads_no_clock_only_now() -> None:
    facts = MatchFacts(timezone="Europe/Copenhagen", start_date=date(2026, 3, 2), visit_weekday=0)
    a = occurrences(HJEM_TIL_OS, facts, datetime(2026, 1, 1, tzinfo=UTC))
    b = occurrences(HJEM_TIL_OS, facts, datetime(2026, 5, 1, tzinfo=UTC))
    assert [(o.touchpoint.id, o.key, o.due) for o in a] == [
        (o.touchpoint.id, o.key, o.due) for o in b
    ]
    assert [o.is_past(datetime(2026, 5, 1, tzinfo=UTC)) for o in b].count(True) > 0


def test_a_sparring_rule_may_end_with_until_in_utc_as_calendar_programs_write_it() -> None:
    from scheduler.timeline import sparring_dates

    prog = programme(
        sparring={
            "rrule": "FREQ=MONTHLY;INTERVAL=2;BYDAY=+1TU;UNTIL=20260707T173000Z",
            "dtstart": "2026-01-01",
            "at": "19:30",
        }
    )
    sessions = sparring_dates(
        prog, date(2026, 1, 1), date(2026, 12, 31), ZoneInfo("Europe/Copenhagen")
    )
    # 7 July 19:30 in Copenhagen is 17:30 UTC: that session is the last one.
    assert [s.key for s in sessions] == ["2026-01-06", "2026-03-03", "2026-05-05", "2026-07-07"]
    assert all(s.starts_at.hour == 19 for s in sessions)
