"""Email: the unsubscribe link on non-essential mail (a page, and RFC 8058 one-click), and
bounces marking the address, through a real SMTP server (aiosmtpd) and the live web app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from followup.escalations import raise_escalation
from followup.hooks import engine_hooks
from scheduler.channels.email import EmailChannel
from scheduler.channels.sandbox import SandboxChannel
from scheduler.dispatcher import Dispatcher
from scheduler.planner import plan_all
from store.models import (
    AuditEntry,
    Channel,
    ContactPerson,
    Escalation,
    Match,
    OutboxMessage,
    OutboxStatus,
)
from tests.conftest import free_port
from tests.support import survey_app
from tests.support.cast import PROGRAMMES, make_match
from tests.support.survey_app import LiveApp, visible_text
from venskab.cli import main
from venskab.cli.common import AppContext

# The live web app from tests.support.survey_app (module-scoped server, per-test clock).
_served = survey_app._served
live = survey_app.live

INVITED = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def contact(factory: sessionmaker[Session]) -> ContactPerson:
    with factory() as session:
        found = session.scalars(select(ContactPerson)).first()
        assert found is not None
        return found


async def send_survey_email(
    engine: Engine, factory: sessionmaker[Session], live: LiveApp, port: int
) -> None:
    plan_all(engine, factory, PROGRAMMES, INVITED, report=raise_escalation)
    channels: dict[str, Any] = {name: SandboxChannel(name) for name in ("sms", "telegram", "voice")}
    channels["email"] = EmailChannel(
        "127.0.0.1",
        port,
        "Venskab <venskab@example.org>",
        starttls=False,
        timeout=5,
        clock=lambda: datetime.now(UTC),
    )
    dispatcher = Dispatcher(
        factory,
        PROGRAMMES,
        channels,
        sandbox=frozenset({"sms", "telegram", "voice"}),
        public_url=live.url,
        hooks=engine_hooks(PROGRAMMES, live.url),
    )
    await dispatcher.run_once(INVITED)


async def test_a_parent_unsubscribes_from_the_link_in_a_survey_email(
    engine: Engine,
    session_factory: sessionmaker[Session],
    live: LiveApp,
    mailbox: tuple[Mailbox, int],
) -> None:
    handler, port = mailbox
    with session_factory.begin() as session:
        match = make_match(session, parent_channel=Channel.EMAIL)
        match_id, version = match.id, match.plan_version
    await send_survey_email(engine, session_factory, live, port)

    (mail,) = [m for m in handler.messages if m["To"] == "foraelder@example.org"]
    header = str(mail["List-Unsubscribe"])
    assert (
        header.startswith(f"<{live.url}/u/")
        and mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    )
    link = header.strip("<>")
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None and f"Afmeld her: {link}" in text.get_content()
    token = link.rsplit("/", 1)[1]
    with session_factory() as session:
        stored = session.scalars(
            select(OutboxMessage.body).where(
                OutboxMessage.touchpoint_id == "baseline-survey",
                OutboxMessage.occurrence_key == "1",
            )
        ).one()
    assert stored is not None and token not in stored

    # A mail scanner or the parent opening the link changes nothing yet.
    page = live.client.get(f"/u/{token}")
    assert page.status_code == 200 and "Afmeld beskeder" in page.text
    assert contact(session_factory).opted_out is False

    # The mail program's one-click unsubscribe (RFC 8058).
    done = live.client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "Du er afmeldt" in visible_text(done.text)
    assert contact(session_factory).opted_out is True
    with session_factory() as session:
        match_row = session.get(Match, match_id)
        assert match_row is not None and match_row.plan_version == version + 1
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "contact.opt_out")
        ).one()
        assert audit.details == {"source": "email"}
        assert session.scalars(select(Escalation.rule)).all() == ["opt_out"]

    # Regretted: one button to subscribe again.
    back = live.client.post(f"/u/{token}", data={"action": "resubscribe"})
    assert "Du er tilmeldt igen" in visible_text(back.text)
    assert contact(session_factory).opted_out is False


def test_a_tampered_or_outdated_unsubscribe_link_shows_nothing_and_changes_nothing(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    from scheduler.links import secret_for, unsubscribe_token

    with session_factory.begin() as session:
        match = make_match(session)
        token = unsubscribe_token(secret_for(session), match.contacts[0])
        assert token is not None
    assert live.client.get(f"/u/{token}").status_code == 200
    contact_id, mac = token.split(".")
    for bad in (
        f"{contact_id}.{mac[:-1]}A" if mac[-1] != "A" else f"{contact_id}.{mac[:-1]}B",
        f"{int(contact_id) + 1}.{mac}",
        "1",
        "abc.def",
    ):
        for response in (
            live.client.get(f"/u/{bad}"),
            live.client.post(f"/u/{bad}", data={"List-Unsubscribe": "One-Click"}),
        ):
            assert response.status_code == 404
            assert "Forælder" not in response.text and "Red Barnet" not in response.text
    # After the address changed, a link from an old mail no longer works.
    with session_factory.begin() as session:
        person = session.scalars(select(ContactPerson)).one()
        person.email = "ny.adresse@example.org"
    assert (
        live.client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    )
    assert contact(session_factory).opted_out is False


def cli(db_url: str, *args: str, stdin: bytes | None = None) -> Any:
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, now_override=INVITED)
    return CliRunner().invoke(main, ["--lang", "en", *args], obj=app, input=stdin)


DSN = b"""From: MAILER-DAEMON@mail.example.org
To: venskab@example.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

