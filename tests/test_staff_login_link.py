"""A one-time login link by email: asked for on the login page, sent through the outbox and the
real email channel to an SMTP server on 127.0.0.1, used once in the browser's place."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from followup.hooks import engine_hooks
from scheduler.channels.base import Channel
from scheduler.channels.sandbox import SandboxChannel
from scheduler.dispatcher import Dispatcher
from store.models import OutboxMessage, OutboxStatus
from tests.support import staff_app
from tests.support.cast import PROGRAMMES
from tests.support.staff_app import NOW, World, csrf_of
from tests.test_channel_email import Mailbox, channel_for, mailbox  # noqa: F401 (a fixture)

_served = staff_app._served
world = staff_app.world


def ask(client: httpx.Client, login: str) -> httpx.Response:
    page = client.get("/login")
    return client.post("/login/link", data={"csrf": csrf_of(page.text), "login": login})


async def deliver(world: World, factory: sessionmaker[Session], port: int) -> None:
    channels: dict[str, Channel] = {
        "email": channel_for(port),
        "sms": SandboxChannel("sms"),
        "telegram": SandboxChannel("telegram"),
        "voice": SandboxChannel("voice"),
    }
    dispatcher = Dispatcher(
        factory,
        PROGRAMMES,
        channels,
        sandbox=frozenset({"sms", "telegram", "voice"}),
        public_url=world.url,
        hooks=engine_hooks(PROGRAMMES, world.url),
    )
    await dispatcher.run_once(NOW)
    for channel in channels.values():
        await channel.close()


async def test_a_login_link_signs_in_once_and_never_reaches_the_database(
    world: World,
    session_factory: sessionmaker[Session],
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    handler, port = mailbox
    with world.client() as client:
        answer = ask(client, world.emails["procesleder"])
        assert answer.status_code == 200 and "er et link på vej" in answer.text
        unknown = ask(client, "nobody@example.org")
        assert unknown.text.count("er et link på vej") == 1  # the same answer: nothing revealed
    await deliver(world, session_factory, port)

    [mail] = handler.messages
    assert mail["To"] == world.emails["procesleder"]
    assert mail["Subject"] == "Dit link til at logge ind i venskab"
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(rf"{re.escape(world.url)}/login/link/(\S+)", text)
    assert found, text
    link = found.group(0)
    with session_factory() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "login_link")).one()
        assert row.status == OutboxStatus.SENT
        assert found.group(1) not in (row.body or "") and "[link]" in (row.body or "")

    with world.client() as client:
        shown = client.get(link)  # what a mail scanner opening the link does: nothing
        assert shown.status_code == 200 and "Tryk på knappen" in shown.text
        signed = client.post(link, data={"csrf": csrf_of(shown.text)})
        assert signed.status_code == 303 and signed.headers["location"] == "/today"
        assert client.get("/today").status_code == 200
    with world.client() as client:  # the same link again: used up
        again = client.get(link)
        refused = client.post(link, data={"csrf": csrf_of(again.text)})
        assert refused.status_code == 400 and "Linket virker ikke længere" in refused.text
        forged = client.get(link[:-3] + "abc")
        assert (
            client.post(link[:-3] + "abc", data={"csrf": csrf_of(forged.text)}).status_code == 400
        )


async def test_a_login_link_expires_after_a_quarter_of_an_hour(
    world: World,
    session_factory: sessionmaker[Session],
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    handler, port = mailbox
    with world.client() as client:
        ask(client, world.emails["coordinator"])
    await deliver(world, session_factory, port)
    text = handler.messages[0].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(rf"{re.escape(world.url)}/login/link/\S+", text).group(0)  # type: ignore[union-attr]
    world.at(NOW + timedelta(minutes=16))
    with world.client() as client:
        page = client.get(link)
        late = client.post(link, data={"csrf": csrf_of(page.text)})
        assert late.status_code == 400 and "for gammelt" in late.text
