"""A fake Telegram Bot API server that checks every request against the Bot API spec.

Point PTB at it with ``make_bot(token, api_url=fake.url)`` or
``ApplicationBuilder().token(token).base_url(f"{fake.url}/bot")``. Every request is checked
against ``tests/fakes/specs/telegram-bot-api.json``: an unknown method answers 404, a missing,
unknown or wrongly typed field answers 400, and both are recorded in ``fake.violations``,
which tests assert stays empty.

Test API::

    with FakeTelegram() as fake:
        fake.message_update(4242, "/start")          # queued for getUpdates (real long polling)
        fake.callback_update(4242, "visit:1:yes", message_id=7)
        fake.sent("sendMessage")                     # [(method, params), ...]
        fake.fail_next("sendMessage", retry_after=3)
        fake.photo_update(4242, jpeg_bytes, caption="Hej")  # a photo; getFile + download work
        fake.downloads                               # file paths the bot downloaded
        fake.blocked_chats.add(4242)                 # sendMessage -> 403 Forbidden
        fake.unknown_chats.add(4343)                 # -> 400 chat not found
"""

from __future__ import annotations

import copy
import html
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from tests.fakes.spec import HttpRequest, HttpResponse, LocalServer, TelegramSpec, is_loopback_url

DEFAULT_TOKEN = "123456789:TEST-fake-telegram-bot-token-0001"

_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
# Files are downloaded from /file/bot<token>/<file_path> (Bot API, getFile).
_FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>[A-Za-z0-9_./-]+)$")
FILE_DOWNLOAD_MAX = 20 * 1024 * 1024  # "bots can download files of up to 20MB in size"
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
TEXT_MAX = 4096
CALLBACK_ANSWER_MAX = 200


@dataclass
class TelegramCall:
    """One well-formed request the fake received, and the HTTP status it answered."""

    method: str
    params: dict[str, Any]
    status: int
    received_at: float
    result: Any = None  # what a successful call returned


@dataclass
class _Failure:
    status: int | None = None
    error_code: int | None = None
    description: str | None = None
    retry_after: int | None = None
    delay: float | None = None


class _ApiError(Exception):
    def __init__(self, code: int, description: str, *, violation: bool = False) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.violation = violation


def _visible_text(text: str, parse_mode: str | None) -> str:
    """The text as Telegram counts it: after entity parsing (approximated for HTML)."""
    if parse_mode and parse_mode.upper() == "HTML":
        return html.unescape(re.sub(r"<[^>]+>", "", text))
    return text


