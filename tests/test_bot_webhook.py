"""Webhook mode: with a public URL and a secret, updates arrive through the web app."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.fakes.telegram import FakeTelegram
from tests.support.bot_harness import (
    FAMILY_CHAT,
    PUBLIC,
    SECRET,
    BotHarness,
    post,
    snapshot,
)
from tests.support.cast import make_match
from tests.support.webserver import raw_request

pytest_plugins = ["tests.support.bot_harness"]  # the bot, the fake Bot API, the app


def wait_for_reply(fake: FakeTelegram, count: int) -> list[str]:
    deadline = time.monotonic() + 5
    while len(fake.sent("sendMessage")) < count:
        assert time.monotonic() < deadline, "no reply"
        time.sleep(0.01)
    return [params["text"] for _, params in fake.sent("sendMessage")]


def test_it_registers_the_webhook_instead_of_polling(
    webhook: tuple[BotHarness, str], fake: FakeTelegram
) -> None:
    assert fake.webhook_url == f"{PUBLIC}/telegram/webhook"
    (call,) = [c for c in fake.calls if c.method == "setWebhook"]
    assert call.params["secret_token"] == SECRET
    assert not [c for c in fake.calls if c.method == "getUpdates"]


def test_an_update_with_the_right_secret_is_handled(
    webhook: tuple[BotHarness, str], fake: FakeTelegram, session_factory: sessionmaker[Session]
) -> None:
    _, url = webhook
    with session_factory.begin() as session:
        make_match(session)

    response = post(url, fake.message_update(FAMILY_CHAT, "/help", push=False), SECRET)

    assert response.status_code == 200
    assert "/checkin – fortæl, hvordan det går" in wait_for_reply(fake, 1)[0]


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x"])
def test_a_wrong_or_missing_secret_gets_403_and_nothing_happens(
    webhook: tuple[BotHarness, str],
    fake: FakeTelegram,
    session_factory: sessionmaker[Session],
    secret: str | None,
) -> None:
    _, url = webhook
    with session_factory.begin() as session:
        make_match(session)
    before = snapshot(session_factory)

    response = post(url, fake.message_update(FAMILY_CHAT, "Hej", push=False), secret)
    time.sleep(0.1)

    assert response.status_code == 403
    assert fake.sent("sendMessage") == []
    assert snapshot(session_factory) == before


def test_a_body_that_is_not_an_update_is_refused(webhook: tuple[BotHarness, str]) -> None:
    _, url = webhook
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

    broken = httpx.post(url, content=b"{not json", headers=headers, timeout=5)
    listed = httpx.post(url, content=b"[1, 2]", headers=headers, timeout=5)

    assert (broken.status_code, listed.status_code) == (400, 400)


def test_a_30_mb_chunked_body_is_413_without_being_read(webhook: tuple[BotHarness, str]) -> None:
    # Bounded before parsed: without a Content-Length the body is still cut off at the limit.
    _, url = webhook
    base, path = url.rsplit("/telegram", 1)
    chunk = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20))  # 1.3 MB, no end
    head = (
        f"POST /telegram{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nTransfer-Encoding: chunked\r\n"
    )
    assert raw_request(base, head, chunks) == 413
    declared = head.replace("Transfer-Encoding: chunked", f"Content-Length: {30 * 1024 * 1024}")
    assert raw_request(base, declared, b"{") == 413


def test_a_telegram_update_delivered_again_is_handled_once(
    webhook: tuple[BotHarness, str], fake: FakeTelegram, session_factory: sessionmaker[Session]
) -> None:
    # Idempotent webhooks: Telegram retries an update whose answer it did not get.
    _, url = webhook
    with session_factory.begin() as session:
        make_match(session)
    update = fake.message_update(FAMILY_CHAT, "/help", push=False)

    answers = [post(url, update, SECRET).status_code for _ in range(3)]
    wait_for_reply(fake, 1)
    time.sleep(0.3)
    following = fake.message_update(FAMILY_CHAT, "/help", push=False)
    post(url, following, SECRET)

    assert answers == [200, 200, 200]
    assert len(wait_for_reply(fake, 2)) == 2
    time.sleep(0.2)
    assert len(fake.sent("sendMessage")) == 2
