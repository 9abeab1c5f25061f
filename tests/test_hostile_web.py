"""Hostile requests to the web side, over a real socket: bodies are bounded before anything is
parsed (declared or chunked, 413 without reading on), signatures and tokens are checked before a
form is parsed, attempts are throttled per address, and no input gives a 500."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from store.models import AuditEntry, Escalation
from tests.support import survey_app
from tests.support.cast import make_match
from tests.support.survey_app import TWILIO_TOKEN, LiveApp, invite
from tests.support.webserver import raw_request

_served = survey_app._served
live = survey_app.live

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
HUGE = 90 * 1024 * 1024


def head(path: str, *lines: str) -> str:
    return "".join(
        [f"POST {path} HTTP/1.1\r\n", "Host: 127.0.0.1\r\n"] + [f"{line}\r\n" for line in lines]
    )


FORM = "Content-Type: application/x-www-form-urlencoded"


@pytest.mark.parametrize("path", ["/twilio/sms", "/twilio/status", "/twilio/gather/1"])
def test_a_90_mb_twilio_form_is_413_before_its_body_is_read(live: LiveApp, path: str) -> None:
    # Bounded before parsed: a declared length over the limit is refused at once.
    status = raw_request(
        live.url,
        head(path, FORM, "X-Twilio-Signature: forged", f"Content-Length: {HUGE}"),
        b"Body=" + b"x" * 1000,
    )
    assert status == 413


@pytest.mark.parametrize("path", ["/twilio/sms", "/twilio/status"])
def test_a_chunked_twilio_body_is_cut_off_at_the_limit(live: LiveApp, path: str) -> None:
    chunk = b"x" * 8192
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10))  # 80 KB, no end
    status = raw_request(
        live.url,
        head(path, FORM, "X-Twilio-Signature: forged", "Transfer-Encoding: chunked"),
        chunks,
    )
    assert status == 413


def test_an_unsigned_twilio_post_is_refused_without_reading_its_body(live: LiveApp) -> None:
    status = raw_request(
        live.url, head("/twilio/sms", FORM, f"Content-Length: {HUGE}"), b"Body=hello"
    )
    assert status == 403


def test_a_forged_signature_on_a_form_within_the_limit_is_403(live: LiveApp) -> None:
    response = live.client.post(
        "/twilio/sms",
        data={"Body": "hej", "From": "+4520123421"},
        headers={"X-Twilio-Signature": "x"},
    )
    assert response.status_code == 403


def test_a_huge_survey_post_is_413_before_the_form_is_parsed(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        token = invite(session, make_match(session))
    status = raw_request(
        live.url, head(f"/s/{token}/1", FORM, f"Content-Length: {HUGE}"), b"q_comment=" + b"a" * 100
    )
    assert status == 413
    chunk = b"q=" + b"a" * 8190
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10))
    assert (
        raw_request(live.url, head(f"/s/{token}/1", FORM, "Transfer-Encoding: chunked"), chunks)
        == 413
    )


def test_a_huge_unsubscribe_post_is_413(live: LiveApp) -> None:
    status = raw_request(
        live.url, head("/u/1.abc", FORM, f"Content-Length: {HUGE}"), b"action=unsubscribe"
    )
    assert status == 413


def test_survey_posts_are_throttled_per_address(live: LiveApp) -> None:
    answers = [
        live.client.post("/s/not-a-token/1", data={"q_parent_everyday": "5"}).status_code
        for _ in range(40)
    ]
    assert set(answers[:5]) == {404}
    assert answers[-1] == 429
    assert "try again" in live.client.post("/s/not-a-token/1", data={}).text


@pytest.mark.parametrize(
    "token",
    [
        "1.1.%C3%A9",
        "1.1.%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9",
        "99999999999999999999.1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "%C2%B2.1.AAAAAAAAAAAAAAAAAAAAAAAA",
        "1..",
        "x",
    ],
)
def test_a_malformed_ack_token_is_a_polite_403_not_a_500(live: LiveApp, token: str) -> None:
    # No 500 from any input: non-ASCII tokens once reached compare_digest and failed there.
    for method in ("GET", "POST"):
        response = live.client.request(method, f"/ack/{token}")
        assert response.status_code == 403
        assert "Linket er ikke gyldigt" in response.text


def test_a_20_digit_gather_id_is_404_not_500(live: LiveApp) -> None:
    url = f"{live.url}/twilio/gather/99999999999999999999"
    params = {"CallSid": "CA" + "1" * 32, "Digits": "1"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    response = live.client.post(
        "/twilio/gather/99999999999999999999",
        data=params,
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 404


def test_odd_methods_get_405_not_500(live: LiveApp) -> None:
    for method, path in [("PUT", "/twilio/sms"), ("DELETE", "/ack/1.1.x"), ("PATCH", "/s/x/1")]:
        assert live.client.request(method, path).status_code == 405


def test_a_body_that_is_not_a_form_changes_nothing(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry))
    response = live.client.post(
        "/twilio/sms",
        content=b"--x\r\nbroken multipart",
        headers={"Content-Type": "multipart/form-data; boundary=x", "X-Twilio-Signature": "a"},
    )
    assert response.status_code in (400, 403)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_a_signed_sms_with_nul_characters_is_handled_on_every_database(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    # Found by the fuzzing suite: PostgreSQL refuses NUL, which a signed form may still carry.
    with session_factory.begin() as session:
        make_match(session)
    response = live.sms("Hej\x00 med\x07 dig", sid="SM\x00" + "9" * 31)
    assert response.status_code == 200, response.text
    with session_factory() as session:
        texts = [e["text"] for x in session.scalars(select(Escalation)) for e in x.evidence]
    assert "Hej med dig" in texts
