"""The email channel through aiosmtplib to a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from scheduler.channels import ChannelError, OutgoingMessage
from scheduler.channels.email import EmailChannel
from tests.conftest import free_port


def wall_clock() -> datetime:
    return datetime.now(UTC)


SENDER = "Venskab <venskab@example.org>"
PARENT = "parent@example.org"
GONE = "gone@example.org"  # the server answers 550 for this mailbox
BUSY = "busy@example.org"  # the server answers 451 (greylisting) for this one
NOT_ALLOWED = "Venskab <not-allowed@example.org>"  # a sender the server refuses with 553


class Mailbox:
    """An aiosmtpd handler that keeps every message and refuses two addresses."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if address == "not-allowed@example.org":
            return "553 5.7.1 Sender address rejected: not owned by user"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address == GONE:
            return "550 5.1.1 <gone@example.org>: mailbox unavailable"
        if address == BUSY:
            return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


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


def channel_for(port: int) -> EmailChannel:
    return EmailChannel("127.0.0.1", port, SENDER, starttls=False, timeout=5, clock=wall_clock)


async def test_it_sends_text_with_an_html_alternative(mailbox: tuple[Mailbox, int]) -> None:
    handler, port = mailbox
    message = OutgoingMessage(
        to=PARENT,
        subject="Velkommen til venskabsprogrammet",
        body="Kære familie, velkommen.",
        html="<p>Kære familie, <b>velkommen</b>.</p>",
        reference="outbox-17",
    )

    result = await channel_for(port).send(message)

    (mail,) = handler.messages
    assert handler.envelopes == [("venskab@example.org", [PARENT])]
    assert mail["Subject"] == "Velkommen til venskabsprogrammet"
    assert mail["Message-ID"] == result.provider_id
    assert mail["X-Venskab-Reference"] == "outbox-17"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and text.get_content().strip() == "Kære familie, velkommen."
    assert html is not None and "<b>velkommen</b>" in html.get_content()
    assert "List-Unsubscribe" not in mail


async def test_it_sends_plain_text_when_there_is_no_html(mailbox: tuple[Mailbox, int]) -> None:
    handler, port = mailbox

    await channel_for(port).send(OutgoingMessage(to=PARENT, subject="Hej", body="Bare tekst"))

    assert handler.messages[0].get_content_type() == "text/plain"


async def test_it_adds_one_click_unsubscribe_only_to_non_essential_mail(
    mailbox: tuple[Mailbox, int],
) -> None:
    handler, port = mailbox
    unsubscribe = "https://venskab.example.org/unsubscribe/abc123"
    channel = channel_for(port)

    await channel.send(
        OutgoingMessage(
            to=PARENT,
            subject="Nyhedsbrev",
            body="Nyt",
            essential=False,
            unsubscribe_url=unsubscribe,
        )
    )
    await channel.send(
        OutgoingMessage(to=PARENT, subject="Besøg", body="Husk", unsubscribe_url=unsubscribe)
    )

    newsletter, reminder = handler.messages
    assert newsletter["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert newsletter["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "List-Unsubscribe" not in reminder
    assert "List-Unsubscribe-Post" not in reminder


async def test_it_treats_a_550_as_permanent(mailbox: tuple[Mailbox, int]) -> None:
    _, port = mailbox

    with pytest.raises(ChannelError) as caught:
        await channel_for(port).send(OutgoingMessage(to=GONE, subject="Hej", body="Hej"))

    assert caught.value.permanent
    assert caught.value.code == "550"
    assert GONE not in str(caught.value)


async def test_it_treats_a_451_as_transient(mailbox: tuple[Mailbox, int]) -> None:
    _, port = mailbox

    with pytest.raises(ChannelError) as caught:
        await channel_for(port).send(OutgoingMessage(to=BUSY, subject="Hej", body="Hej"))

    assert not caught.value.permanent
    assert caught.value.code == "451"


async def test_a_refused_sender_is_our_configuration_and_never_disables_the_address(
    mailbox: tuple[Mailbox, int],
) -> None:
    _, port = mailbox
    channel = EmailChannel(
        "127.0.0.1", port, NOT_ALLOWED, starttls=False, timeout=5, clock=wall_clock
    )

    with pytest.raises(ChannelError) as caught:
        await channel.send(OutgoingMessage(to=PARENT, subject="Hej", body="Hej"))

    assert not caught.value.permanent  # a 5xx, yet not the parent's address's fault
    assert caught.value.code == "553"


async def test_it_treats_a_refused_connection_as_transient() -> None:
    with pytest.raises(ChannelError) as caught:
        await channel_for(free_port()).send(OutgoingMessage(to=PARENT, subject="Hej", body="Hej"))

    assert not caught.value.permanent
    assert caught.value.code == "connection"
