"""The import page against hostile uploads, over a real socket: a 20 MB chunked upload is
answered 413 long before it is all sent, and a tiny workbook that declares a huge sheet is
refused politely instead of growing into a CSV of many megabytes."""

from __future__ import annotations

import io
import select
import socket
import zipfile

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session, sessionmaker

from followup.import_file import ImportFailed
from followup.import_xlsx import MAX_CELLS, workbook_as_csv
from scheduler import i18n
from store.models import Staff
from tests.support import staff_app
from tests.support.staff_app import World, signed_in
from tests.support.webserver import read_status
from tests.support.xlsx import xlsx

_served = staff_app._served
world = staff_app.world

TWENTY_MB = 20 * 1024 * 1024
BOUNDARY = "venskab-test-boundary"


def _stream_until_answered(url: str, path: str, cookie: str, total: int) -> tuple[int, int]:
    """POST a chunked multipart upload of ``total`` bytes, a piece at a time, and stop as soon
    as the server answers: the status and how many bytes of the body were sent by then."""
    host, port = url.removeprefix("http://").split(":")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    start = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nstaff\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="staff.csv"\r\n'
        "Content-Type: text/csv\r\n\r\nref,name,role,region,email\r\n"
    ).encode()
    piece = b"S-1,Navn,coordinator,,a@example.org\n" * 1800  # some 64 KB
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode("latin-1"))
        first = True
        while sent < total:
            data = start + piece if first else piece
            first = False
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered and closed
            sent += len(data)
            readable, _, _ = select.select([sock], [], [], 0.005)
            if readable:
                break
        status = read_status(sock)
    return status, sent


def _cookie(client: httpx.Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


@pytest.mark.parametrize("path", ["/import/check", "/import/confirm"])
def test_a_20_mb_chunked_upload_is_413_before_it_is_all_read(
    world: World, session_factory: sessionmaker[Session], path: str
) -> None:
    with signed_in(world.url, session_factory) as (client, csrf):
        status, sent = _stream_until_answered(
            world.url, f"{path}?lang=en&csrf={csrf}", _cookie(client), TWENTY_MB
        )
        assert status == 413
        # Answered near the 2 MB limit (what the socket buffers held aside), not after 20 MB.
        assert sent < TWENTY_MB // 2
        # The server is still there for the next, ordinary upload.
        files = {"file": ("staff.csv", b"ref,name,role,region,email\n", "text/csv")}
        answer = client.post(
            f"/import/check?lang=en&csrf={csrf}", data={"kind": "staff"}, files=files
        )
        assert answer.status_code == 200


def _sheet(cells: str, dimension: str = "") -> bytes:
    """A tiny workbook whose sheet XML is ``cells`` (and a declared dimension, if given)."""
    book = xlsx([["ref"]])
    source = zipfile.ZipFile(io.BytesIO(book))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = (
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                    f"{dimension}<sheetData>{cells}</sheetData></worksheet>"
                ).encode()
            archive.writestr(info.filename, content)
    return out.getvalue()


HEADER = '<row r="1"><c r="A1" t="inlineStr"><is><t>ref</t></is></c></row>'
FAR_CELL = _sheet(HEADER + '<row r="30000"><c r="ZZ30000"><v>1</v></c></row>')
HUGE_DIMENSION = _sheet(HEADER, '<dimension ref="A1:XFD1048576"/>')


@pytest.mark.parametrize("book", [FAR_CELL, HUGE_DIMENSION], ids=["far cell", "dimension"])
def test_a_tiny_workbook_declaring_a_huge_sheet_is_refused(book: bytes) -> None:
    assert len(book) < 5000
    with pytest.raises(ImportFailed) as refused:
        workbook_as_csv(book, "staff.xlsx")
    (problem,) = refused.value.problems
    assert problem.line is None
    assert f"at most {MAX_CELLS} cells" in problem.text(i18n.texts("en"))


def test_the_import_page_says_the_sheet_is_too_large_and_saves_nothing(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        before = session.scalar(sql_select(func.count()).select_from(Staff)) or 0
    with signed_in(world.url, session_factory) as (client, csrf):
        files = {"file": ("staff.xlsx", FAR_CELL, "application/octet-stream")}
        answer = client.post(
            f"/import/check?lang=en&csrf={csrf}", data={"kind": "staff"}, files=files
        )
        assert answer.status_code == 422
        assert "the sheet is too large to import" in answer.text
        danish = client.post(
            f"/import/check?lang=da&csrf={csrf}", data={"kind": "staff"}, files=files
        )
        assert "arket er for stort til at importere" in danish.text
    with session_factory() as session:
        assert (
            session.scalar(sql_select(func.count()).select_from(Staff)) == before + 1
        )  # signed in