class FakeTelegram(LocalServer):
    """Serves ``/bot<token>/<method>`` on 127.0.0.1."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, spec: TelegramSpec | None = None) -> None:
        super().__init__()
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.spec = spec or TelegramSpec()
        self.calls: list[TelegramCall] = []
        self.blocked_chats: set[int] = set()
        self.unknown_chats: set[int] = set()
        self.webhook_url = ""
        self.commands: list[dict[str, Any]] = []
        self._cond = threading.Condition(threading.RLock())
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._next_message_id = 1
        self._next_callback_id = 100
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self._next_file = 1
        self.downloads: list[str] = []
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._answer_callback_query,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendchataction": self._send_chat_action,
            "getupdates": self._get_updates,
            "getfile": self._get_file,
        }

    # -- test API ------------------------------------------------------------------------------

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Venskab test bot",
            "username": "venskab_test_bot",
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def sent(self, method: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Successful calls as ``(method, params)``; without ``method``, all but getUpdates."""
        with self._cond:
            return [
                (call.method, call.params)
                for call in self.calls
                if call.status == 200
                and (
                    call.method.lower() == method.lower()
                    if method is not None
                    else call.method.lower() != "getupdates"
                )
            ]

    def fail_next(
        self,
        method: str,
        *,
        status: int | None = None,
        error_code: int | None = None,
        description: str | None = None,
        retry_after: int | None = None,
        delay: float | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` well-formed calls of ``method`` fail or wait.

        ``status=500``: an HTTP error with a Telegram body. ``error_code=403,
        description="Forbidden: bot was blocked by the user"``: that API error.
        ``retry_after=N``: 429 flood control. ``delay=seconds``: wait before answering (alone,
        the answer is then normal: use it to make the client time out).
        """
        failure = _Failure(status, error_code, description, retry_after, delay)
        with self._cond:
            self._failures[method.lower()].extend(failure for _ in range(times))

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue ``update`` for getUpdates, giving it the next update_id if it has none."""
        with self._cond:
            update = dict(update)
            if "update_id" not in update:
                update["update_id"] = self._take_update_id()
            self._updates.append(update)
            self._cond.notify_all()
        return update

    def user(self, chat_id: int, first_name: str = "Parent") -> dict[str, Any]:
        return {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": "da"}

    def message_update(
        self,
        chat_id: int,
        text: str,
        *,
        user: dict[str, Any] | None = None,
        push: bool = True,
    ) -> dict[str, Any]:
        """A private-chat text message from a user (queued unless ``push=False``)."""
        sender = user or self.user(chat_id)
        with self._cond:
            message: dict[str, Any] = {
                "message_id": self._take_message_id(),
                "from": sender,
                "chat": self._chat(chat_id, sender.get("first_name")),
                "date": int(time.time()),
                "text": text,
            }
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
            update = {"update_id": self._take_update_id(), "message": message}
        return self.push_update(update) if push else update

    def callback_update(
        self,
        chat_id: int,
        data: str,
        message_id: int,
        *,
        user: dict[str, Any] | None = None,
        push: bool = True,
    ) -> dict[str, Any]:
        """A press on an inline button of the bot's message ``message_id`` in ``chat_id``."""
        sender = user or self.user(chat_id)
        with self._cond:
            message = copy.deepcopy(self._messages.get((chat_id, message_id)))
            if message is None:
                message = {
                    "message_id": message_id,
                    "from": self.bot_user,
                    "chat": self._chat(chat_id, sender.get("first_name")),
                    "date": int(time.time()),
                    "text": "…",
                }
            query_id = str(self._next_callback_id)
            self._next_callback_id += 1
            update = {
                "update_id": self._take_update_id(),
                "callback_query": {
                    "id": query_id,
                    "from": sender,
                    "message": message,
                    "chat_instance": f"instance-{chat_id}",
                    "data": data,
                },
            }
        return self.push_update(update) if push else update

    def add_file(self, data: bytes, suffix: str = "jpg") -> dict[str, Any]:
        """Store a file the way Telegram holds an upload; returns its ``file_id`` fields."""
        with self._cond:
            number = self._next_file
            self._next_file += 1
            file_id = f"AgAC-fake-file-{number:04d}"
            self._files[file_id] = (f"photos/file_{number}.{suffix}", data)
        return {"file_id": file_id, "file_unique_id": f"uniq{number:04d}", "file_size": len(data)}

    def photo_update(
        self,
        chat_id: int,
        data: bytes,
        *,
        caption: str | None = None,
        thumbnail: bytes | None = None,
        size: tuple[int, int] = (1280, 960),
        push: bool = True,
    ) -> dict[str, Any]:
        """A photo from a user: Telegram sends every size it made (a thumbnail, then the photo),
        as PhotoSize objects, each with a file_id for getFile."""
        sizes = []
        if thumbnail is not None:
            sizes.append({**self.add_file(thumbnail), "width": 90, "height": 68})
        sizes.append({**self.add_file(data), "width": size[0], "height": size[1]})
        return self._media_update(chat_id, {"photo": sizes}, caption, push)

    def document_update(
        self,
        chat_id: int,
        data: bytes,
        *,
        mime_type: str,
        file_name: str,
        caption: str | None = None,
        push: bool = True,
    ) -> dict[str, Any]:
        """A file sent as a document (an image "without compression", or anything else)."""
        document = {**self.add_file(data, "bin"), "mime_type": mime_type, "file_name": file_name}
        return self._media_update(chat_id, {"document": document}, caption, push)

    def _media_update(
        self, chat_id: int, media: dict[str, Any], caption: str | None, push: bool
    ) -> dict[str, Any]:
        sender = self.user(chat_id)
        with self._cond:
            message: dict[str, Any] = {
                "message_id": self._take_message_id(),
                "from": sender,
                "chat": self._chat(chat_id, sender.get("first_name")),
                "date": int(time.time()),
                **media,
            }
            if caption is not None:
                message["caption"] = caption
            update = {"update_id": self._take_update_id(), "message": message}
        return self.push_update(update) if push else update

    def pending_updates(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._updates)

    # -- HTTP ----------------------------------------------------------------------------------

    def _on_stop(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _take_update_id(self) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        return update_id

    def _take_message_id(self) -> int:
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    @staticmethod
    def _error(code: int, description: str, **extra: Any) -> HttpResponse:
        payload = {"ok": False, "error_code": code, "description": description, **extra}
        return HttpResponse.json(code, payload)

    def _violation(self, method: str, problem: str) -> None:
        with self._cond:
            self.violations.append(f"{method}: {problem}")

    def _read_params(self, request: HttpRequest, method: str) -> dict[str, Any]:
        raw: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
        if request.body:
            if request.content_type == "application/json":
                body = json.loads(request.body)
                if not isinstance(body, dict):
                    raise _ApiError(
                        400, "Bad Request: the JSON body must be an object", violation=True
                    )
                return self.spec.decode(method, raw) | body
            if request.content_type == "application/x-www-form-urlencoded":
                raw |= {k: v[-1] for k, v in request.form().items()}
            else:
                raise _ApiError(
                    400,
                    f"Bad Request: the fake does not read {request.content_type!r} bodies",
                    violation=True,
                )
        return self.spec.decode(method, raw)

    def _download(self, request: HttpRequest, token: str, path: str) -> HttpResponse:
        if unquote(token) != self.token:  # clients may percent-encode the token's colon
            return self._error(401, "Unauthorized")
        if request.method not in ("GET", "HEAD"):
            self._violation("file download", f"{request.method} instead of GET")
            return self._error(405, "Method Not Allowed")
        with self._cond:
            found = next((d for p, d in self._files.values() if p == path), None)
            if found is not None:
                self.downloads.append(path)
        if found is None:
            return self._error(404, "Not Found")
        return HttpResponse(200, found, "application/octet-stream")

    def handle(self, request: HttpRequest) -> HttpResponse:
        download = _FILE_PATH.match(request.path)
        if download is not None:
            return self._download(request, download["token"], download["path"])
        match = _PATH.match(request.path)
        if match is None:
            return self._error(404, "Not Found")
        if match["token"] != self.token:
            return self._error(401, "Unauthorized")
        name = match["method"]
        spec = self.spec.method(name)
        if spec is None:
            self._violation(name, "unknown method")
            return self._error(404, "Not Found")
        method = spec["name"]
        try:
            params = self._read_params(request, method)
        except (ValueError, _ApiError) as exc:
            description = exc.description if isinstance(exc, _ApiError) else str(exc)
            self._violation(method, description)
            return self._error(400, description)
        errors = self.spec.check_params(method, params)
        errors.extend(self._extra_checks(method, params))
        if errors:
            for error in errors:
                self._violation(method, error)
            self._record(method, params, 400, request.received_at)
            return self._error(400, f"Bad Request: {errors[0]}")

        injected = self._next_failure(method, params, request.received_at)
        if injected is not None:
            return injected

        handler = self._handlers.get(method.lower())
        if handler is None:
            self._violation(method, "the fake does not implement this method")
            return self._error(501, f"the fake does not implement {method}")
        try:
            result = handler(params)
        except _ApiError as exc:
            if exc.violation:
                self._violation(method, exc.description)
            self._record(method, params, exc.code, request.received_at)
            return self._error(exc.code, exc.description)
        self._record(method, params, 200, request.received_at, result)
        return HttpResponse.json(200, {"ok": True, "result": result})

    def _record(
        self, method: str, params: dict[str, Any], status: int, at: float, result: Any = None
    ) -> None:
        with self._cond:
            self.calls.append(TelegramCall(method, params, status, at, result))

    def _next_failure(
        self, method: str, params: dict[str, Any], received_at: float
    ) -> HttpResponse | None:
        """The response of the next failure injected for ``method``, if any (after its delay)."""
        with self._cond:
            queue = self._failures.get(method.lower())
            failure = queue.popleft() if queue else None
        if failure is None:
            return None
        if failure.delay and self.closing.wait(failure.delay):
            return self._error(500, "Internal Server Error: the fake is stopping")
        response = self._injected(failure)
        if response is not None:
            self._record(method, params, response.status, received_at)
        return response

    def _injected(self, failure: _Failure) -> HttpResponse | None:
        if failure.retry_after is not None:
            return self._error(
                429,
                f"Too Many Requests: retry after {failure.retry_after}",
                parameters={"retry_after": failure.retry_after},
            )
        if failure.error_code is not None:
            descriptions = {400: "Bad Request", 403: "Forbidden", 404: "Not Found"}
            default = descriptions.get(failure.error_code, "Error")
            return self._error(failure.error_code, failure.description or default)
        if failure.status is not None:
            return self._error(failure.status, failure.description or "Internal Server Error")
        return None

    def _extra_checks(self, method: str, params: dict[str, Any]) -> list[str]:
        """Limits the type check cannot see: text lengths and bot command syntax."""
        errors = []
        lowered = method.lower()
        text = params.get("text")
        if lowered in ("sendmessage", "editmessagetext") and isinstance(text, str):
            visible = _visible_text(text, params.get("parse_mode"))
            if not visible.strip():
                errors.append("text: message text is empty")
            # Telegram counts UTF-16 code units: an emoji outside the BMP counts twice.
            elif (units := len(visible.encode("utf-16-le")) // 2) > TEXT_MAX:
                errors.append(f"text: message is too long ({units} > {TEXT_MAX} UTF-16 units)")
        if (
            lowered == "answercallbackquery"
            and isinstance(text, str)
            and len(text) > CALLBACK_ANSWER_MAX
        ):
            errors.append(f"text: MESSAGE_TOO_LONG ({len(text)} > {CALLBACK_ANSWER_MAX})")
        if lowered == "setmycommands" and isinstance(params.get("commands"), list):
            errors.extend(_command_errors(params["commands"]))
        if lowered == "editmessagetext" and "text" not in params:
            errors.append("text: required unless rich_message is given")
        if lowered in ("editmessagetext", "editmessagereplymarkup"):
            has_chat = "chat_id" in params and "message_id" in params
            if has_chat == ("inline_message_id" in params):
                errors.append("give either chat_id and message_id, or inline_message_id")
        return errors

    # -- methods -------------------------------------------------------------------------------

    def _chat(self, chat_id: int | str, first_name: str | None = None) -> dict[str, Any]:
        if isinstance(chat_id, int) and chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": first_name or "Parent"}
        return {"id": chat_id, "type": "supergroup", "title": "Staff"}

    def _check_chat(self, chat_id: int | str) -> None:
        if isinstance(chat_id, str) or chat_id in self.unknown_chats:
            raise _ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked_chats:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params["chat_id"]
        self._check_chat(chat_id)
        with self._cond:
            message: dict[str, Any] = {
                "message_id": self._take_message_id(),
                "from": self.bot_user,
                "chat": self._chat(chat_id),
                "date": int(time.time()),
                "text": params["text"],
            }
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            self._messages[(chat_id, message["message_id"])] = message
            return copy.deepcopy(message)

    def _edit(self, params: dict[str, Any], text: str | None) -> Any:
        if "inline_message_id" in params:
            return True
        chat_id, message_id = params["chat_id"], params["message_id"]
        self._check_chat(chat_id)
        markup = params.get("reply_markup")
        with self._cond:
            message = self._messages.get((chat_id, message_id))
            if message is None:
                # Tests often press buttons on messages the fake never sent: accept them.
                message = {
                    "message_id": message_id,
                    "from": self.bot_user,
                    "chat": self._chat(chat_id),
                    "date": int(time.time()),
                    "text": "…",
                }
                self._messages[(chat_id, message_id)] = message
            else:
                new_text = message.get("text") if text is None else text
                if new_text == message.get("text") and markup == message.get("reply_markup"):
                    raise _ApiError(
                        400,
                        "Bad Request: message is not modified: specified new message content "
                        "and reply markup are exactly the same as a current content and reply "
                        "markup of the message",
                    )
            if text is not None:
                message["text"] = text
            if markup:
                message["reply_markup"] = markup
            else:
                message.pop("reply_markup", None)
            message["edit_date"] = int(time.time())
            return copy.deepcopy(message)

    def _edit_message_text(self, params: dict[str, Any]) -> Any:
        return self._edit(params, params["text"])

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> Any:
        return self._edit(params, None)

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        with self._cond:
            self.webhook_url = ""
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = params["url"]
        # Telegram only calls HTTPS webhooks; plain HTTP is allowed here for local receivers.
        if url and not (url.startswith("https://") or is_loopback_url(url)):
            raise _ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        with self._cond:
            self.webhook_url = url
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            return {
                "url": self.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        with self._cond:
            self.commands = list(params["commands"])
        return True

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        with self._cond:
            self.commands = []
        return True

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        self._check_chat(params["chat_id"])
        return True

    def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params["file_id"])
        with self._cond:
            found = self._files.get(file_id)
        if found is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        path, data = found
        number = file_id.rsplit("-", 1)[-1]
        result: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"uniq{number}",
            "file_size": len(data),
        }
        if len(data) > FILE_DOWNLOAD_MAX:
            raise _ApiError(400, "Bad Request: file is too big")
        result["file_path"] = path
        return result

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = params.get("offset")
        limit = max(1, min(100, params.get("limit", 100)))
        timeout = max(0, params.get("timeout", 0))
        deadline = time.monotonic() + timeout
        with self._cond:
            if self.webhook_url:
                raise _ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if offset is not None:
                if offset < 0:
                    self._updates = self._updates[offset:]
                else:
                    # Confirming: everything before the offset is forgotten.
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self.closing.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return copy.deepcopy(self._updates[:limit])


def _command_errors(commands: list[Any]) -> list[str]:
    """setMyCommands: each command's name and description within Telegram's limits."""
    errors = []
    for index, command in enumerate(commands):
        if not isinstance(command, dict):
            continue
        if not _COMMAND.fullmatch(str(command.get("command", ""))):
            errors.append(f"commands[{index}].command: 1-32 of a-z, 0-9 and _")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            errors.append(f"commands[{index}].description: 1-256 characters")
    return errors
