"""A fake Twilio REST API (Messages and Calls) that checks requests against Twilio's OpenAPI spec
and posts signed status callbacks.

Point the channels at it with ``api_url=fake.url``. Each request is checked against
``tests/fakes/specs/twilio-api-v2010-messages-calls.json``: HTTP Basic auth with the account SID and
auth token, required and unknown form fields, types, enums and patterns, plus rules the real API
enforces beyond the spec (a sender, a body or TwiML). Problems answer 400 and are recorded in
``fake.violations``.

After a create with ``StatusCallback`` a background thread posts the status callbacks, signed
with ``RequestValidator(auth_token)`` in ``X-Twilio-Signature``, to that URL (loopback URLs only;
others are recorded as not delivered). ``fake.callbacks`` records each outcome.

Test API::

    with FakeTwilio() as fake:
        fake.deliver_as("+4520000002", "undelivered", error_code=30003)
        fake.fail_next(error_code=21211)      # or status=500, status=429, delay=2.0
        fake.set_outage(3)                    # the next 3 requests answer 500
        fake.messages, fake.calls             # TwilioRecord(sid, to, params, resource, ...)
        fake.requests                         # every request, with its arrival time
        fake.wait_for_callbacks(2)            # CallbackRecord(url, params, signature, ...)

    with CallbackReceiver() as receiver:      # stands in for our status endpoint
        url = f"{receiver.url}/twilio/status"
        ...
        receiver.wait_for(2)                  # ReceivedCallback(url, params, signature)
"""

from __future__ import annotations

import base64
import math
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from tests.fakes.spec import HttpRequest, HttpResponse, LocalServer, TwilioSpec, is_loopback_url

DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "fake-twilio-auth-token-0001"
API_VERSION = "2010-04-01"

_E164 = re.compile(r"\+[1-9]\d{6,14}")

# Twilio's messages for the error codes the fake produces; {to} is filled in as Twilio does,
# so tests can check that our error messages never repeat it.
ERROR_MESSAGES: dict[int, str] = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    21211: "The 'To' number {to} is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' "
    "number: {to}.",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number: {to}, is not currently reachable using the 'From' phone "
    "number via SMS.",
    21614: "'To' number {to} is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21201: "No 'To' number is specified",
    21213: "No 'From' number is specified",
    21205: "Url parameter is required.",
    12100: "Document parse failure",
    20001: "Invalid parameter",
}

MESSAGE_FINAL = {"delivered", "undelivered", "failed"}
CALL_FINAL = {"completed", "busy", "no-answer", "failed", "canceled"}
_AS_CALL = {"delivered": "completed", "undelivered": "no-answer", "failed": "failed"}

# GSM 03.38, independent of the application's counter so that the two check each other.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("\f^{}\\[~]|€")


def num_segments(body: str) -> int:
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in body):
        units, single, multi = sum(2 if c in _GSM_EXTENDED else 1 for c in body), 160, 153
    else:
        units, single, multi = len(body.encode("utf-16-le")) // 2, 70, 67
    if units <= single:
        return 1
    return math.ceil(units / multi)


def _now_rfc2822() -> str:
    return format_datetime(datetime.now(UTC))


@dataclass
class TwilioRecord:
    """A message or call the fake created."""

    sid: str
    to: str
    params: dict[str, Any]  # the request form, typed by the spec
    resource: dict[str, Any]  # the JSON the fake answered (status updated by callbacks)
    received_at: float


@dataclass
class TwilioRequest:
    method: str
    path: str
    params: dict[str, Any]
    status: int
    received_at: float


@dataclass
class CallbackRecord:
    url: str
    params: dict[str, str]
    signature: str
    status_code: int | None
    error: str | None


@dataclass
class _Failure:
    status: int | None
    error_code: int | None
    message: str | None
    delay: float | None
    resource: str | None


