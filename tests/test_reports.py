"""Reports a coordinator or an evaluator loads as they are, from a seeded quarter whose figures
are worked out by hand below."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from followup.reports import REPORTS
from store.models import (
    CancelledBy,
    EndedBy,
    Escalation,
    EscalationStatus,
    MatchPause,
    MatchStatus,
    StaffContact,
    SurveyInvitation,
    Task,
    TaskStatus,
    Visit,
    VisitStatus,
)
from tests.support.cast import make_match
from venskab.cli import main
from venskab.cli.common import AppContext

NOW = datetime(2026, 4, 15, 10, tzinfo=UTC)
QUARTER = ("--from", "2026-01-01", "--to", "2026-03-31")


def cli(db_url: str, *args: str) -> Result:
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, now_override=NOW)
    return CliRunner().invoke(main, list(args), obj=app)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture
def quarter(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Four matches over the first quarter of 2026.

    - A (Hjem til Os, Mondays) from 5 January, ended by the volunteer family on 27 February;
      paused 9-15 February; in January visited 5th and 26th, cancelled by the child's family on
      the 12th, missed on the 19th. Two tasks done (one on time, one late), one open; two cases;
      calls with the family on 15 January and 20 February.
    - C: the same child again, from 2 March (a re-match).
    - B (Mentorbarn, a sibling) from 3 February 2025: a year old on 3 February 2026.
    - D (Mentorbarn) from 1 December 2025: its invoice falls due on 1 March 2026.
    """
    with session_factory.begin() as session:
        a = make_match(session, start=date(2026, 1, 5), telegram_chat_id=None)
        a.status, a.end_date, a.ended_by = (
            MatchStatus.ENDED,
            date(2026, 2, 27),
            EndedBy.VOLUNTEER_FAMILY,
        )
        a.end_reason = "Flytter"
        a.external_ref = '=HYPERLINK("http://x")'
        a.pauses.append(MatchPause(start_date=date(2026, 2, 9), end_date=date(2026, 2, 16)))
        for day, status, by in (
            ("2026-01-05", VisitStatus.VISITED, None),
            ("2026-01-12", VisitStatus.CANCELLED, CancelledBy.CHILD_FAMILY),
            ("2026-01-19", VisitStatus.MISSED, None),
            ("2026-01-26", VisitStatus.VISITED, None),
        ):
            session.add(
                Visit(
                    match_id=a.id,
                    planned_date=date.fromisoformat(day),
                    status=status,
                    cancelled_by=by,
                )
            )
        for n, (due, done, task_status) in enumerate(
            (
                (at("2026-01-20", 10), at("2026-01-20", 14), TaskStatus.DONE),
                (at("2026-02-02", 10), at("2026-02-05", 9), TaskStatus.DONE),
                (at("2026-02-10", 10), None, TaskStatus.OPEN),
            )
        ):
            session.add(
                Task(
                    match_id=a.id,
                    kind="call",
                    title=f"Opkald {n}",
                    due_at=due,
                    status=task_status,
                    completed_at=done,
                )
            )
        for rule, opened, acked, resolved in (
            ("missed_visits", at("2026-01-21", 8), at("2026-01-21", 10), at("2026-01-22", 8)),
            ("worry", at("2026-02-03", 8), at("2026-02-03", 12), None),
        ):
            session.add(
                Escalation(
                    match_id=a.id,
                    rule=rule,
                    summary=rule,
                    created_at=opened,
                    acknowledged_at=acked,
                    resolved_at=resolved,
                    status=EscalationStatus.RESOLVED if resolved else EscalationStatus.ACKNOWLEDGED,
                )
            )
        session.add_all(
            [
                StaffContact(match_id=a.id, party="volunteer_family", kind="call", on_date=day)
                for day in (date(2026, 1, 15), date(2026, 2, 20))
            ]
        )
        c = make_match(session, start=date(2026, 3, 2), telegram_chat_id=None)
        session.flush()
        session.add(  # after the quarter: not counted in it
            StaffContact(
                match_id=c.id, party="contact_person", kind="visit", on_date=date(2026, 4, 10)
            )
        )
        c.child = a.child
        b = make_match(
            session, programme="mentorbarn", start=date(2025, 2, 3), telegram_chat_id=None
        )
        b.sibling, b.region = True, "Syddanmark"
        d = make_match(
            session, programme="mentorbarn", start=date(2025, 12, 1), telegram_chat_id=None
        )
        for match, due in ((b, at("2025-05-03", 8)), (d, at("2026-03-01", 8))):
            session.add(
                Task(
                    match_id=match.id,
                    touchpoint_id="invoice-reminder",
                    kind="staff_task",
                    title="Fakturér kommunen",
                    due_at=due,
                )
            )
        for n, (was_sent, was_opened, was_completed, step) in enumerate(
            (
                (True, True, True, 0),
                (True, True, True, 2),
                (True, False, False, 1),
                (False, False, False, 0),
            )
        ):
            session.add(
                SurveyInvitation(
                    match_id=a.id,
                    survey_id="foraeldre",
                    wave="end",
                    nonce=f"n{n}",
                    token_hash=f"h{n}",
                    expires_at=at("2026-06-01"),
                    sent_at=at("2026-03-01") if was_sent else None,
                    opened_at=at("2026-03-02") if was_opened else None,
                    completed_at=at("2026-03-03") if was_completed else None,
                    reminder_step=step,
                )
            )
        session.flush()
        return {"a": a.id, "b": b.id, "c": c.id, "d": d.id}


