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
from store.models import ContactPerson, Match, Staff, VolunteerFamily
from web.auth import csrf_token, gate, page_lang

if TYPE_CHECKING:
    from followup.services import Services

PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "import"),
    autoescape=select_autoescape(["html"]),
)
MAX_FILE = 1024 * 1024  # 1 MB: some 10,000 rows
MAX_BODY = 2 * MAX_FILE  # the confirm form carries the file as base64
ACTOR = "web:import"
SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
MODELS: dict[str, Any] = {
    "staff": Staff,
    "families": VolunteerFamily,
    "contacts": ContactPerson,
    "matches": Match,
}

WORDS: dict[str, dict[str, str]] = {
    "title": {"da": "Import", "en": "Import"},
    "intro": {
        "da": "Indlæs medarbejdere, venskabsfamilier, kontaktpersoner eller match fra en "
        "CSV-fil eller et Excel-ark. Filen tjekkes først linje for linje; intet gemmes, før du "
        "bekræfter, og intet gemmes, hvis bare én linje har en fejl.",
        "en": "Load staff, volunteer families, contacts or matches from a CSV file or an Excel "
        "sheet. The file is checked line by line first; nothing is saved until you confirm, and "
        "nothing is saved if even one line has a problem.",
    },
    "order": {
        "da": "Rækkefølge: medarbejdere, familier, kontaktpersoner, match.",
        "en": "Order: staff, families, contacts, matches.",
    },
    "kind": {"da": "Hvad indeholder filen?", "en": "What does the file hold?"},
    "staff": {"da": "Medarbejdere", "en": "Staff"},
    "families": {"da": "Venskabsfamilier", "en": "Volunteer families"},
    "contacts": {"da": "Forældre og kontaktpersoner", "en": "Parents and contacts"},
    "matches": {"da": "Match", "en": "Matches"},
    "file": {"da": "Fil (CSV eller .xlsx)", "en": "File (CSV or .xlsx)"},
    "check": {"da": "Tjek filen", "en": "Check the file"},
    "report": {"da": "Tjek af {file}", "en": "Check of {file}"},
    "ok": {
        "da": "Ingen fejl: {created} nye og {updated} opdaterede. Intet er gemt endnu.",
        "en": "No problems: {created} new and {updated} updated. Nothing is saved yet.",
    },
    "problems": {
        "da": "{count} fejl. Intet er gemt. Ret filen, og tjek den igen.",
        "en": "{count} problems. Nothing was saved. Correct the file and check it again.",
    },
    "line": {"da": "Linje", "en": "Line"},
    "column": {"da": "Kolonne", "en": "Column"},
    "problem": {"da": "Fejl", "en": "Problem"},
    "ref": {"da": "Ref.", "en": "Ref"},
    "what": {"da": "Sker", "en": "Does"},
    "new": {"da": "ny", "en": "new"},
    "update": {"da": "opdateres", "en": "updated"},
    "confirm": {"da": "Gem {count} linjer", "en": "Save {count} lines"},
    "again": {"da": "Tjek en anden fil", "en": "Check another file"},
    "done": {
        "da": "Gemt: {created} nye, {updated} opdaterede, {unchanged} uændrede.",
        "en": "Saved: {created} new, {updated} updated, {unchanged} unchanged.",
    },
    "refused": {
        "da": "Databasen afviste en linje (kørte en anden import samtidig?). Intet er gemt; "
        "prøv igen.",
        "en": "The database refused a line (was another import running?). Nothing was saved; "
        "please try again.",
    },
    "too_big": {
        "da": "Filen er for stor (højst 1 MB). Del den op i flere filer.",
        "en": "The file is too big (at most 1 MB). Split it into several files.",
    },
    "no_file": {
        "da": "Vælg hvad filen indeholder, og vælg en fil.",
        "en": "Choose what the file holds, and choose a file.",
    },
    "language": {"da": "English", "en": "Dansk"},
}


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
    words = {key: texts[lang] for key, texts in WORDS.items()}
    body = PAGES.get_template("import.html").render(
        lang=lang,
        w=words,
        kinds=importer.KINDS,
        here=request.url.path,
        csrf=csrf_token(request),
        other_lang="en" if lang == "da" else "da",
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


def _message(request: Request, key: str, status: int = 400, **values: Any) -> HTMLResponse:
    return _page(request, status, error=WORDS[key][page_lang(request)].format(**values))


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
    model = MODELS[kind]
    refs = [cells.get("ref", "") for _, cells in table.rows]
    existing = set(session.scalars(select(model.external_ref).where(model.external_ref.in_(refs))))
    return [
        (line, cells.get("ref", ""), cells.get("ref", "") not in existing)
        for line, cells in table.rows
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
    if declared.isdigit() and int(declared) > MAX_BODY:
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
    if declared.isdigit() and int(declared) > MAX_BODY * 2:
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
