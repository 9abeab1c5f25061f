"""Fuzzing the web app's inputs with hypothesis: Twilio's forms and signatures, survey posts, the
unsubscribe link and the acknowledgement link. No unhandled exception, no 500, and no partial
write. The bot is fuzzed in ``test_fuzz_bot.py``, import files and programmes in
``test_fuzz_files.py``; the number of examples is the profile's (``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from followup.alerts import ack_token
from followup.escalations import raise_escalation
from scheduler.links import secret_for, unsubscribe_token
from store.models import ContactPerson, Escalation, Match, Severity, SurveyResponse
from store.validation import has_control
from tests.conftest import free_port
from tests.support.bot_harness import snapshot
from tests.support.cast import make_match
from tests.support.fuzz import FUZZ, OK_STATUSES, grown, hostile_text, row_counts
from tests.support.survey_app import TWILIO_SID, TWILIO_TOKEN, invite
from tests.support.webserver import serving
from venskab.cli.common import AppContext
from web.ack import ACK_THROTTLE
from web.app import create_app
from web.limits import Throttle

form = st.dictionaries(
    st.sampled_from(
        [
            "From",
            "To",
            "Body",
            "MessageSid",
            "SmsSid",
            "NumMedia",
            "MessageStatus",
            "CallSid",
            "CallStatus",
            "Digits",
            "ErrorCode",
            "AccountSid",
        ]
    )
    | st.text(max_size=20),
    hostile_text,
    max_size=8,
)


@dataclass
class Served:
    url: str
    client: httpx.Client
    throttles: list[Throttle]
    context: AppContext

    def reset_throttles(self) -> None:
        for throttle in self.throttles:
            throttle._seen.clear()


@pytest.fixture(scope="module")
def served(engine: Engine, db_url: str) -> Iterator[Served]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    context = AppContext(
        env={
            "VENSKAB_DATABASE_URL": db_url,
            "VENSKAB_PUBLIC_URL": url,
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_FROM": "+4520123499",
        }
    )
    app = create_app(context.services)
    # The survey pages' throttle (an attribute of the routes' endpoint object) and the ack
    # links': examples come faster than any parent, and must reach the code behind them.
    owners: list[Any] = [
        getattr(getattr(r, "endpoint", None), "__self__", None) for r in app.routes
    ]
    throttles: list[Throttle] = [
        o.throttle for o in set(owners) if isinstance(getattr(o, "throttle", None), Throttle)
    ]
    throttles.append(ACK_THROTTLE)
    with serving(app, port), httpx.Client(base_url=url, timeout=10) as client:
        yield Served(url, client, throttles, context)
    context.close()


@FUZZ
@given(
    path=st.sampled_from(["/twilio/sms", "/twilio/status", "/twilio/gather/1"]),
    data=form,
    signature=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
)
def test_a_forged_or_missing_signature_on_any_form_changes_nothing(
    served: Served,
    session_factory: sessionmaker[Session],
    path: str,
    data: dict[str, str],
    signature: str,
) -> None:
    before = snapshot(session_factory)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = served.client.post(path, data=data, headers=headers)
    assert response.status_code in {403, 400, 404}
    assert snapshot(session_factory) == before


def a_match(factory: sessionmaker[Session]) -> Match:
    """The cast's match (a family, a parent, a procesleder), made by the first example."""
    with factory.begin() as session:
        match = session.scalars(select(Match)).first() or make_match(session)
        session.expunge_all()
        return match


def signed_post(served: Served, path: str, data: dict[str, str]) -> httpx.Response:
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{served.url}{path}", data)
    return served.client.post(path, data=data, headers={"X-Twilio-Signature": signature})


@FUZZ
@given(data=form, from_the_parent=st.booleans(), sid=st.text(max_size=40))
def test_any_correctly_signed_sms_is_recorded_once_and_whole_and_gets_twiml(
    served: Served,
    session_factory: sessionmaker[Session],
    data: dict[str, str],
    from_the_parent: bool,
    sid: str,
) -> None:
    a_match(session_factory)
    if from_the_parent:  # garbage fields, but from a number we know and with its own id
        data = {**data, "From": "+4520123421", "MessageSid": "SM" + sid}
    before = row_counts(session_factory)
    response = signed_post(served, "/twilio/sms", data)
    assert response.status_code == 200, response.text
    assert response.text.startswith("<?xml")
    after = row_counts(session_factory)
    changed = grown(before, after)
    # One transaction: whatever the message led to was recorded with its receipt, or nothing.
    if (data.get("MessageSid") or data.get("SmsSid")) and changed:
        assert after["webhook_receipt"] == before["webhook_receipt"] + 1, sorted(changed)
        again = signed_post(served, "/twilio/sms", data)  # Twilio delivers it again
        assert again.status_code == 200
        assert row_counts(session_factory) == after


@FUZZ
@given(
    outbox_id=st.text(alphabet="0123456789", min_size=1, max_size=25) | st.text(max_size=10),
    data=form,
)
def test_any_signed_status_callback_or_voice_answer_is_4xx_or_handled(
    served: Served, outbox_id: str, data: dict[str, str]
) -> None:
    for path in ("/twilio/status", f"/twilio/gather/{outbox_id}"):
        url = httpx.URL(f"{served.url}{quote(path)}")
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(str(url), data)
        response = served.client.post(url, data=data, headers={"X-Twilio-Signature": signature})
        assert response.status_code in OK_STATUSES, (path, response.status_code)


