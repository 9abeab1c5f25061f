"""The staff web app's Reports page: each report of :mod:`followup.reports` as CSV or Excel for
the period and programme chosen, and three pictures with their numbers beside them (a table, for
screen readers and for copying): the survey funnel per reminder step, confirmed visits per week,
and how many matches were still running on their first anniversary.

A procesleder's reports cover the matches she follows, a coordinator's her region, an admin's
everything (:func:`followup.staff_auth.visible`). Every download is in the audit log. The pictures
are SVG documents of their own (pygal), shown as images: the page itself stays without inline
styles or scripts.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pygal
from dateutil.relativedelta import relativedelta
from pygal.style import Style
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from followup.report_files import csv_text, write_xlsx
from followup.reports import REPORTS, Scope, run
from followup.reports.figures import Retention, one_year_retention, visits_per_week
from followup.reports.surveys import SURVEYS
from followup.staff_auth import visible
from store.audit import record
from store.models import Staff
from store.validation import within_years
from web.auth import StaffUser, current_staff, require, staff_page
from web.staff_words import word

if TYPE_CHECKING:
    from followup.services import Services

NAMES = (*REPORTS, "codebook")
CHARTS = ("funnel", "visits", "retention")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# An SVG picture is a document of its own: pygal's inline style, nothing else, no scripts.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"
CALM = Style(
    background="white",
    plot_background="white",
    foreground="#333",
    foreground_strong="#111",
    foreground_subtle="#999",
    colors=("#2f6f8f", "#b5543c", "#6a8f2f"),
    font_family="system-ui, sans-serif",
    title_font_size=16,
    label_font_size=13,
    major_label_font_size=13,
)


def report_routes() -> list[Route]:
    return [
        Route("/reports", reports_page),
        Route("/reports/chart/{chart}.svg", chart),
        Route("/reports/{name}.{fmt}", download),
    ]


@dataclass(frozen=True)
class Asked:
    """The period and programme a request asks for (a year up to today when it names none)."""

    start: date
    end: date
    programme: str | None
    problem: str | None = None

    def query(self) -> str:
        part = f"from={self.start.isoformat()}&to={self.end.isoformat()}"
        return part + (f"&programme={self.programme}" if self.programme else "")


def _asked(request: Request, app: Services, locale: str) -> Asked:
    today = app.now().astimezone(app.zone).date()
    end, start = today, today - relativedelta(years=1) + timedelta(days=1)
    problems = []
    try:
        if request.query_params.get("to"):
            end = date.fromisoformat(request.query_params["to"])
        if request.query_params.get("from"):
            start = date.fromisoformat(request.query_params["from"])
    except ValueError:
        problems.append(word(locale, "reports_bad_date"))
        end, start = today, today - relativedelta(years=1) + timedelta(days=1)
    if not (within_years(start) and within_years(end)):
        problems.append(word(locale, "reports_out_of_years"))
        end, start = today, today - relativedelta(years=1) + timedelta(days=1)
    if start > end:
        start, end = end, start
        problems.append(word(locale, "reports_swapped"))
    programme = request.query_params.get("programme") or None
    if programme is not None and programme not in app.programmes:
        programme = None
        problems.append(word(locale, "reports_no_programme"))
    return Asked(start, end, programme, " ".join(problems) or None)


def _scope(app: Services, staff: Staff, asked: Asked) -> Scope:
    return Scope(
        asked.start,
        asked.end,
        str(app.zone),
        programme=asked.programme,
        programmes=app.programmes,
        visible=visible(staff),
        viewer=staff,
    )


async def _staff(request: Request) -> tuple[Services, StaffUser]:
    app: Services = request.app.state.app
    user = await current_staff(request)
    assert user is not None  # require() let the request in
    return app, user


@require(None)
async def reports_page(request: Request) -> Response:
    app, user = await _staff(request)
    asked = _asked(request, app, user.locale)

    def job() -> dict[str, Any]:
        with app.session_factory() as session:
            staff = session.get(Staff, user.id)
            assert staff is not None
            scope = _scope(app, staff, asked)
            return {
                "funnel": _funnel(session, scope),
                "weeks": visits_per_week(session, scope),
                "retention": one_year_retention(session, scope),
            }

    figures = await run_in_threadpool(job)
    programmes = sorted((p.id, p.name) for p in app.programmes.values())
    return staff_page(
        request,
        "staff/reports.html",
        {
            "asked": asked,
            "names": NAMES,
            "programmes": programmes,
            "title": word(user.locale, "reports_title"),
            **figures,
        },
        user=user,
    )


def _funnel(session: Any, scope: Scope) -> list[dict[str, Any]]:
    """The surveys report's rows, per survey and wave: the share completed by each step."""
    funnel: dict[tuple[Any, Any], dict[str, Any]] = {}
    for row in SURVEYS.rows(session, scope):
        entry = funnel.setdefault(
            (row["survey"], row["wave"]),
            {"survey": row["survey"], "wave": row["wave"], "sent": row["sent"], "steps": []},
        )
        rate = row["response_rate_by_step"]
        share = round(100 * rate) if isinstance(rate, float) else 0
        entry["steps"].append((row["reminder_step"], row["completed_by_step"], share))
    return list(funnel.values())


