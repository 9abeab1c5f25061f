"""Bad input at the command line: one clear line and exit status 2, never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cast import make_match
from tests.test_cli import cli

HUGE = "99999999999999999999"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "args",
    [
        ["match", "show", HUGE],
        ["match", "pause", HUGE, "--from", "2026-07-01"],
        ["plan", HUGE],
        ["person", "export", "family", HUGE],
        ["person", "erase", "family", HUGE, "--yes"],
        ["person", "export", "family", "²"],
        ["invite", "family", HUGE],
        ["invite", "staff", "0"],
        ["ack", HUGE],
        ["ack", "1", "--staff", HUGE],
        ["resolve", "١٢", "--note", "x"],
        ["task", HUGE],
    ],
)
def test_a_20_digit_or_non_ascii_id_is_one_line_and_exit_2(
    db_url: str, session_factory: sessionmaker[Session], args: list[str]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    result = cli(db_url, *args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("venskab: "), result.output
    assert "er ikke et id" in lines[0]  # in the staff member's language, Danish by default


@pytest.mark.parametrize(
    "args",
    [
        ["--from", "9999-12-31"],
        ["--from", "2026-07-01", "--to", "9999-12-31"],
        ["--from", "2031-07-01", "--to", "2031-08-01"],
    ],
)
def test_a_pause_far_in_the_future_is_refused_with_status_2(
    db_url: str, session_factory: sessionmaker[Session], args: list[str]
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
    result = cli(db_url, "match", "pause", str(match_id), *args, now=NOW)
    assert result.exit_code == 2, result.output
    assert "er mere end to år fra i dag (1. mar. 2026)" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["tick", "--now", "0001-01-01T00:30"],
        ["tick", "--now", "9999-12-31T23:59-05:00"],
        ["sparring", "add", "--programme", "hjem-til-os", "--at", "9999-12-31T23:59-05:00"],
    ],
)
def test_a_time_out_of_range_is_one_line_and_exit_2_not_an_overflow(
    db_url: str, session_factory: sessionmaker[Session], args: list[str]
) -> None:
    result = cli(db_url, *args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "(årene 2000-2100)" in lines[0], result.output


def test_match_list_never_prints_a_terminal_escape_from_a_stored_name(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    # A name stored before imports refused control characters.
    with session_factory.begin() as session:
        match = make_match(session)
        match.volunteer_family.name = "Familien\x1b[2J\x1b]0;pwned\x07 Eksempel"
    result = cli(db_url, "match", "list")
    assert result.exit_code == 0, result.output
    assert (
        "\x1b" not in result.output and "\x00" not in result.output and "\x07" not in result.output
    )
    assert "Familien[2J]0;pwned Eksempel" in result.output