@FUZZ
@given(
    page=st.integers(min_value=-5, max_value=10**20),
    fields=st.dictionaries(
        st.sampled_from(
            ["q_parent_everyday", "q_parent_talk", "q_child_adults", "q_comment", "nav"]
        )
        | st.text(max_size=10),
        hostile_text,
        max_size=6,
    ),
    token_kind=st.sampled_from(["real", "random"]),
    random_token=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=60),
)
def test_any_survey_post_is_stored_whole_or_not_at_all_and_only_as_clean_text(
    served: Served,
    session_factory: sessionmaker[Session],
    page: int,
    fields: dict[str, str],
    token_kind: str,
    random_token: str,
) -> None:
    served.reset_throttles()
    with session_factory.begin() as session:
        match = session.scalars(select(Match)).first() or make_match(session)
        token = invite(session, match) if token_kind == "real" else None
    path = f"/s/{token or quote(random_token, safe='')}/{page}"
    before = row_counts(session_factory)
    response = served.client.post(path, data=fields)
    assert response.status_code in OK_STATUSES, (path, response.status_code)
    changed = grown(before, row_counts(session_factory))
    if response.status_code >= 400:
        assert not changed, (response.status_code, sorted(changed))  # refused: nothing written
    else:  # a page's answers (and the invitation completed), nothing else
        assert changed <= {"survey_response", "survey_invitation", "audit_entry"}, changed
    with session_factory() as session:
        for value in session.scalars(select(SurveyResponse.value)):
            assert value is None or not any(ord(ch) < 32 and ch not in "\t\n" for ch in value)


@FUZZ
@given(token=st.text(max_size=120), method=st.sampled_from(["GET", "POST"]))
def test_any_acknowledgement_token_is_4xx_never_500(
    served: Served, token: str, method: str
) -> None:
    served.reset_throttles()
    path = "/ack/" + quote(token, safe="")
    response = served.client.request(method, path)
    # 307: "/ack/x/" (an encoded slash at the end) is redirected to "/ack/x" by Starlette.
    assert response.status_code in {307, 403, 404, 405}, (path, response.status_code)


@FUZZ
@given(
    real=st.booleans(),
    forged=st.text(max_size=80),
    method=st.sampled_from(["GET", "POST"]),
    fields=st.dictionaries(
        st.sampled_from(["action"]) | st.text(max_size=10), hostile_text, max_size=4
    )
    | st.fixed_dictionaries({"action": st.sampled_from(["unsubscribe", "resubscribe", "", "x"])}),
    lang=hostile_text,
)
def test_any_unsubscribe_link_and_form_is_answered_and_only_a_signed_one_changes_anything(
    served: Served,
    session_factory: sessionmaker[Session],
    real: bool,
    forged: str,
    method: str,
    fields: dict[str, str],
    lang: str,
) -> None:
    a_match(session_factory)
    with session_factory.begin() as session:
        parent = session.scalars(select(ContactPerson)).one()
        token = unsubscribe_token(secret_for(session, served.context.services.link_secret), parent)
    assert token is not None
    path = "/u/" + (token if real else quote(forged, safe=""))
    before = snapshot(session_factory)
    response = served.client.request(
        method, path, params={"lang": lang}, data=fields if method == "POST" else None
    )
    assert response.status_code in OK_STATUSES, (path, response.status_code)
    if not real or method == "GET":
        assert snapshot(session_factory) == before  # a forged link, or a mail scanner's GET
    with session_factory() as session:
        opted_out = session.scalars(select(ContactPerson.opted_out)).one()
    if real and method == "POST":
        assert opted_out == (fields.get("action") != "resubscribe")


NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(["action", "note"]) | st.text(max_size=10), hostile_text, max_size=5
    )
    | st.fixed_dictionaries(
        {"action": st.sampled_from(["ack", "snooze", "resolve", ""]), "note": hostile_text}
    ),
    method=st.sampled_from(["GET", "POST"]),
)
@example(fields={"action": "resolve", "note": "Talt med familien \x00\x07\x1b[2J"}, method="POST")
def test_a_signed_acknowledgement_link_with_any_form_is_answered_and_stores_clean_text(
    served: Served, session_factory: sessionmaker[Session], fields: dict[str, str], method: str
) -> None:
    served.reset_throttles()
    with session_factory.begin() as session:
        match = session.scalars(select(Match)).first() or make_match(session)
        assert match.staff is not None
        case = raise_escalation(
            session, match, "worry", now=NOW, severity=Severity.URGENT, evidence={"text": "?"}
        )
        token = ack_token(secret_for(session, None), case.id, match.staff.id)
        case_id, status = case.id, case.status
    response = served.client.request(
        method, f"/ack/{token}", data=fields if method == "POST" else None
    )
    assert response.status_code in {200, 400, 409}, response.status_code
    with session_factory() as session:
        stored = session.get(Escalation, case_id)
        assert stored is not None
        assert not has_control(stored.resolution_note or "")
        if method == "GET" or response.status_code >= 400:
            assert stored.status == status  # shown, or refused: unchanged
