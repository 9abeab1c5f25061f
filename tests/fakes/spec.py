"""What the fake provider servers share: the API specs as oracle, and a local HTTP server.

The specs live in ``tests/fakes/specs`` (their source, version and licence are in its README),
so a fresh clone tests on its own; they are read from there and from nowhere else.

The server is the standard library's ``ThreadingHTTPServer`` on 127.0.0.1 in a daemon thread:
one thread per connection, so a long poll or an injected delay never blocks other requests,
and the fakes work the same from synchronous and asynchronous tests.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft7Validator

TELEGRAM_SPEC = "telegram-bot-api.json"
TWILIO_SPEC = "twilio-api-v2010-messages-calls.json"


# -- finding and loading the specs -------------------------------------------------------------


SPECS_DIR = Path(__file__).resolve().parent / "specs"


@functools.cache
def load_spec(name: str) -> dict[str, Any]:
    with (SPECS_DIR / name).open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


# -- Telegram Bot API --------------------------------------------------------------------------

_SCALARS = {"Integer", "Float", "Boolean", "True", "String", "InputFile"}
_INTEGER = re.compile(r"-?\d+")

# InlineKeyboardButton: exactly one of the fields other than these says what the button does.
_BUTTON_NON_ACTION_FIELDS = {"text", "icon_custom_emoji_id", "style"}


def decode_form_value(raw: str, types: list[str]) -> Any:
    """A form-encoded Bot API value, read by the field's declared types.

    Integers and booleans arrive as text, objects and arrays as JSON text. A String field is
    never JSON-decoded: ``callback_query_id="102"`` stays the string "102".
    """
    kinds = set(types)
    if "Integer" in kinds and _INTEGER.fullmatch(raw):
        return int(raw)
    if "Float" in kinds:
        try:
            return float(raw)
        except ValueError:
            pass
    if kinds & {"Boolean", "True"} and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if kinds & {"String", "InputFile"}:
        return raw
    if kinds - _SCALARS:
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


class TelegramSpec:
    """Checks Bot API method calls against ``telegram-bot-api.json``."""

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        data = data if data is not None else load_spec(TELEGRAM_SPEC)
        # Bot API method names are case-insensitive.
        self.methods: dict[str, dict[str, Any]] = {
            name.lower(): method for name, method in data["methods"].items()
        }
        self.types: dict[str, dict[str, Any]] = data["types"]

    def method(self, name: str) -> dict[str, Any] | None:
        return self.methods.get(name.lower())

    def fields(self, method: str) -> dict[str, dict[str, Any]]:
        spec = self.method(method) or {}
        return {f["name"]: f for f in spec.get("fields", [])}

    def decode(self, method: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Form or query values (all text) turned into typed values, by each field's types."""
        fields = self.fields(method)
        decoded: dict[str, Any] = {}
        for key, value in raw.items():
            spec = fields.get(key)
            if spec is not None and isinstance(value, str):
                decoded[key] = decode_form_value(value, spec["types"])
            else:
                decoded[key] = value
        return decoded

    def check_params(self, method: str, params: Mapping[str, Any]) -> list[str]:
        """Missing required fields, unknown fields and wrongly typed values of one call."""
        fields = self.fields(method)
        errors = [
            f"missing required field {name!r}"
            for name, spec in fields.items()
            if spec["required"] and name not in params
        ]
        for key, value in params.items():
            spec = fields.get(key)
            if spec is None:
                errors.append(f"unknown field {key!r}")
            else:
                errors.extend(self.check_value(value, spec["types"], key))
        return errors

    def check_value(self, value: Any, types: list[str], path: str) -> list[str]:
        """Errors of ``value`` against the best matching alternative in ``types`` (none: [])."""
        best: list[str] | None = None
        for type_name in types:
            errors = self._check_one(value, type_name, path)
            if not errors:
                return []
            if best is None or len(errors) < len(best):
                best = errors
        return best or []

    def _check_one(self, value: Any, type_name: str, path: str) -> list[str]:
        if type_name.startswith("Array of "):
            inner = type_name.removeprefix("Array of ")
            if not isinstance(value, list):
                return [f"{path}: expected {type_name}, got {type(value).__name__}"]
            errors: list[str] = []
            for index, item in enumerate(value):
                errors.extend(self.check_value(item, [inner], f"{path}[{index}]"))
            return errors
        scalar_ok = {
            "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "Boolean": lambda v: isinstance(v, bool),
            "True": lambda v: v is True,
            "String": lambda v: isinstance(v, str),
            "InputFile": lambda v: isinstance(v, str),
        }
        if type_name in scalar_ok:
            if scalar_ok[type_name](value):
                return []
            return [f"{path}: expected {type_name}, got {type(value).__name__}"]
        spec = self.types.get(type_name)
        if spec is None:
            return [f"{path}: the spec has no type {type_name!r}"]
        if "subtypes" in spec:
            return self.check_value(value, spec["subtypes"], path)
        if not isinstance(value, dict):
            return [f"{path}: expected a {type_name} object, got {type(value).__name__}"]
        fields = {f["name"]: f for f in spec.get("fields", [])}
        errors = [
            f"{path}.{name}: missing required field of {type_name}"
            for name, f in fields.items()
            if f["required"] and name not in value
        ]
        for key, item in value.items():
            if key not in fields:
                errors.append(f"{path}.{key}: unknown field of {type_name}")
            else:
                errors.extend(self.check_value(item, fields[key]["types"], f"{path}.{key}"))
        if type_name == "InlineKeyboardButton" and not errors:
            errors.extend(_check_button(value, path))
        return errors


