"""The import page: upload a CSV (or an Excel workbook), see the dry run's report line by line,
then confirm. The same importer as ``venskab import`` (:mod:`followup.importer`): every row is
checked first, and on any problem nothing is written, also when confirming.

- ``GET /import``: the form (what kind, which file);
- ``POST /import/check``: the dry run, in a transaction that is rolled back; the report names
  each line (new or updated, by its ref) or each problem (line, column, what was expected);
  with no problems, a confirm button that carries the checked file along (no JavaScript);
- ``POST /import/confirm``: the import, checked again; the result or the problems.

Every route goes through :func:`_guard` first.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from followup import importer
from followup.import_file import FORMATS, ImportFailed, Problem, read_table
from followup.import_xlsx import is_workbook, workbook_as_csv
from scheduler import i18n
from store.models import ContactPerson, HouseholdMember, Match, Referral, Staff, VolunteerFamily
from store.validation import ascii_digits
from web.auth import csrf_token, gate, page_lang
from web.staff_render import other_language

if TYPE_CHECKING:
    from followup.services import Services

PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "import"),
    autoescape=select_autoescape(["html"]),
)
i18n.install(PAGES, locale_variable="lang")
MAX_FILE = 1024 * 1024  # 1 MB: some 10,000 rows
MAX_BODY = 2 * MAX_FILE  # the confirm form carries the file as base64
ACTOR = "web:import"
SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
MODELS: dict[str, Any] = {
    "staff": Staff,
    "families": VolunteerFamily,
    "contacts": ContactPerson,
    "matches": Match,
    "referrals": Referral,
}


def _kind_names(texts: i18n.Texts) -> dict[str, str]:
    return {
        "staff": texts.gettext("Staff"),
        "families": texts.gettext("Volunteer families"),
        "contacts": texts.gettext("Parents and contacts"),
        "matches": texts.gettext("Matches"),
        "referrals": texts.gettext("Children waiting (referrals)"),
        "household": texts.gettext("Households and certificates"),
    }


def _problem(texts: i18n.Texts, key: str) -> str:
    return {
        "too_big": texts.gettext(
            "The file is too big (at most 1 MB). Split it into several files."
        ),
        "no_file": texts.gettext("Choose what the file holds, and choose a file."),
        "refused": texts.gettext(
            "The database refused a line (was another import running?). Nothing was saved; "
            "please try again."
        ),
    }[key]


def routes(services: Services) -> list[BaseRoute]:
    """The import page's routes; every one goes through :func:`_guard` first."""
    return [
        Route("/import", form_page),
        Route("/import/check", check, methods=["POST"]),
        Route("/import/confirm", confirm, methods=["POST"]),
    ]


async def _guard(request: Request) -> Response | None:
    """Who may import: a response to send instead, or None to go on.

    A signed-in coordinator or admin (:func:`web.auth.gate`), with the session's CSRF token on
    a POST; a POST from another site's page is refused."""
    return await gate(request, "coordinator")


def _services(request: Request) -> Services:
    services: Services = request.app.state.app
    return services


def _page(request: Request, status: int = 200, **values: Any) -> HTMLResponse:
    lang = page_lang(request)
    other = other_language(lang)
    body = PAGES.get_template("import.html").render(
        lang=lang,
        dir=i18n.language(lang).direction,
        kind_names=_kind_names(i18n.texts(lang)),
        texts=i18n.texts(lang),
        kinds=importer.KINDS,
        here=request.url.path,
        csrf=csrf_token(request),
        other_lang=other[0],
        other_name=other[1],
        **values,
    )
    return HTMLResponse(
        body,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "same-origin",  # "no-referrer" makes Chromium post Origin: null
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        },
    )


def _message(request: Request, key: str, status: int = 400) -> HTMLResponse:
    return _page(request, status, error=_problem(i18n.texts(page_lang(request)), key))


# -- the report ----------------------------------------------------------------------------------


@dataclass
class Report:
    file: str
    kind: str
    data: str = ""  # the checked CSV as base64, for the confirm form
    lines: list[tuple[int, str, bool]] = field(default_factory=list)  # line, ref, is new
    problems: list[Problem] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    saved: bool = False
    refused: bool = False


class _DryRun(Exception):
    pass


