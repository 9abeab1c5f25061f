"""The Reports page: each report as CSV or Excel for the staff member's own matches, and three
pictures with their numbers beside them, as a procesleder and an admin use it."""

from __future__ import annotations

import csv
import io
from xml.etree import ElementTree

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import AuditEntry
from tests.support import staff_app
from tests.support.staff_app import World

_served = staff_app._served
world = staff_app.world


def test_a_procesleder_downloads_her_own_matches_and_sees_the_pictures(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with world.client("procesleder") as client:
        page = client.get("/reports?from=2026-01-01&to=2026-04-14")
        assert page.status_code == 200, page.text
        assert "Rapporter" in page.text and "de match, du følger" in page.text
        for name in ("matches", "stability", "followup", "surveys", "invoices", "codebook"):
            assert f"/reports/{name}.csv?from=2026-01-01&amp;to=2026-04-14" in page.text
        # The pictures are images of their own; their numbers are on the page as a table.
        assert 'src="/reports/chart/visits.svg?' in page.text and "<table>" in page.text
        assert "Stadig i gang" in page.text

        matches = client.get("/reports/matches.csv?from=2026-01-01&to=2026-04-14")
        assert matches.status_code == 200
        assert matches.headers["content-type"].startswith("text/csv")
        assert "attachment" in matches.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(matches.text)))
        assert [int(r["match_id"]) for r in rows] == [world.match]  # not the other region's

        book = client.get("/reports/stability.xlsx?from=2026-01-01&to=2026-04-14")
        sheet = load_workbook(io.BytesIO(book.content))["stability"]
        months = [r[5] for r in sheet.iter_rows(min_row=2, values_only=True)]
        assert months == ["2026-03", "2026-04"] and book.headers["cache-control"] == "no-store"

        picture = client.get("/reports/chart/visits.svg?from=2026-01-01&to=2026-04-14")
        assert picture.headers["content-type"].startswith("image/svg+xml")
        assert "script-src" not in picture.headers["content-security-policy"]
        svg = ElementTree.fromstring(picture.text)
        assert svg.tag.endswith("svg") and "Bekræftede besøg pr. uge" in picture.text
        assert "<script" not in picture.text

        wrong = client.get("/reports?from=31-01-2026&programme=nope")
        assert wrong.status_code == 200 and "ÅÅÅÅ-MM-DD" in wrong.text
        assert client.get("/reports/nothing.csv").status_code == 404
    with session_factory() as session:
        exported = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "report.export")
        ).all()
    assert {e.details["report"] for e in exported} == {"matches", "stability"}


def test_an_admin_s_reports_cover_every_region(world: World) -> None:
    with world.client("admin") as client:
        rows = list(csv.DictReader(io.StringIO(client.get("/reports/matches.csv").text)))
    assert {int(r["match_id"]) for r in rows} == {world.match, world.other_match}


def test_the_funnel_picture_s_numbers_are_the_surveys_report_s(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    from datetime import timedelta

    from store.models import SurveyInvitation

    with session_factory.begin() as session:
        for n, step in enumerate((0, 2, None)):  # two answered, after the invitation and step 2
            session.add(
                SurveyInvitation(
                    match_id=world.match,
                    survey_id="parent-sample",
                    wave="baseline",
                    nonce=f"f{n}",
                    token_hash=f"funnel{n}",
                    expires_at=staff_app.NOW + timedelta(days=30),
                    sent_at=staff_app.NOW,
                    completed_at=staff_app.NOW if step is not None else None,
                    reminder_step=step or 0,
                )
            )
    with world.client("coordinator") as client:
        page = client.get("/reports").text
        rows = list(csv.DictReader(io.StringIO(client.get("/reports/surveys.csv").text)))
    assert [r["completed_by_step"] for r in rows] == ["1", "1", "2"]
    for shown in ("1 (33 %)", "2 (67 %)"):
        assert shown in page
    assert 'src="/reports/chart/funnel.svg?' in page