def _check_button(button: Mapping[str, Any], path: str) -> list[str]:
    errors = []
    actions = [key for key in button if key not in _BUTTON_NON_ACTION_FIELDS]
    if len(actions) != 1:
        errors.append(f"{path}: an inline keyboard button needs exactly one action, got {actions}")
    data = button.get("callback_data")
    if data is not None and not 1 <= len(data.encode("utf-8")) <= 64:
        size = len(data.encode("utf-8"))
        errors.append(f"{path}.callback_data: BUTTON_DATA_INVALID ({size} bytes, allowed 1-64)")
    return errors


# -- Twilio REST API (OpenAPI 3) ---------------------------------------------------------------


@dataclass(frozen=True)
class TwilioRoute:
    template: str
    path_params: dict[str, str]
    item: dict[str, Any]


class TwilioSpec:
    """Checks Twilio REST requests (form-encoded) against the OpenAPI subset."""

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self.data = data if data is not None else load_spec(TWILIO_SPEC)
        self._routes: list[tuple[re.Pattern[str], str, dict[str, Any]]] = []
        for template, item in self.data["paths"].items():
            pattern = re.escape(template)
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
            self._routes.append((re.compile(f"^{pattern}$"), template, item))

    def route(self, path: str) -> TwilioRoute | None:
        for pattern, template, item in self._routes:
            match = pattern.match(path)
            if match:
                return TwilioRoute(template, match.groupdict(), item)
        return None

    def resolve(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.data
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return dict(schema)

    def _validate(self, schema: Mapping[str, Any], instance: Any) -> list[str]:
        root = {**schema, "components": self.data["components"]}
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or 'value'}: {error.message}"
            for error in Draft7Validator(root).iter_errors(instance)
        ]

    def check(
        self,
        operation: Mapping[str, Any],
        path_params: Mapping[str, str],
        query: Mapping[str, list[str]],
        form: Mapping[str, list[str]],
    ) -> tuple[dict[str, Any], list[str]]:
        """Typed body parameters and the spec violations of one request."""
        errors: list[str] = []
        declared = operation.get("parameters", [])
        for parameter in declared:
            if parameter["in"] == "path":
                value = path_params.get(parameter["name"])
                for error in self._validate(parameter["schema"], value):
                    errors.append(f"path parameter {parameter['name']}: {error}")
        query_names = {p["name"] for p in declared if p["in"] == "query"}
        errors.extend(
            f"unknown query parameter {name!r}" for name in query if name not in query_names
        )

        content = operation.get("requestBody", {}).get("content", {})
        schema = content.get("application/x-www-form-urlencoded", {}).get("schema")
        if schema is None:
            if form:
                errors.append("this operation takes no request body")
            return {}, errors
        properties = schema.get("properties", {})
        body = {
            key: _coerce(values, self.resolve(properties.get(key, {})))
            for key, values in form.items()
        }
        strict = {**schema, "additionalProperties": False}
        errors.extend(self._validate(strict, body))
        return body, errors


def _coerce_scalar(value: str, schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer" and _INTEGER.fullmatch(value):
        return int(value)
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _coerce(values: list[str], schema: Mapping[str, Any]) -> Any:
    """Form values (a list per key) as the JSON value the schema describes."""
    if schema.get("type") == "array":
        return [_coerce_scalar(v, schema.get("items", {})) for v in values]
    if len(values) != 1:
        return values  # a repeated scalar: the schema check reports the list
    return _coerce_scalar(values[0], schema)


# -- the local HTTP server ---------------------------------------------------------------------


@dataclass
class HttpRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    received_at: float  # time.monotonic()
    target: str = ""  # the path with its query string, as sent

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any) -> HttpResponse:
        return cls(status, json.dumps(payload).encode("utf-8"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: LocalServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (a cancelled long poll, a timed-out request) is normal here.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


def _read_chunked(rfile: Any) -> bytes:
    body = b""
    while True:
        size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            rfile.readline()
            return body
        body += rfile.read(size)
        rfile.readline()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._untrack(self.connection)

    def _dispatch(self) -> None:
        received_at = time.monotonic()
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = _read_chunked(self.rfile)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = HttpRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            received_at=received_at,
            target=self.path,
        )
        owner = self.server.owner
        try:
            response = owner.handle(request)
        except Exception as exc:  # the fake itself is broken: make the test fail loudly
            owner.violations.append(f"the fake crashed on {request.method} {request.path}: {exc!r}")
            response = HttpResponse.json(500, {"error": "the fake crashed"})
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalServer:
    """An HTTP server on 127.0.0.1 in a background thread; subclasses implement :meth:`handle`.

    Use as a context manager (``with FakeX() as fake:``) or call :meth:`start` / :meth:`stop`.
    """

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.closing = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def handle(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    def assert_no_violations(self) -> None:
        """Fail with every recorded violation listed."""
        if self.violations:
            listed = "\n  ".join(self.violations)
            raise AssertionError(f"{type(self).__name__} recorded violations:\n  {listed}")

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self.closing.clear()
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def _on_stop(self) -> None:
        """Hook: wake anything that waits (long polls) so the server can stop at once."""

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.closing.set()
        self._on_stop()
        self._httpd.shutdown()
        self._httpd.server_close()
        # Kept-alive connections would otherwise still be served after the stop.
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def _untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")