def test_the_matches_report_says_who_started_ended_and_lasted_a_year(
    db_url: str, quarter: dict[str, int]
) -> None:
    result = cli(db_url, "report", "matches", *QUARTER)
    assert result.exit_code == 0, result.output
    rows = {int(r["match_id"]): r for r in rows_of(result.output)}
    assert set(rows) == {quarter["a"], quarter["b"], quarter["c"], quarter["d"]}
    a, b, c = rows[quarter["a"]], rows[quarter["b"]], rows[quarter["c"]]
    assert (a["status"], a["end_date"], a["ended_by"]) == (
        "ended",
        "2026-02-27",
        "volunteer_family",
    )
    assert (a["days_running"], a["active_at_one_year"], a["rematch"]) == ("53", "no", "false")
    assert (b["days_running"], b["active_at_one_year"], b["sibling"]) == ("421", "yes", "true")
    assert (c["active_at_one_year"], c["rematch"]) == ("not_yet", "true")
    assert a["match_ref"].startswith("'=")  # a spreadsheet shows it, never runs it
    assert "Flytter" not in result.output and "Barn A" not in result.output  # no free text, names


def test_stability_counts_each_month_with_its_paused_weeks_left_out(
    db_url: str, quarter: dict[str, int]
) -> None:
    result = cli(db_url, "report", "stability", *QUARTER, "--programme", "hjem-til-os")
    assert result.exit_code == 0, result.output
    rows = {(int(r["match_id"]), r["month"]): r for r in rows_of(result.output)}
    january, february = rows[(quarter["a"], "2026-01")], rows[(quarter["a"], "2026-02")]
    assert (quarter["a"], "2026-03") not in rows  # ended in February
    assert {k: january[k] for k in ("visits_confirmed", "cancelled_by_child_family", "missed")} == {
        "visits_confirmed": "2",
        "cancelled_by_child_family": "1",
        "missed": "1",
    }
    # Mondays 5, 12, 19, 26 January; visits on the 5th and the 26th; 6-25 January without one.
    assert (january["visit_weeks"], january["weeks_with_visit"]) == ("4", "2")
    assert (january["share_of_weeks_with_visit"], january["longest_gap_days"]) == ("0.5", "20")
    # Mondays 2, 9 (paused), 16, 23 February; the match ended on the 27th.
    assert (february["visit_weeks"], february["weeks_with_visit"]) == ("3", "0")
    assert february["longest_gap_days"] == "27"
    assert {int(r["match_id"]) for r in rows_of(result.output)} == {quarter["a"], quarter["c"]}