class _TwilioError(Exception):
    def __init__(self, status: int, code: int, to: str = "", *, violation: str | None = None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.to = to
        self.violation = violation


class FakeTwilio(LocalServer):
    """Serves ``/2010-04-01/Accounts/{AccountSid}/Messages.json`` and ``/Calls.json``."""

    def __init__(
        self,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        callbacks: bool = True,
        callback_delay: float = 0.0,
        spec: TwilioSpec | None = None,
    ) -> None:
        super().__init__()
        self.auth_token = auth_token
        self.account_sid = account_sid
        self.callbacks_enabled = callbacks
        self.callback_delay = callback_delay
        self.spec = spec or TwilioSpec()
        self.validator = RequestValidator(auth_token)
        self.messages: list[TwilioRecord] = []
        self.calls: list[TwilioRecord] = []
        self.requests: list[TwilioRequest] = []
        self.callbacks: list[CallbackRecord] = []
        self._cond = threading.Condition(threading.RLock())
        self._failures: deque[_Failure] = deque()
        self._outage_left: int | None = None
        self._outage_until: Callable[[], bool] | None = None
        self._outage_status = 500
        self._outcomes: dict[str, tuple[str, int | None]] = {}
        self._threads: list[threading.Thread] = []

    # -- test API ------------------------------------------------------------------------------

    def fail_next(
        self,
        *,
        status: int | None = None,
        error_code: int | None = None,
        message: str | None = None,
        delay: float | None = None,
        resource: str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` well-formed requests fail or wait.

        ``error_code=21211`` answers 400 with that code (``status`` overrides the 400);
        ``status=500`` / ``status=429`` answer that status; ``delay`` waits first (alone, the
        request then succeeds: a client timeout does not mean Twilio did not send).
        ``resource="Messages"`` or ``"Calls"`` limits it to one kind.
        """
        failure = _Failure(status, error_code, message, delay, resource)
        with self._cond:
            self._failures.extend(failure for _ in range(times))

    def wait_until_failures_taken(self, timeout: float = 30.0) -> None:
        """Block until every injected failure has met its request (a delayed one is then
        being held); fail the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._failures:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(self._failures)} injected failures never met")
                self._cond.wait(remaining)

    def set_outage(
        self,
        n_requests: int | None = None,
        *,
        until: Callable[[], bool] | None = None,
        status: int = 500,
    ) -> None:
        """Answer ``status`` to the next ``n_requests``, or until ``until()`` is true, or (with
        neither) until :meth:`end_outage`."""
        with self._cond:
            self._outage_left = n_requests if n_requests is not None else -1
            self._outage_until = until
            self._outage_status = status

    def end_outage(self) -> None:
        with self._cond:
            self._outage_left = None
            self._outage_until = None

    def deliver_as(self, to: str, status: str, error_code: int | None = None) -> None:
        """The final status callbacks report for ``to`` (default: delivered / completed).

        Message statuses: delivered, undelivered, failed. For calls these mean completed,
        no-answer and failed; call statuses (completed, busy, no-answer, failed, canceled) may
        also be given directly.
        """
        if status not in MESSAGE_FINAL | CALL_FINAL:
            raise ValueError(f"unknown final status {status!r}")
        with self._cond:
            self._outcomes[to] = (status, error_code)

    def wait_for_callbacks(self, count: int, timeout: float = 5.0) -> list[CallbackRecord]:
        """Block until ``count`` callbacks were attempted; fail the test after ``timeout``.

        From async tests: ``await asyncio.to_thread(fake.wait_for_callbacks, 2)``.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.callbacks) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} status callbacks, got {len(self.callbacks)}"
                    )
                self._cond.wait(remaining)
            return list(self.callbacks)

    # -- HTTP ----------------------------------------------------------------------------------

    def stop(self) -> None:
        super().stop()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def _error(
        self, status: int, code: int, to: str = "", message: str | None = None
    ) -> HttpResponse:
        text = message or ERROR_MESSAGES.get(code, "Error").format(to=to)
        return HttpResponse.json(
            status,
            {
                "code": code,
                "message": text,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    def _authorized(self, request: HttpRequest, account_sid: str) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == account_sid and password == self.auth_token

    def _in_outage(self) -> bool:
        with self._cond:
            if self._outage_left is None:
                return False
            if self._outage_until is not None and self._outage_until():
                self.end_outage()
                return False
            if self._outage_left == 0:
                self.end_outage()
                return False
            if self._outage_left > 0:
                self._outage_left -= 1
            return True

    def handle(self, request: HttpRequest) -> HttpResponse:
        route = self.spec.route(request.path)
        if route is None:
            self.violations.append(f"{request.method} {request.path}: no such path in the spec")
            return self._error(404, 20404)
        operation = route.item.get(request.method.lower())
        if operation is None:
            self.violations.append(f"{request.method} {route.template}: method not in the spec")
            return self._error(405, 20001, message="Method not allowed")
        account_sid = route.path_params.get("AccountSid", "")
        if not self._authorized(request, account_sid):
            return self._error(401, 20003)

        form: dict[str, list[str]] = {}
        if request.method in ("POST", "PUT") and request.body:
            if request.content_type != "application/x-www-form-urlencoded":
                self.violations.append(
                    f"{operation['operationId']}: body is {request.content_type}"
                )
                return self._error(400, 20001, message="expected a form-encoded body")
            form = request.form()
        params, errors = self.spec.check(operation, route.path_params, request.query, form)
        operation_id = operation["operationId"]
        try:
            if errors:
                raise _TwilioError(400, _missing_code(operation_id, params), violation=errors[0])
            for error in _semantic_errors(operation_id, params):
                raise error
        except _TwilioError as exc:
            problems = errors or ([exc.violation] if exc.violation else [])
            for problem in problems:
                self.violations.append(f"{operation_id}: {problem}")
            self._log(request, params, exc.status)
            return self._error(exc.status, exc.code, exc.to)

        if self._in_outage():
            self._log(request, params, self._outage_status)
            return self._error(self._outage_status, 20000 + self._outage_status)

        kind = "Calls" if "/Calls" in route.template else "Messages"
        injected = self._injected(kind, request, params)
        if injected is not None:
            return injected

        response = self._dispatch(operation_id, route.path_params, params, request)
        self._log(request, params, response.status)
        return response

    def _injected(
        self, kind: str, request: HttpRequest, params: dict[str, Any]
    ) -> HttpResponse | None:
        """The response of the next failure injected for ``kind``, if any (after its delay)."""
        failure = self._take_failure(kind)
        if failure is None:
            return None
        if failure.delay and self.closing.wait(failure.delay):
            return self._error(500, 20500)
        if failure.error_code is None and failure.status is None:
            return None
        status = failure.status or 400
        code = failure.error_code or 20000 + status
        self._log(request, params, status)
        return self._error(status, code, str(params.get("To", "")), failure.message)

    def _take_failure(self, kind: str) -> _Failure | None:
        with self._cond:
            for index, failure in enumerate(self._failures):
                if failure.resource in (None, kind):
                    del self._failures[index]
                    self._cond.notify_all()
                    return failure
        return None

    def _log(self, request: HttpRequest, params: dict[str, Any], status: int) -> None:
        with self._cond:
            self.requests.append(
                TwilioRequest(request.method, request.path, params, status, request.received_at)
            )

    def _dispatch(
        self,
        operation_id: str,
        path_params: dict[str, str],
        params: dict[str, Any],
        request: HttpRequest,
    ) -> HttpResponse:
        account_sid = path_params["AccountSid"]
        if operation_id == "CreateMessage":
            return self._create_message(account_sid, params, request.received_at)
        if operation_id == "CreateCall":
            return self._create_call(account_sid, params, request.received_at)
        records = self.messages if "Message" in operation_id else self.calls
        key = "messages" if "Message" in operation_id else "calls"
        with self._cond:
            if operation_id.startswith("List"):
                found = [r.resource for r in records if _matches(r, request.query)]
                base = f"/{API_VERSION}/Accounts/{account_sid}/{key.capitalize()}.json"
                return HttpResponse.json(
                    200,
                    {
                        key: found,
                        "end": max(0, len(found) - 1),
                        "first_page_uri": f"{base}?PageSize=50&Page=0",
                        "next_page_uri": None,
                        "page": 0,
                        "page_size": 50,
                        "previous_page_uri": None,
                        "start": 0,
                        "uri": f"{base}?PageSize=50&Page=0",
                    },
                )
            record = next((r for r in records if r.sid == path_params.get("Sid")), None)
            if record is None:
                return self._error(404, 20404)
            if operation_id.startswith("Delete"):
                records.remove(record)
                return HttpResponse(204)
            if operation_id.startswith("Update"):
                if "Status" in params:
                    record.resource["status"] = params["Status"]
                if "Body" in params:
                    record.resource["body"] = params["Body"]
            return HttpResponse.json(200, record.resource)

    def _create_message(self, account_sid: str, params: dict[str, Any], at: float) -> HttpResponse:
        sid = "SM" + uuid.uuid4().hex
        now = _now_rfc2822()
        body = params.get("Body", "")
        service = params.get("MessagingServiceSid")
        resource = {
            "account_sid": account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": params.get("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(num_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service and "From" not in params else "queued",
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}/Media.json"
            },
            "to": params["To"],
            "uri": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json",
        }
        record = TwilioRecord(sid, params["To"], params, resource, at)
        with self._cond:
            self.messages.append(record)
        callback = params.get("StatusCallback")
        if callback and self.callbacks_enabled:
            self._start_callbacks(callback, self._message_events(record))
        return HttpResponse.json(201, resource)

    def _create_call(self, account_sid: str, params: dict[str, Any], at: float) -> HttpResponse:
        sid = "CA" + uuid.uuid4().hex
        now = _now_rfc2822()
        resource = {
            "account_sid": account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": params["From"],
            "from_formatted": params["From"],
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {
                "recordings": f"/{API_VERSION}/Accounts/{account_sid}/Calls/{sid}/Recordings.json"
            },
            "to": params["To"],
            "to_formatted": params["To"],
            "trunk_sid": None,
            "uri": f"/{API_VERSION}/Accounts/{account_sid}/Calls/{sid}.json",
        }
        record = TwilioRecord(sid, params["To"], params, resource, at)
        with self._cond:
            self.calls.append(record)
        callback = params.get("StatusCallback")
        if callback and self.callbacks_enabled:
            self._start_callbacks(callback, self._call_events(record))
        return HttpResponse.json(201, resource)

    # -- status callbacks ----------------------------------------------------------------------

    def _message_events(self, record: TwilioRecord) -> list[tuple[TwilioRecord, dict[str, str]]]:
        with self._cond:
            status, error_code = self._outcomes.get(record.to, ("delivered", None))
        if status not in MESSAGE_FINAL:
            status = {"completed": "delivered", "no-answer": "undelivered"}.get(status, "failed")
        base = {
            "AccountSid": record.resource["account_sid"],
            "ApiVersion": API_VERSION,
            "From": record.resource["from"] or "",
            "To": record.to,
            "MessageSid": record.sid,
            "SmsSid": record.sid,
        }
        if record.resource["messaging_service_sid"]:
            base["MessagingServiceSid"] = record.resource["messaging_service_sid"]
        steps = ["sent", status] if status != "failed" else [status]
        events = []
        for step in steps:
            params = {**base, "MessageStatus": step, "SmsStatus": step}
            if step in ("undelivered", "failed"):
                params["ErrorCode"] = str(error_code or (30003 if step == "undelivered" else 30008))
            events.append((record, params))
        return events

    def _call_events(self, record: TwilioRecord) -> list[tuple[TwilioRecord, dict[str, str]]]:
        with self._cond:
            status, error_code = self._outcomes.get(record.to, ("completed", None))
        status = _AS_CALL.get(status, status)
        params = {
            "AccountSid": record.resource["account_sid"],
            "ApiVersion": API_VERSION,
            "CallSid": record.sid,
            "CallStatus": status,
            "CallbackSource": "call-progress-events",
            "Direction": "outbound-api",
            "From": record.resource["from"],
            "To": record.to,
            "SequenceNumber": "0",
            "Timestamp": _now_rfc2822(),
        }
        if status == "completed":
            params["CallDuration"] = "12"
        if status == "failed" and error_code:
            params["ErrorCode"] = str(error_code)
        return [(record, params)]

    def _start_callbacks(self, url: str, events: list[tuple[TwilioRecord, dict[str, str]]]) -> None:
        thread = threading.Thread(
            target=self._deliver, args=(url, events), name="FakeTwilio-callbacks", daemon=True
        )
        with self._cond:
            self._threads.append(thread)
        thread.start()

    def _deliver(self, url: str, events: list[tuple[TwilioRecord, dict[str, str]]]) -> None:
        if self.callback_delay and self.closing.wait(self.callback_delay):
            return
        for record, params in events:
            status_key = "MessageStatus" if "MessageStatus" in params else "CallStatus"
            with self._cond:
                record.resource["status"] = params[status_key]
                if "ErrorCode" in params:
                    record.resource["error_code"] = int(params["ErrorCode"])
            self._post_callback(url, params)

    def _post_callback(self, url: str, params: dict[str, str]) -> None:
        signature = self.validator.compute_signature(url, params)
        status_code: int | None = None
        error: str | None = None
        if not is_loopback_url(url):
            # The fake never reaches outside this machine.
            error = "not delivered: the callback URL is not a local address"
        else:
            try:
                response = httpx.post(
                    url,
                    data=params,
                    headers={"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1"},
                    timeout=5.0,
                )
                status_code = response.status_code
            except httpx.HTTPError as exc:
                error = f"not delivered: {type(exc).__name__}"
        with self._cond:
            self.callbacks.append(CallbackRecord(url, params, signature, status_code, error))
            self._cond.notify_all()


def _missing_code(operation_id: str, params: dict[str, Any]) -> int:
    if operation_id == "CreateMessage" and "To" not in params:
        return 21604
    if operation_id == "CreateCall" and "To" not in params:
        return 21201
    if operation_id == "CreateCall" and "From" not in params:
        return 21213
    return 20001


def _semantic_errors(operation_id: str, params: dict[str, Any]) -> list[_TwilioError]:
    """What the real API refuses although the spec allows it; the first one is answered."""
    errors: list[_TwilioError] = []
    to = str(params.get("To", ""))
    if operation_id == "CreateMessage":
        if "From" not in params and "MessagingServiceSid" not in params:
            errors.append(
                _TwilioError(400, 21603, violation="neither From nor MessagingServiceSid")
            )
        if not any(key in params for key in ("Body", "MediaUrl", "ContentSid")):
            errors.append(_TwilioError(400, 21602, violation="no Body, MediaUrl or ContentSid"))
        if len(str(params.get("Body", ""))) > 1600:
            errors.append(_TwilioError(400, 21617, violation="Body longer than 1600 characters"))
    if operation_id == "CreateCall":
        if not any(key in params for key in ("Url", "Twiml", "ApplicationSid")):
            errors.append(_TwilioError(400, 21205, violation="no Url, Twiml or ApplicationSid"))
        if "Twiml" in params:
            errors.extend(_twiml_errors(str(params["Twiml"])))
    if errors:
        return errors[:1]
    if (
        operation_id in ("CreateMessage", "CreateCall")
        and to.startswith("+")
        and not _E164.fullmatch(to)
    ):
        # Not a client bug but what Twilio answers for a malformed number: no violation.
        return [_TwilioError(400, 21211, to)]
    return []


def _twiml_errors(twiml: str) -> list[_TwilioError]:
    try:
        root = ElementTree.fromstring(twiml)
    except ElementTree.ParseError:
        return [_TwilioError(400, 12100, violation="Twiml is not well-formed XML")]
    if root.tag != "Response":
        return [_TwilioError(400, 12100, violation="Twiml root is not <Response>")]
    return []


def _matches(record: TwilioRecord, query: dict[str, list[str]]) -> bool:
    resource = record.resource
    for key, field_name in (("To", "to"), ("From", "from"), ("Status", "status")):
        if key in query and resource.get(field_name) != query[key][-1]:
            return False
    return True


@dataclass
class ReceivedCallback:
    url: str  # the full URL the callback was posted to, as Twilio signs it
    params: dict[str, str]
    signature: str


class CallbackReceiver(LocalServer):
    """A stand-in for our web app's Twilio status endpoint: records what is posted to it.

    It does not judge the signature; tests check it with ``RequestValidator.validate``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.received: list[ReceivedCallback] = []
        self._cond = threading.Condition()

    def handle(self, request: HttpRequest) -> HttpResponse:
        form = {key: values[-1] for key, values in request.form().items()}
        with self._cond:
            self.received.append(
                ReceivedCallback(
                    f"{self.url}{request.target}",
                    form,
                    request.headers.get("x-twilio-signature", ""),
                )
            )
            self._cond.notify_all()
        return HttpResponse(200, b"", "text/plain")

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedCallback]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} callbacks, got {len(self.received)}")
                self._cond.wait(remaining)
            return list(self.received)
