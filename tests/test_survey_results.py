"""Results per survey and the paired pre/post export, as a staff member runs them from the CLI;
and completions imported from an external survey tool."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from followup.survey_defs import default_surveys
from followup.survey_results import complete, save_answers
from scheduler.links import find_by_token
from store.models import Match
from tests.support.cast import make_match
from tests.support.survey_app import invitation, invite
from venskab.cli import main
from venskab.cli.common import AppContext

BASELINE = datetime(2026, 3, 3, 9, tzinfo=UTC)
END = datetime(2027, 3, 3, 11, tzinfo=UTC)


def cli(db_url: str, *args: str, lang: str = "en") -> Any:
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, now_override=END + timedelta(days=30))
    return CliRunner().invoke(main, ["--lang", lang, *args], obj=app)


def answer(
    session: Session, match: Match, wave: str, given: dict[str, str], *, done: bool, at: datetime
) -> None:
    survey = default_surveys()["parent-sample"]
    token = invite(session, match, wave=wave, now=at)
    found = find_by_token(session, token)
    assert found is not None
    save_answers(session, found, survey, given, at)
    if done:
        complete(session, found, at + timedelta(minutes=5))


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_export_pairs_baseline_and_end_answers_per_match_under_pseudonyms(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory.begin() as session:
        both = make_match(session)
        partial = make_match(session, telegram_chat_id=5002, programme="mentorbarn")
        silent = make_match(session, telegram_chat_id=5003)
        answer(
            session,
            both,
            "baseline",
            {
                "parent_everyday": "2",
                "parent_talk": "3",
                "child_adults": "none",
                "comment": "Forælder skriver om Barn A",
            },
            done=True,
            at=BASELINE,
        )
        answer(
            session,
            both,
            "end",
            {
                "parent_everyday": "4",
                "parent_talk": "5",
                "child_adults": "several",
                "visits_good": "5",
                "recommend": "yes",
            },
            done=True,
            at=END,
        )
        answer(session, partial, "baseline", {"parent_everyday": "1"}, done=False, at=BASELINE)
        invite(session, silent, now=BASELINE)
        ids = {both.id, partial.id, silent.id}

    out = tmp_path / "paired.csv"
    result = cli(db_url, "survey", "export", "--survey", "parent-sample", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 3 respondents" in result.output
    rows = read(out)
    by_status = {(r["baseline_status"], r["end_status"]): r for r in rows}
    assert set(by_status) == {
        ("completed", "completed"),
        ("partial", "not_invited"),
        ("not_answered", "not_invited"),
    }

    paired = by_status[("completed", "completed")]
    assert (paired["parent_everyday_baseline"], paired["parent_everyday_end"]) == ("2", "4")
    assert (paired["parent_talk_baseline"], paired["parent_talk_end"]) == ("3", "5")
    assert (paired["child_adults_baseline"], paired["child_adults_end"]) == ("none", "several")
    assert paired["visits_good_end"] == "5" and "visits_good_baseline" not in paired
    assert (
        paired["baseline_completed_on"] == "2026-03-03"
        and paired["end_completed_on"] == "2027-03-03"
    )
    # The parent's resources (three items, at least two answered; a sum over two is prorated).
    assert (paired["score_parent_resources_baseline"], paired["score_parent_resources_end"]) == (
        "7.5",
        "13.5",
    )
    assert by_status[("partial", "not_invited")]["score_parent_resources_baseline"] == ""
    assert by_status[("partial", "not_invited")]["parent_everyday_baseline"] == "1"
    assert by_status[("partial", "not_invited")]["programme"] == "mentorbarn"

    # Pseudonymous: no ids, names or contact details, and the same ids in the next export.
    text = out.read_text(encoding="utf-8")
    for private in ("Forælder", "Barn A", "Familien", "+4520", "example.org"):
        assert private not in text
    assert not {r["match_pid"] for r in rows} & {str(i) for i in ids}
    assert "comment_baseline" not in rows[0]
    again = tmp_path / "again.csv"
    assert (
        cli(
            db_url,
            "survey",
            "export",
            "--survey",
            "parent-sample",
            "--out",
            str(again),
            "--with-text",
        ).exit_code
        == 0
    )
    with_text = read(again)
    assert [r["match_pid"] for r in with_text] == [r["match_pid"] for r in rows]
    assert {r["comment_baseline"] for r in with_text} == {"Forælder skriver om Barn A", ""}


def test_results_show_sent_opened_completed_and_the_reminder_step(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        first = make_match(session)
        second = make_match(session, telegram_chat_id=5002)
        answer(session, first, "baseline", {"parent_everyday": "3"}, done=True, at=BASELINE)
        answer(session, second, "baseline", {"parent_everyday": "3"}, done=False, at=BASELINE)
        invite(session, second, wave="end", now=END)

    result = cli(db_url, "survey", "results")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "survey",
        "wave",
        "sent",
        "opened",
        "started",
        "completed",
        "rate",
        "completed",
        "after",
        "step",
        "by",
        "sms",
    ]
    assert lines[2].split() == ["parent-sample", "baseline", "2", "2", "2", "1", "50%", "0:1", "0"]
    assert lines[3].split() == ["parent-sample", "end", "1", "0", "0", "0", "0%", "-", "0"]
    assert (
        "no survey invitations yet"
        in cli(db_url, "survey", "results", "--survey", "parent-short").output
    )


def test_completions_from_an_external_tool_are_imported_by_token(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory.begin() as session:
        token = invite(session, make_match(session), survey="example-external", now=BASELINE)
        other = invite(
            session,
            make_match(session, telegram_chat_id=5002),
            survey="example-external",
            now=BASELINE,
        )
    sheet = tmp_path / "completions.csv"
    # A Danish spreadsheet: semicolons, a byte order mark, local times.
    sheet.write_text(
        "\ufefftoken;completed_at;parent_everyday\n"
        f"{token};2026-05-04 10:30;4\n"
        "this-token-is-not-ours;;3\n"
        f"{other};;9\n",
        encoding="utf-8",
    )
    result = cli(db_url, "survey", "import-completions", str(sheet))
    assert result.exit_code == 0, result.output
    assert (
        "2 completed, 0 already completed, 1 answers stored, 1 values that did not fit ignored"
        in result.output
    )
    assert "1 rows with an unknown token (rows 3)" in result.output
    assert "this-token-is-not-ours" not in result.output and token not in result.output
    assert invitation(session_factory, token).completed_at == datetime(
        2026, 5, 4, 8, 30, tzinfo=UTC
    )
    repeated = cli(db_url, "survey", "import-completions", str(sheet))
    assert "0 completed, 2 already completed" in repeated.output

    no_token = tmp_path / "bad.csv"
    no_token.write_text("respondent,completed_at\nabc,\n", encoding="utf-8")
    bad = cli(db_url, "survey", "import-completions", str(no_token))
    assert bad.exit_code == 2 and "a 'token' column" in bad.output


def test_export_names_an_unknown_survey_plainly(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    result = cli(
        db_url, "survey", "export", "--survey", "no-such-survey", "--out", str(tmp_path / "x.csv")
    )
    assert result.exit_code == 2 and "there is no survey 'no-such-survey'" in result.output
    in_danish = cli(
        db_url,
        "survey",
        "export",
        "--survey",
        "no-such-survey",
        "--out",
        str(tmp_path / "x.csv"),
        lang="da",
    )
    assert "der er intet spørgeskema 'no-such-survey'" in in_danish.output