def test_followup_shows_tasks_on_time_and_how_long_cases_waited(
    db_url: str, quarter: dict[str, int]
) -> None:
    result = cli(db_url, "report", "followup", *QUARTER)
    assert result.exit_code == 0, result.output
    a = next(r for r in rows_of(result.output) if int(r["match_id"]) == quarter["a"])
    assert (a["tasks_due"], a["tasks_done"], a["tasks_done_on_time"], a["tasks_open"]) == (
        "3",
        "2",
        "1",
        "1",
    )
    assert (a["contacts_with_family"], a["contacts_with_parent"]) == ("2", "0")
    rows = {int(r["match_id"]): r for r in rows_of(result.output)}
    c, b = rows[quarter["c"]], rows[quarter["b"]]
    assert c["contacts_with_parent"] == "0"
    # Who has not been contacted as promised: B (Mentorbarn, every 3 months, never) is behind;
    # C's first contacts are due by 2 April, after the quarter; A has ended.
    assert (b["behind_contact_standard"], b["next_contact_with_family_due"]) == (
        "true",
        "2025-05-03",
    )
    assert (c["behind_contact_standard"], c["next_contact_with_parent_due"]) == (
        "false",
        "2026-04-02",
    )
    assert a["behind_contact_standard"] == "false"
    later = rows_of(cli(db_url, "report", "followup", "--to", "2026-04-14").output)
    assert {r["match_id"]: r["behind_contact_standard"] for r in later}[str(quarter["c"])] == "true"
    assert (a["cases_opened"], a["cases_by_rule"]) == ("2", "missed_visits:1 worry:1")
    assert (a["median_hours_to_acknowledge"], a["median_hours_to_resolve"]) == ("3.0", "24.0")


def test_the_survey_funnel_adds_up_step_by_step(db_url: str, quarter: dict[str, int]) -> None:
    result = cli(db_url, "report", "surveys")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.output)
    assert [
        (
            r["reminder_step"],
            r["completed_at_step"],
            r["completed_by_step"],
            r["response_rate_by_step"],
        )
        for r in rows
    ] == [("0", "1", "1", "0.333"), ("1", "0", "1", "0.333"), ("2", "1", "2", "0.667")]
    assert {(r["invited"], r["sent"], r["opened"]) for r in rows} == {("4", "3", "2")}
    assert sum(int(r["completed_at_step"]) for r in rows) == int(rows[-1]["completed_by_step"])


def test_invoices_due_in_the_period_with_the_sibling_price(
    db_url: str, quarter: dict[str, int]
) -> None:
    result = cli(db_url, "report", "invoices", *QUARTER)
    assert result.exit_code == 0, result.output
    assert [
        (int(r["match_id"]), r["invoice_due_on"], r["price"]) for r in rows_of(result.output)
    ] == [(quarter["d"], "2026-03-01", "full")]
    year = cli(db_url, "report", "invoices", "--from", "2025-01-01", "--to", "2026-03-31")
    assert [r["price"] for r in rows_of(year.output)] == ["half", "full"]