def _run(services: Services, kind: str, csv: bytes, file: str, write: bool) -> Report:
    """Check (and with ``write``, import) ``csv``; nothing is written unless every row is fine."""
    report = Report(file, kind, base64.b64encode(csv).decode("ascii"))
    today = services.now().astimezone(services.zone).date()
    try:
        with services.transaction() as session:
            if not write:
                report.lines = _lines(session, kind, csv, file)
            result = importer.import_csv(
                session,
                kind,
                csv,
                file,
                services.programmes,
                actor=ACTOR,
                today=today,
                languages=services.settings.enabled_languages,
            )
            report.created, report.updated = result.created, result.updated
            report.unchanged = result.unchanged
            if not write:
                raise _DryRun  # rolls the transaction back
    except _DryRun:
        return report
    except ImportFailed as exc:
        report.problems = exc.problems
        report.data = ""
        return report
    except IntegrityError:
        report.refused = True
        report.data = ""
        return report
    report.saved = True
    return report


def _lines(session: Any, kind: str, csv: bytes, file: str) -> list[tuple[int, str, bool]]:
    """Each data line's ref and whether it is new (asked before the import runs)."""
    table = read_table(csv, file, FORMATS[kind])
    if kind == "household":
        return _household_lines(session, table.rows)
    model = MODELS[kind]
    refs = [cells.get("ref", "") for _, cells in table.rows]
    existing = set(session.scalars(select(model.external_ref).where(model.external_ref.in_(refs))))
    return [
        (line, cells.get("ref", ""), cells.get("ref", "") not in existing)
        for line, cells in table.rows
    ]


def _household_lines(
    session: Any, rows: list[tuple[int, dict[str, str]]]
) -> list[tuple[int, str, bool]]:
    """A household file has no refs: each line by its family's ref, new unless the family has
    a member of that first name and birth year already."""
    known = {
        (ref, name.casefold(), str(year))
        for ref, name, year in session.execute(
            select(
                VolunteerFamily.external_ref, HouseholdMember.first_name, HouseholdMember.birth_year
            )
            .join(VolunteerFamily, VolunteerFamily.id == HouseholdMember.volunteer_family_id)
            .where(VolunteerFamily.external_ref.in_([c.get("family_ref", "") for _, c in rows]))
        )
    }
    return [
        (
            line,
            cells.get("family_ref", ""),
            (
                cells.get("family_ref", ""),
                " ".join(cells.get("first_name", "").split()).casefold(),
                cells.get("birth_year", ""),
            )
            not in known,
        )
        for line, cells in rows
    ]


# -- the routes ----------------------------------------------------------------------------------


async def form_page(request: Request) -> Response:
    refused = await _guard(request)
    if refused is not None:
        return refused
    return _page(request)


def _filename(upload: UploadFile) -> str:
    name = Path(upload.filename or "upload.csv").name
    return (SAFE_NAME.sub("_", name) or "upload.csv")[:80]


async def check(request: Request) -> Response:
    refused = await _guard(request)
    if refused is not None:
        return refused
    declared = request.headers.get("content-length", "")
    if ascii_digits(declared) and int(declared) > MAX_BODY:
        return _message(request, "too_big", 413)
    try:
        async with request.form(max_files=1, max_fields=4, max_part_size=MAX_FILE) as form:
            kind = str(form.get("kind", ""))
            upload = form.get("file")
            if kind not in FORMATS or not isinstance(upload, UploadFile):
                return _message(request, "no_file")
            file = _filename(upload)
            data = await upload.read(MAX_FILE + 1)
    except Exception:  # a malformed or oversized multipart body
        return _message(request, "too_big", 413)
    if len(data) > MAX_FILE:
        return _message(request, "too_big", 413)
    if not data:
        return _message(request, "no_file")
    try:
        csv = workbook_as_csv(data, file) if is_workbook(file, data) else data
    except ImportFailed as exc:
        return _page(request, 422, report=Report(file, kind, problems=exc.problems))
    report = await run_in_threadpool(_run, _services(request), kind, csv, file, False)
    return _page(request, 422 if report.problems else 200, report=report)


async def confirm(request: Request) -> Response:
    refused = await _guard(request)
    if refused is not None:
        return refused
    declared = request.headers.get("content-length", "")
    if ascii_digits(declared) and int(declared) > MAX_BODY * 2:
        return _message(request, "too_big", 413)
    try:
        async with request.form(max_files=0, max_fields=4, max_part_size=MAX_BODY * 2) as form:
            kind = str(form.get("kind", ""))
            file = SAFE_NAME.sub("_", str(form.get("file", "upload.csv")))[:80]
            encoded = str(form.get("data", ""))
    except Exception:
        return _message(request, "too_big", 413)
    try:
        csv = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        csv = b""
    if kind not in FORMATS or not csv or len(csv) > MAX_FILE:
        return _message(request, "no_file")
    report = await run_in_threadpool(_run, _services(request), kind, csv, file, True)
    if report.refused:
        return _message(request, "refused", 409)
    return _page(request, 422 if report.problems else 200, report=report)
