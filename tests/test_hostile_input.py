"""Hostile input that is well formed enough to reach our code, over a real socket: stored free
text loses its control characters (PostgreSQL refuses NUL), odd digits in a signed form are no
500, and a link's token is checked before its form is read."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Escalation
from tests.support import survey_app
from tests.support.cast import make_match
from tests.support.survey_app import LiveApp
from tests.support.webserver import raw_request
from tests.test_ack_page import a_case, state

_served = survey_app._served
live = survey_app.live


def test_the_ack_pages_resolve_note_is_stored_without_control_characters(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    escalation_id, token = a_case(session_factory)
    note = "Talt\x00 med familien\x1b[2J\x07 – كل شيء بخير"
    answer = live.client.post(
        f"/ack/{token}", data={"action": "resolve", "outcome": "handled", "note": note}
    )
    assert answer.status_code == 200, answer.text
    assert state(session_factory, escalation_id).resolution_note == (
        "Talt med familien[2J – كل شيء بخير"
    )


def test_a_signed_sms_with_a_superscript_media_count_is_handled_not_a_500(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    answer = live.sms("Hej fra os", media="²")
    assert answer.status_code == 200, answer.text
    with session_factory() as session:
        texts = [e["text"] for x in session.scalars(select(Escalation)) for e in x.evidence]
    assert "Hej fra os" in texts


def head(path: str, length: int) -> str:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {length}\r\n"
    )


def test_a_forged_ack_token_is_refused_before_its_form_is_read(live: LiveApp) -> None:
    # Only the start of the declared body is sent: a server reading the form first would wait.
    forged = "/ack/1.1." + "A" * 32
    assert raw_request(live.url, head(forged, 4000), b"action=resolve&note=") == 403


def test_a_forged_unsubscribe_token_is_refused_before_its_form_is_read(live: LiveApp) -> None:
    forged = "/u/1." + "A" * 22
    assert raw_request(live.url, head(forged, 4000), b"action=unsubscribe") == 404
