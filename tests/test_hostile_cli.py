"""Bad input at the command line: one clear line and exit status 2, never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from followup.escalations import raise_escalation
from store.models import Escalation, Match, Severity, Task
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
        ["resolve", "١٢", "--outcome", "handled", "--note", "x"],
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


FAR = "9999-12-31"
EARLY = "0001-01-01"


@pytest.mark.parametrize(
    "args",
    [
        # Every id a command takes, 20 digits long.
        ["match", "show", HUGE],
        ["match", "edit", HUGE, "--start", "2026-03-09"],
        ["match", "pause", HUGE, "--from", "2026-07-01"],
        ["match", "resume", HUGE],
        ["match", "end", HUGE, "--by", "term"],
        ["match", "rematch", HUGE, "--family", "1", "--start", "2026-07-01"],
        ["plan", HUGE],
        ["person", "export", "family", HUGE],
        ["person", "erase", "child", HUGE, "--yes"],
        ["ack", HUGE],
        ["snooze", HUGE, "--until", "2026-03-12"],
        ["snooze", "1", "--until", "2026-03-12", "--staff", HUGE],
        ["resolve", HUGE, "--outcome", "handled", "--note", "x"],
        ["resolve", "1", "--outcome", "handled", "--note", "x", "--staff", HUGE],
        ["tasks", "--staff", HUGE],
        ["task", HUGE, "--outcome", "done"],
        ["staff", "passwd", HUGE],
        ["staff", "passwd", "²"],
        ["contact", "add", HUGE, "--with", "family", "--kind", "call"],
        ["contact", "consent", HUGE, "--photos", "yes"],
        ["invite", "family", HUGE],
        ["invite", "staff", HUGE],
        ["sparring", "show", HUGE],
        ["calendar", "revoke", HUGE],
        # Every date or time a command takes, far out of range.
        ["tick", "--now", FAR],
        ["simulate", "--from", EARLY, "--to", FAR],
        ["simulate", "--from", "2026-03-01", "--to", "2026-03-02", "--every", "99999999999999d"],
        ["simulate", "--from", "2026-03-01", "--to", "2026-03-02", "--every", "²d"],
        ["match", "edit", "{match}", "--start", FAR],
        ["match", "pause", "{match}", "--from", EARLY],
        ["match", "resume", "{match}", "--on", FAR],
        ["match", "end", "{match}", "--by", "term", "--on", EARLY],
        ["match", "rematch", "{match}", "--family", "1", "--start", FAR],
        ["report", "matches", "--from", EARLY, "--to", FAR],
        ["report", "stability", "--from", EARLY, "--to", FAR],
        ["report", "followup", "--from", EARLY, "--to", FAR],
        ["report", "surveys", "--from", EARLY, "--to", FAR],
        ["report", "invoices", "--to", FAR],
        ["contact", "add", "{match}", "--with", "family", "--kind", "call", "--on", FAR],
        ["contact", "consent", "1", "--photos", "yes", "--on", FAR],
        ["snooze", "{case}", "--until", FAR],
        ["task", "1", "--outcome", "rescheduled", "--to", f"{FAR}T10:00"],
        ["sparring", "add", "--programme", "hjem-til-os", "--at", EARLY],
    ],
)
def test_every_command_answers_a_huge_id_or_an_extreme_date_with_one_line_and_exit_2(
    db_url: str, session_factory: sessionmaker[Session], args: list[str]
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)
        case = raise_escalation(
            session, match, "worry", now=NOW, severity=Severity.URGENT, evidence={"text": "x"}
        )
        ids = {"match": str(match.id), "case": str(case.id)}
    result = cli(db_url, *[arg.format(**ids) for arg in args], now=NOW)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("venskab: "), result.output


def test_a_report_for_years_out_of_range_says_which_years_it_covers(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    result = cli(db_url, "report", "followup", "--from", EARLY, "--to", FAR, now=NOW)
    assert result.exit_code == 2, result.output
    assert "en rapport dækker dage i årene 2000-2100" in result.output


def test_notes_and_reasons_typed_at_the_command_line_are_stored_without_control_characters(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)
        case = raise_escalation(
            session, match, "worry", now=NOW, severity=Severity.URGENT, evidence={"text": "x"}
        )
        task = Task(match_id=match.id, kind="call", title="Ring", due_at=NOW)
        session.add(task)
        session.flush()
        ids = (match.id, case.id, task.id)
    hostile = "Talt med\x1b[2J familien\x07 – كل شيء بخير\x00"
    for args in (
        ["resolve", str(ids[1]), "--outcome", "handled", "--note", hostile],
        ["task", str(ids[2]), "--outcome", "done", "--note", hostile],
        ["match", "pause", str(ids[0]), "--from", "2026-07-01", "--reason", hostile],
    ):
        result = cli(db_url, *args, now=NOW)
        assert result.exit_code == 0, result.output
    with session_factory() as session:
        stored = [
            session.get_one(Escalation, ids[1]).resolution_note,
            session.get_one(Task, ids[2]).outcome_note,
            session.get_one(Match, ids[0]).pauses[0].reason,
        ]
    assert stored == ["Talt med[2J familien – كل شيء بخير"] * 3