@require(None)
async def download(request: Request) -> Response:
    app, user = await _staff(request)
    name, fmt = request.path_params["name"], request.path_params["fmt"]
    if name not in NAMES or fmt not in ("csv", "xlsx"):
        return Response(word(user.locale, "reports_unknown"), status_code=404)
    asked = _asked(request, app, user.locale)

    def job() -> bytes:
        with app.session_factory() as session, session.begin():
            staff = session.get(Staff, user.id)
            assert staff is not None
            columns, rows = run(session, name, _scope(app, staff, asked), user.locale)
            record(
                session,
                user.actor,
                "report.export",
                "report",
                None,
                report=name,
                format=fmt,
                rows=len(rows),
                period=f"{asked.start.isoformat()}/{asked.end.isoformat()}",
            )
        if fmt == "csv":
            return csv_text(columns, rows).encode("utf-8")
        out = io.BytesIO()
        write_xlsx(name, columns, rows, out)
        return out.getvalue()

    body = await run_in_threadpool(job)
    filename = f"venskab-{name}-{asked.start.isoformat()}-{asked.end.isoformat()}.{fmt}"
    return Response(
        body,
        media_type="text/csv; charset=utf-8" if fmt == "csv" else XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@require(None)
async def chart(request: Request) -> Response:
    app, user = await _staff(request)
    which = request.path_params["chart"]
    if which not in CHARTS:
        return Response(word(user.locale, "reports_unknown"), status_code=404)
    asked = _asked(request, app, user.locale)
    locale = user.locale

    def job() -> str:
        with app.session_factory() as session:
            staff = session.get(Staff, user.id)
            assert staff is not None
            scope = _scope(app, staff, asked)
            if which == "funnel":
                return _funnel_svg(_funnel(session, scope), locale)
            if which == "visits":
                return _visits_svg(visits_per_week(session, scope), locale)
            return _retention_svg(one_year_retention(session, scope), locale)

    svg = await run_in_threadpool(job)
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store", "Content-Security-Policy": SVG_CSP},
    )


_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)


def _svg(picture: Any) -> str:
    """The picture's markup without pygal's tooltip script (an image never runs it anyway)."""
    return _SCRIPT.sub("", str(picture.render(is_unicode=True)))


def _config(title: str, **more: Any) -> dict[str, Any]:
    return {
        "title": title,
        "style": CALM,
        "width": 720,
        "height": 320,
        "js": [],  # no script in the picture
        "disable_xml_declaration": True,
        "show_legend": False,
        "margin": 16,
        "truncate_label": -1,
        "truncate_legend": -1,
        **more,
    }


def _funnel_svg(funnel: list[dict[str, Any]], locale: str) -> str:
    picture = pygal.Line(**_config(word(locale, "chart_funnel"), show_legend=True, range=(0, 100)))
    longest = max((len(f["steps"]) for f in funnel), default=1)
    picture.x_labels = [
        word(locale, "chart_step_0") if n == 0 else word(locale, "chart_step", step=n)
        for n in range(longest)
    ]
    for f in funnel:
        picture.add(
            f"{f['survey']} · {word(locale, 'wave_' + f['wave'])}", [s[2] for s in f["steps"]]
        )
    return _svg(picture)


def _visits_svg(weeks: list[tuple[date, int]], locale: str) -> str:
    picture = pygal.Bar(**_config(word(locale, "chart_visits"), x_label_rotation=0))
    picture.x_labels = [f"{w.isocalendar()[1]}" for w, _ in weeks]
    picture.x_labels_major_every = max(1, len(weeks) // 12)
    picture.show_minor_x_labels = False
    picture.add(word(locale, "chart_visits"), [n for _, n in weeks])
    return _svg(picture)


def _retention_svg(retention: Retention, locale: str) -> str:
    picture = pygal.HorizontalBar(**_config(word(locale, "chart_retention"), show_legend=True))
    picture.add(word(locale, "retention_still"), retention.still_active)
    picture.add(word(locale, "retention_ended"), retention.ended_before)
    return _svg(picture)
