"""The year plan to print: `venskab plan ID --pdf FILE` writes the year wheel and the plan's
dates as an A4 PDF in the family's language, which poppler renders to a picture here."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cast import make_match
from tests.test_cli import cli

NOW = datetime(2026, 6, 1, 10, tzinfo=UTC)


@pytest.fixture
def poppler() -> None:
    if shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftoppm, pdftotext) is not installed; .ci/run installs it")
    try:
        import weasyprint  # noqa: F401
    except OSError as exc:
        pytest.skip(f"WeasyPrint needs Pango, not on this machine ({exc})")


def test_the_printed_year_wheel_has_the_match_s_months_and_its_dates(
    poppler: None, db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id  # Hjem til Os from Monday 2 March 2026
    for locale, title, first_row in (
        ("da", "Årshjul for Barn A og Familien Eksempel", "2. marts 2026 til 2. marts 2027"),
        ("en", "The year of Barn A and Familien Eksempel", "2 March 2026 to 2 March 2027"),
    ):
        pdf = tmp_path / f"plan-{locale}.pdf"
        result = cli(db_url, "plan", str(match_id), "--lang", locale, "--pdf", str(pdf), now=NOW)
        assert result.exit_code == 0, result.output
        assert pdf.read_bytes().startswith(b"%PDF")
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert title in text and first_row in text
        # The wheel names the twelve months of the match's year, March to February.
        months = {
            "da": [
                "mar",
                "apr",
                "maj",
                "jun",
                "jul",
                "aug",
                "sep",
                "okt",
                "nov",
                "dec",
                "jan",
                "feb",
            ],
            "en": [
                "Mar",
                "Apr",
                "May",
                "Jun",
                "Jul",
                "Aug",
                "Sept",
                "Oct",
                "Nov",
                "Dec",
                "Jan",
                "Feb",
            ],
        }[locale]
        words = text.split()
        assert all(month in words for month in months), [m for m in months if m not in words]
        assert ("Uge 14 af 52" if locale == "da" else "Week 14 of 52") in text
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "40",
                "-f",
                "1",
                "-l",
                "1",
                str(pdf),
                str(tmp_path / locale),
            ],
            check=True,
        )
        picture = tmp_path / f"{locale}-1.png"
        assert picture.stat().st_size > 5_000  # a page with a drawing on it, not a blank one


def test_a_pdf_that_cannot_be_written_is_one_clear_line(
    poppler: None, db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
    target = tmp_path / "no-such-folder" / "plan.pdf"
    result = cli(db_url, "plan", str(match_id), "--pdf", str(target), now=NOW)
    assert result.exit_code == 2 and "kunne ikke skrive" in result.output
