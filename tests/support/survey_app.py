"""A live web app for the survey and inbound tests: the Starlette app served by uvicorn on
127.0.0.1 with a clock the test sets, invitations as the dispatcher makes them, and signed Twilio
posts.

A test module uses the server with ``_served = survey_app._served`` and ``live = survey_app.live``
(a module-scoped server, a per-test clock).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from scheduler.links import invitation_for, secret_for
from store.models import ContactPerson, Match, SurveyInvitation, SurveyResponse
from tests.conftest import free_port
from tests.support.webserver import serving
from venskab.cli.common import AppContext
from web.app import create_app

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "test-twilio-auth-token-0042"
PARENT_PHONE = "+4520123421"  # the parent in tests.support.cast


@dataclass
class LiveApp:
    """The Starlette app served by uvicorn on 127.0.0.1, with the clock under the test's control."""

    url: str
    context: AppContext
    client: httpx.Client

    def at(self, now: datetime | None) -> None:
        self.context.now_override = now

    def sms(
        self,
        body: str,
        sender: str = PARENT_PHONE,
        *,
        sid: str | None = None,
        sign: bool = True,
        signed_params: dict[str, str] | None = None,
        media: str = "0",
    ) -> httpx.Response:
        """Post an inbound SMS the way Twilio does, signed with the auth token. Each message has
        its own MessageSid unless ``sid`` gives one (a replay)."""
        sid = sid or "SM" + uuid.uuid4().hex
        params = {
            "From": sender,
            "To": "+4520123499",
            "Body": body,
            "MessageSid": sid,
            "AccountSid": TWILIO_SID,
            "NumMedia": media,
        }
        headers = {}
        if sign:
            signature = RequestValidator(TWILIO_TOKEN).compute_signature(
                f"{self.url}/twilio/sms", signed_params if signed_params is not None else params
            )
            headers["X-Twilio-Signature"] = signature
        return self.client.post("/twilio/sms", data=params, headers=headers)


@pytest.fixture(scope="module")
def _served(engine: Engine, db_url: str) -> Iterator[LiveApp]:
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
    with (
        serving(create_app(context.services), port),
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        yield LiveApp(url, context, client)
    context.close()


@pytest.fixture
def live(_served: LiveApp, session_factory: sessionmaker[Session]) -> Iterator[LiveApp]:
    _served.at(None)
    yield _served
    _served.at(None)


def invite(
    session: Session,
    match: Match,
    *,
    survey: str = "parent-sample",
    wave: str = "baseline",
    now: datetime | None = None,
    contact: ContactPerson | None = None,
) -> str:
    """An invitation as the dispatcher makes it when it sends the first message; its token."""
    now = now or datetime.now(UTC)
    contact = contact or match.contacts[0]
    invitation, token = invitation_for(
        session, match.id, contact.id, survey, wave, now, secret_for(session)
    )
    if invitation.sent_at is None:
        invitation.sent_at = now
    return token


def answers(factory: sessionmaker[Session], token_or_id: str | int) -> dict[str, str | None]:
    with factory() as session:
        if isinstance(token_or_id, int):
            invitation_id = token_or_id
        else:
            from scheduler.links import find_by_token

            found = find_by_token(session, token_or_id)
            assert found is not None
            invitation_id = found.id
        return {
            r.question_id: r.value
            for r in session.scalars(
                select(SurveyResponse).where(SurveyResponse.invitation_id == invitation_id)
            )
        }


def invitation(factory: sessionmaker[Session], token: str) -> SurveyInvitation:
    from scheduler.links import find_by_token

    with factory() as session:
        found = find_by_token(session, token)
        assert found is not None
        return found


def visible_text(html: str) -> str:
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def has_checked_radio(html: str) -> bool:
    return re.search(r"<input[^>]*\bchecked\b", html) is not None