def test_the_xlsx_holds_the_csv_numbers_typed_and_its_codebook(
    db_url: str, quarter: dict[str, int], tmp_path: Path
) -> None:
    as_csv = rows_of(cli(db_url, "report", "stability", *QUARTER).output)
    target = tmp_path / "stability.xlsx"
    result = cli(db_url, "report", "stability", *QUARTER, "--format", "xlsx", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert f"stability: {len(as_csv)} rækker" in result.output
    book = load_workbook(target)
    assert book.sheetnames == ["stability", "codebook"]
    values = list(book["stability"].iter_rows(values_only=True))
    header, body = values[0], values[1:]
    assert list(header) == list(as_csv[0])
    for sheet_row, csv_row in zip(body, as_csv, strict=True):
        for name, value in zip(header, sheet_row, strict=True):
            text = csv_row[name]
            if isinstance(value, bool):
                assert text == str(value).lower(), name
            elif isinstance(value, int | float):
                assert float(text) == value, name
            else:
                assert ("" if value is None else str(value)) == text.lstrip("'"), name
    first_of_a = next(n for n, r in enumerate(body) if r[0] == quarter["a"])
    ref = body[first_of_a][header.index("match_ref")]
    cell = book["stability"].cell(row=first_of_a + 2, column=header.index("match_ref") + 1)
    assert ref == '=HYPERLINK("http://x")' and cell.data_type == "s"  # text, not a formula
    assert isinstance(body[0][header.index("visits_confirmed")], int)
    codebook = [r[1] for r in book["codebook"].iter_rows(min_row=2, values_only=True)]
    assert codebook == list(header)


def test_every_column_is_in_the_codebook_with_a_description(db_url: str) -> None:
    result = cli(db_url, "report", "codebook")
    assert result.exit_code == 0, result.output
    book = rows_of(result.output)
    for name, report in REPORTS.items():
        described = [(r["column"], r["type"]) for r in book if r["report"] == name]
        assert described == [(c.name, c.type) for c in report.columns]
    assert all(len(r["description"]) > 10 for r in book)


def test_the_codebook_describes_the_columns_in_the_reader_s_language(db_url: str) -> None:
    def descriptions(*lang: str) -> dict[tuple[str, str], str]:
        result = cli(db_url, *lang, "report", "codebook")
        assert result.exit_code == 0, result.output
        return {(r["report"], r["column"]): r["description"] for r in rows_of(result.output)}

    danish, english = descriptions(), descriptions("--lang", "en")
    assert danish.keys() == english.keys()  # the columns' names are the data format: unchanged
    assert danish["matches", "match_id"] == "Matchets nummer i venskab."
    assert english["matches", "match_id"] == "The match's number in venskab."
    assert danish["stability", "visits_confirmed"] == "Besøg, venskabsfamilien bekræftede."
    assert all(danish[key] != english[key] for key in danish)  # every description translated


def test_bad_report_options_get_one_clear_line(db_url: str, quarter: dict[str, int]) -> None:
    for args, says in (
        (("--from", "31-01-2026"), "skriv en dato som ÅÅÅÅ-MM-DD, fx 2026-01-31"),
        (("--from", "2026-03-01", "--to", "2026-01-01"), "ligger efter --to"),
        (("--staff", "nobody"), "ingen medarbejder med referencen 'nobody'"),
        (("--programme", "nope"), "intet program 'nope'"),
        (("--format", "xlsx"), "skal have en fil"),
    ):
        result = cli(db_url, "report", "matches", *args)
        assert result.exit_code == 2 and says in result.output, (args, result.output)


def test_the_pictures_figures_count_weeks_and_the_year_s_survivors(
    session_factory: sessionmaker[Session], quarter: dict[str, int]
) -> None:
    from followup.reports import Scope
    from followup.reports.figures import one_year_retention, visits_per_week

    with session_factory() as session:
        scope = Scope(date(2026, 1, 1), date(2026, 3, 31), "Europe/Copenhagen")
        weeks = visits_per_week(session, scope)
        # B's first anniversary (3 February 2026) is in the quarter and it still runs.
        retention = one_year_retention(session, scope)
        year = one_year_retention(
            session, Scope(date(2026, 1, 1), date(2027, 3, 31), "Europe/Copenhagen")
        )
    assert weeks[0] == (date(2025, 12, 29), 0) and len(weeks) == 14
    assert dict(weeks)[date(2026, 1, 5)] == 1 and dict(weeks)[date(2026, 1, 26)] == 1
    assert sum(n for _, n in weeks) == 2
    assert (retention.still_active, retention.ended_before, retention.share) == (1, 0, 1.0)
    # Up to March 2027: B, D (1 December) and C (2 March 2027) run on; A ended before its own.
    assert (year.still_active, year.ended_before) == (3, 1)


def test_a_long_report_shows_its_progress_on_a_terminal_and_a_short_one_only_its_summary(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    from tests.support.terminal import run_at_a_terminal

    with session_factory.begin() as session:
        for _ in range(50):  # 50 matches x 12 months: 600 rows of stability
            make_match(session, start=date(2025, 1, 6), telegram_chat_id=None)
    env = {"VENSKAB_DATABASE_URL": db_url}
    period = ["--from", "2025-01-01", "--to", "2025-12-31"]
    target = tmp_path / "stability.xlsx"
    done, terminal = run_at_a_terminal(
        ["report", "stability", *period, "--format", "xlsx", "-o", str(target)], env
    )
    assert done.returncode == 0, terminal
    assert "skriver rækker" in terminal and "100%" in terminal
    assert "stability: 600 rækker" in terminal
    done, terminal = run_at_a_terminal(["report", "codebook", "-o", str(tmp_path / "c.csv")], env)
    assert done.returncode == 0 and "skriver rækker" not in terminal and "codebook:" in terminal
