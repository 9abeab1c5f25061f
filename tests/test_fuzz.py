"""Fuzzing every input with hypothesis, a bounded number of examples each (part of the suite and
of CI): webhook forms and signatures, survey posts, bot commands with any arguments, CSV import
and programme YAML. No unhandled exception, no 500, and no partial write."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from followup import importer
from followup.import_file import ImportFailed
from scheduler import i18n
from scheduler.programme import ProgrammeError, parse_programme
from store.models import Escalation, Match, SurveyResponse
from tests.conftest import free_port
from tests.support.bot_harness import FAMILY_CHAT, BotHarness, snapshot
from tests.support.cast import PROGRAMMES, make_match
from tests.support.survey_app import TWILIO_SID, TWILIO_TOKEN, invite
from tests.support.webserver import serving
from venskab.cli.common import AppContext
from web.ack import ACK_THROTTLE
from web.app import create_app
from web.limits import Throttle

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
OK_STATUSES = {200, 204, 303, 307, 400, 403, 404, 405, 409, 410, 413, 422, 429}

# Text that a hostile sender would try: any script, control characters, formula starts, huge
# numbers, surrogates are impossible in form data (UTF-8) and left out.
hostile_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.sampled_from(
    [
        '=HYPERLINK("http://x")',
        "\x00\x07\x1b[2J",
        "99999999999999999999",
        "31.12.9999-31.12.9999",
        "STOP",
        "ja",
        "1",
        "",
    ]
)
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
        yield Served(url, client, throttles)
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


@FUZZ
@given(data=form)
def test_any_correctly_signed_sms_gets_twiml_and_never_a_500(
    served: Served, session_factory: sessionmaker[Session], data: dict[str, str]
) -> None:
    with session_factory.begin() as session:
        if session.scalar(select(Match.id)) is None:
            make_match(session)  # a family and a parent to write from
    url = f"{served.url}/twilio/sms"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, data)
    response = served.client.post(
        "/twilio/sms", data=data, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 200, response.text
    assert response.text.startswith("<?xml")


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
def test_any_survey_post_is_answered_without_a_500_and_stores_only_clean_text(
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
    response = served.client.post(path, data=fields)
    assert response.status_code in OK_STATUSES, (path, response.status_code)
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


# -- the bot: every family command with any arguments ------------------------------------------

COMMANDS = [
    "/pause",
    "/checkin",
    "/plan",
    "/next",
    "/stop",
    "/worry",
    "/help",
    "/language",
    "/cancel",
    "/start",
]


@FUZZ
@given(command=st.sampled_from(COMMANDS), argument=hostile_text)
def test_any_family_command_with_any_argument_is_answered_without_an_error(
    bot: BotHarness,
    session_factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
    command: str,
    argument: str,
) -> None:
    with session_factory.begin() as session:
        if session.scalar(select(Match.id)) is None:
            make_match(session)  # the family of FAMILY_CHAT
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        sent = bot.say(FAMILY_CHAT, f"{command} {argument}".strip()[:4096])
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    with session_factory() as session:
        assert not session.scalars(select(Escalation).where(Escalation.rule == "bot_error")).all()
    assert sent.texts  # always an answer
    bot.fake.assert_no_violations()


# -- CSV import and programme YAML ----------------------------------------------------------------

HEADERS = {
    "staff": "ref,name,role,region,email,phone,locale",
    "families": "ref,name,contact_name,phone,email,region,locale",
    "contacts": "ref,name,relation,phone,email,locale,preferred_channel",
}
cell = hostile_text.map(lambda t: t.replace(",", " ").replace("\n", " ").replace("\r", " "))


@FUZZ
@given(
    kind=st.sampled_from(sorted(HEADERS)),
    rows=st.lists(st.lists(cell, min_size=0, max_size=8), min_size=1, max_size=5),
    raw=st.binary(max_size=200),
    use_raw=st.booleans(),
)
def test_any_csv_is_imported_whole_or_refused_whole(
    session_factory: sessionmaker[Session],
    kind: str,
    rows: list[list[str]],
    raw: bytes,
    use_raw: bool,
) -> None:
    data = raw if use_raw else "\n".join([HEADERS[kind], *(",".join(r) for r in rows)]).encode()
    before = snapshot(session_factory)
    try:
        with session_factory.begin() as session:
            importer.import_csv(
                session, kind, data, f"{kind}.csv", PROGRAMMES, today=date(2026, 3, 1)
            )
    except ImportFailed as failed:
        assert snapshot(session_factory) == before  # nothing half-written
        for code in ("da", "en"):  # every problem reads whole in the staff member's language
            assert all(line for line in failed.lines(i18n.texts(code)))


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@FUZZ
@given(
    raw=st.fixed_dictionaries(
        {},
        optional={
            "id": st.text(max_size=20),
            "name": st.text(max_size=20),
            "touchpoints": st.lists(
                st.dictionaries(
                    st.sampled_from(
                        [
                            "id",
                            "kind",
                            "audience",
                            "channel",
                            "offset",
                            "template",
                            "repeat",
                            "reminders",
                            "name",
                        ]
                    ),
                    yaml_values,
                    max_size=6,
                ),
                max_size=3,
            ),
            "quiet_hours": yaml_values,
            "escalations": yaml_values,
        },
    )
    | yaml_values
)
def test_any_programme_yaml_is_valid_or_a_clear_programme_error(raw: object) -> None:
    text = yaml.safe_dump(raw, allow_unicode=True)
    try:
        parse_programme(yaml.safe_load(text), "fuzz.yaml")
    except ProgrammeError as error:
        assert "fuzz.yaml" in str(error)