The mail could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.org

Final-Recipient: rfc822; foraelder@example.org
Action: failed
Status: 5.1.1

Final-Recipient: rfc822; later@example.org
Action: delayed
Status: 4.4.1

--b1--
"""


@pytest.mark.parametrize("how", ["address", "dsn"])
def test_a_bounce_marks_the_address_and_the_plan_moves_to_sms(
    how: str, db_url: str, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match = make_match(session, parent_channel=Channel.EMAIL)
        match_id, version = match.id, match.plan_version
    plan_all(
        engine,
        session_factory,
        PROGRAMMES,
        datetime(2026, 3, 1, tzinfo=UTC),
        report=raise_escalation,
    )

    if how == "address":
        result = cli(db_url, "mail", "bounce", "Foraelder@example.org")
    else:
        result = cli(db_url, "mail", "bounce", "--dsn", "-", stdin=DSN)

    assert result.exit_code == 0, result.output
    assert (
        "marked as bouncing (1 person)" in result.output
        and "later@example.org" not in result.output
    )
    assert contact(session_factory).email_failed is True
    with session_factory() as session:
        match_row = session.get(Match, match_id)
        assert match_row is not None and match_row.plan_version == version + 1
        (escalation,) = session.scalars(select(Escalation)).all()
    assert escalation.rule == "delivery_failed" and escalation.evidence[0]["error"] == "bounce"
    plan_all(
        engine,
        session_factory,
        PROGRAMMES,
        datetime(2026, 3, 1, tzinfo=UTC),
        report=raise_escalation,
    )
    with session_factory() as session:
        survey = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.touchpoint_id == "baseline-survey",
                OutboxMessage.occurrence_key == "1",
            )
        ).one()
    assert survey.channel == Channel.SMS and survey.status == OutboxStatus.PLANNED


def test_a_bounce_for_an_unknown_or_malformed_address_is_said_plainly(
    db_url: str, engine: Engine
) -> None:
    unknown = cli(db_url, "mail", "bounce", "nobody@example.org")
    assert unknown.exit_code == 0 and "no one has this address" in unknown.output
    bad = cli(db_url, "mail", "bounce", "not an address")
    assert bad.exit_code == 2 and "not a valid email address" in bad.output
    empty = cli(db_url, "mail", "bounce")
    assert empty.exit_code == 2
