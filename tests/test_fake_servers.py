"""The fake provider servers refuse what the real APIs refuse, so a green test means something."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from scheduler.channels.telegram import make_bot
from tests.fakes.spec import SPECS_DIR, load_spec
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio

PARENT_CHAT = 4242


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(callbacks=False) as fake:
        yield fake


def call(fake: FakeTelegram, method: str, **params: Any) -> httpx.Response:
    """A form-encoded Bot API call, the way PTB sends it (complex values as JSON text)."""
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return httpx.post(f"{fake.url}/bot{fake.token}/{method}", data=form, timeout=5)


def keyboard(data: str) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": "Ja", "callback_data": data}]]}


# -- Telegram ----------------------------------------------------------------------------------


def test_it_answers_a_well_formed_send_message_with_a_message(telegram: FakeTelegram) -> None:
    first = call(
        telegram, "sendMessage", chat_id=PARENT_CHAT, text="Hej", reply_markup=keyboard("a")
    )
    second = call(telegram, "sendMessage", chat_id=PARENT_CHAT, text="Hej igen")

    assert first.status_code == 200
    message = first.json()["result"]
    assert message["chat"] == {"id": PARENT_CHAT, "type": "private", "first_name": "Parent"}
    assert message["text"] == "Hej"
    assert message["reply_markup"] == keyboard("a")
    assert second.json()["result"]["message_id"] > message["message_id"]
    assert [params["text"] for _, params in telegram.sent("sendMessage")] == ["Hej", "Hej igen"]
    telegram.assert_no_violations()


def test_it_rejects_a_send_message_without_chat_id(telegram: FakeTelegram) -> None:
    response = call(telegram, "sendMessage", text="Hej")

    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert response.json()["error_code"] == 400
    assert telegram.violations == ["sendMessage: missing required field 'chat_id'"]
    telegram.violations.clear()


def test_it_rejects_callback_data_of_65_bytes(telegram: FakeTelegram) -> None:
    ok = call(
        telegram, "sendMessage", chat_id=PARENT_CHAT, text="Hej", reply_markup=keyboard("x" * 64)
    )
    too_long = call(
        telegram, "sendMessage", chat_id=PARENT_CHAT, text="Hej", reply_markup=keyboard("x" * 65)
    )
    # æ is two bytes in UTF-8: 33 of them are 66 bytes although only 33 characters.
    danish = call(
        telegram, "sendMessage", chat_id=PARENT_CHAT, text="Hej", reply_markup=keyboard("æ" * 33)
    )

    assert ok.status_code == 200
    assert too_long.status_code == 400
    assert danish.status_code == 400
    assert len(telegram.violations) == 2
    assert all("BUTTON_DATA_INVALID" in v for v in telegram.violations)
    telegram.violations.clear()


def test_it_rejects_a_button_without_an_action(telegram: FakeTelegram) -> None:
    markup = {"inline_keyboard": [[{"text": "Ja"}]]}

    response = call(telegram, "sendMessage", chat_id=PARENT_CHAT, text="Hej", reply_markup=markup)

    assert response.status_code == 400
    assert "exactly one action" in telegram.violations[0]
    telegram.violations.clear()


def test_it_rejects_text_of_4097_characters(telegram: FakeTelegram) -> None:
    longest = call(telegram, "sendMessage", chat_id=PARENT_CHAT, text="a" * 4096)
    too_long = call(telegram, "sendMessage", chat_id=PARENT_CHAT, text="a" * 4097)
    empty = call(telegram, "sendMessage", chat_id=PARENT_CHAT, text="")

    assert longest.status_code == 200
    assert too_long.status_code == 400
    assert empty.status_code == 400
    assert len(telegram.violations) == 2
    telegram.violations.clear()


def test_it_rejects_unknown_fields_and_wrong_types(telegram: FakeTelegram) -> None:
    unknown = call(telegram, "sendMessage", chat_id=PARENT_CHAT, text="Hej", colour="blue")
    wrong_type = call(
        telegram, "sendMessage", chat_id=PARENT_CHAT, text="Hej", disable_notification="maybe"
    )
    bad_json = call(telegram, "sendMessage", chat_id=PARENT_CHAT, text="Hej", reply_markup="{")

    assert [r.status_code for r in (unknown, wrong_type, bad_json)] == [400, 400, 400]
    assert telegram.violations[0] == "sendMessage: unknown field 'colour'"
    assert "disable_notification: expected Boolean" in telegram.violations[1]
    assert len(telegram.violations) == 3
    telegram.violations.clear()


def test_it_answers_404_for_an_unknown_method(telegram: FakeTelegram) -> None:
    response = call(telegram, "sendSmokeSignal", chat_id=PARENT_CHAT)

    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert telegram.violations == ["sendSmokeSignal: unknown method"]
    telegram.violations.clear()


def test_it_answers_401_for_a_wrong_token(telegram: FakeTelegram) -> None:
    response = httpx.post(f"{telegram.url}/bot1:wrong/getMe", timeout=5)

    assert response.status_code == 401
    telegram.assert_no_violations()


def test_it_keeps_string_fields_as_strings(telegram: FakeTelegram) -> None:
    response = call(telegram, "answerCallbackQuery", callback_query_id="102")

    assert response.json() == {"ok": True, "result": True}
    assert telegram.sent("answerCallbackQuery") == [
        ("answerCallbackQuery", {"callback_query_id": "102"})
    ]
    telegram.assert_no_violations()


def test_it_refuses_an_edit_that_changes_nothing(telegram: FakeTelegram) -> None:
    sent = call(
        telegram, "sendMessage", chat_id=PARENT_CHAT, text="Hej", reply_markup=keyboard("a")
    )
    message_id = sent.json()["result"]["message_id"]

    same = call(
        telegram,
        "editMessageText",
        chat_id=PARENT_CHAT,
        message_id=message_id,
        text="Hej",
        reply_markup=keyboard("a"),
    )
    changed = call(
        telegram, "editMessageText", chat_id=PARENT_CHAT, message_id=message_id, text="Tak!"
    )

    assert same.status_code == 400
    assert "message is not modified" in same.json()["description"]
    assert changed.json()["result"]["text"] == "Tak!"
    assert "reply_markup" not in changed.json()["result"]
    telegram.assert_no_violations()


def test_it_long_polls_until_an_update_is_pushed(telegram: FakeTelegram) -> None:
    results: list[list[dict[str, Any]]] = []
    poller = threading.Thread(
        target=lambda: results.append(call(telegram, "getUpdates", timeout=5).json()["result"])
    )
    poller.start()
    update = telegram.message_update(PARENT_CHAT, "/start")
    poller.join(timeout=5)

    assert results == [[update]]
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    telegram.assert_no_violations()


def test_it_forgets_updates_before_the_offset(telegram: FakeTelegram) -> None:
    first = telegram.message_update(PARENT_CHAT, "en")
    second = telegram.message_update(PARENT_CHAT, "to")

    everything = call(telegram, "getUpdates").json()["result"]
    after_first = call(telegram, "getUpdates", offset=first["update_id"] + 1).json()["result"]
    none_left = call(telegram, "getUpdates", offset=second["update_id"] + 1).json()["result"]

    assert [u["update_id"] for u in everything] == [first["update_id"], second["update_id"]]
    assert after_first == [second]
    assert none_left == []
    telegram.assert_no_violations()


def test_it_refuses_get_updates_while_a_webhook_is_set(telegram: FakeTelegram) -> None:
    assert (
        call(telegram, "setWebhook", url="https://venskab.example.org/telegram").status_code == 200
    )

    assert call(telegram, "getUpdates").status_code == 409
    assert call(telegram, "getWebhookInfo").json()["result"]["url"].startswith("https://")
    telegram.assert_no_violations()


async def test_it_serves_a_polling_ptb_application(telegram: FakeTelegram) -> None:
    replies: list[str] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="visit:1:yes")]])
        await update.effective_message.reply_text("Mødtes I?", reply_markup=markup)

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Tak")
        await query.edit_message_text(f"Svar: {query.data}")
        replies.append(str(query.data))

    app = Application.builder().bot(make_bot(telegram.token, api_url=telegram.url)).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(answer))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=1, poll_interval=0)
        telegram.message_update(PARENT_CHAT, "/start")
        while not telegram.sent("sendMessage"):
            await asyncio.sleep(0.02)
        message = telegram.sent("sendMessage")[0][1]
        prompt = next(c for c in telegram.calls if c.method == "sendMessage")
        prompt_id = prompt.result["message_id"]
        telegram.callback_update(PARENT_CHAT, "visit:1:yes", message_id=prompt_id)
        while not replies:
            await asyncio.sleep(0.02)
        await app.updater.stop()
        await app.stop()

    assert message["text"] == "Mødtes I?"
    answered = telegram.sent("answerCallbackQuery")[0][1]
    assert isinstance(answered["callback_query_id"], str)
    assert telegram.sent("editMessageText")[0][1]["text"] == "Svar: visit:1:yes"
    telegram.assert_no_violations()


def test_the_specs_are_part_of_the_repository_with_their_source_and_licence() -> None:
    repository = Path(__file__).resolve().parents[1]
    assert SPECS_DIR.is_relative_to(repository)
    note = (SPECS_DIR / "README.md").read_text(encoding="utf-8")
    telegram = load_spec("telegram-bot-api.json")
    twilio = load_spec("twilio-api-v2010-messages-calls.json")
    assert f"Telegram Bot API {telegram['version'].removeprefix('Bot API ')}" in note
    assert twilio["openapi"].startswith("3") and "2010-04-01" in note
    assert note.count("| MIT |") == 2


# -- Twilio ------------------------------------------------------------------------------------


def twilio_post(
    fake: FakeTwilio, resource: str, form: dict[str, Any], *, token: str | None = None
) -> httpx.Response:
    credentials = f"{fake.account_sid}:{token or fake.auth_token}".encode()
    return httpx.post(
        f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}/{resource}.json",
        data=form,
        headers={"Authorization": "Basic " + base64.b64encode(credentials).decode()},
        timeout=5,
    )


def test_it_creates_a_message_like_twilio(twilio: FakeTwilio) -> None:
    response = twilio_post(
        twilio, "Messages", {"To": "+4520000001", "From": "+4520000000", "Body": "Hej æøå"}
    )

    assert response.status_code == 201
    body = response.json()
    assert body["sid"].startswith("SM") and len(body["sid"]) == 34
    assert body["status"] == "queued"
    assert body["num_segments"] == "1"
    assert twilio.messages[0].sid == body["sid"]
    twilio.assert_no_violations()


def test_it_rejects_a_message_without_to(twilio: FakeTwilio) -> None:
    response = twilio_post(twilio, "Messages", {"From": "+4520000000", "Body": "Hej"})

    assert response.status_code == 400
    assert response.json()["code"] == 21604
    assert len(twilio.violations) == 1
    assert "'To' is a required property" in twilio.violations[0]
    twilio.violations.clear()


def test_it_rejects_unknown_fields_and_bad_enum_values(twilio: FakeTwilio) -> None:
    base = {"To": "+4520000001", "From": "+4520000000", "Body": "Hej"}

    unknown = twilio_post(twilio, "Messages", {**base, "Colour": "blue"})
    bad_enum = twilio_post(twilio, "Messages", {**base, "RiskCheck": "sometimes"})
    no_body = twilio_post(twilio, "Messages", {"To": "+4520000001", "From": "+4520000000"})

    assert [r.status_code for r in (unknown, bad_enum, no_body)] == [400, 400, 400]
    assert "Colour" in twilio.violations[0]
    assert "sometimes" in twilio.violations[1]
    assert no_body.json()["code"] == 21602
    assert len(twilio.violations) == 3
    twilio.violations.clear()


def test_it_rejects_a_call_without_twiml_or_url(twilio: FakeTwilio) -> None:
    response = twilio_post(twilio, "Calls", {"To": "+4520000001", "From": "+4520000000"})
    broken = twilio_post(
        twilio, "Calls", {"To": "+4520000001", "From": "+4520000000", "Twiml": "<Response>"}
    )

    assert response.status_code == 400
    assert broken.status_code == 400
    assert len(twilio.violations) == 2
    twilio.violations.clear()


def test_it_answers_401_for_wrong_credentials(twilio: FakeTwilio) -> None:
    response = twilio_post(
        twilio, "Messages", {"To": "+4520000001", "From": "+4520000000", "Body": "Hej"}, token="x"
    )

    assert response.status_code == 401
    assert response.json()["code"] == 20003
    assert twilio.messages == []
    twilio.assert_no_violations()


def test_it_answers_an_outage_with_500s_then_recovers(twilio: FakeTwilio) -> None:
    form = {"To": "+4520000001", "From": "+4520000000", "Body": "Hej"}
    twilio.set_outage(2)

    statuses = [twilio_post(twilio, "Messages", form).status_code for _ in range(3)]

    assert statuses == [500, 500, 201]
    assert len(twilio.messages) == 1
    twilio.assert_no_violations()
