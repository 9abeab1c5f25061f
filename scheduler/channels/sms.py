"""SMS through Twilio, paced to the sender's segment rate.

Also home of the Twilio plumbing the voice channel shares: the async client that can be pointed
at another server (``api_url``, for the test fake or a proxy) and the error classification.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from scheduler.channels.base import ChannelError, OutgoingMessage, SendResult
from scheduler.channels.errors import permanent_twilio_error
from scheduler.channels.pacing import SegmentPacer
from scheduler.sms import segments as count_segments

DEFAULT_TIMEOUT = 30.0

_MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")


class RedirectingHttpClient(AsyncTwilioHttpClient):
    """Twilio's aiohttp client, sending ``https://*.twilio.com`` requests to ``api_url``.

    The SDK hard-codes its hosts; a custom HTTP client is Twilio's documented way to send its
    requests elsewhere. It also applies the default timeout, which the stock async client
    does not pass on to aiohttp (a hung connection would otherwise wait forever).

    Credentials go into the Authorization header here: the stock client passes them as
    aiohttp's ``BasicAuth``, which aiohttp deprecates for removal in 4.0.
    """

    def __init__(self, api_url: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(timeout=timeout)
        self.api_url = api_url.rstrip("/") if api_url else None

    def log_request(self, kwargs: dict[str, Any]) -> None:
        """The method and the path only: the SDK's own logging puts the query (``To=+45...``)
        and the headers into the log, and a log never holds a phone number."""
        self.logger.debug("Twilio %s %s", kwargs.get("method"), urlsplit(kwargs["url"]).path)

    def log_response(self, status_code: int, response: Any) -> None:
        self.logger.debug("Twilio answered %s", status_code)

    def rewrite(self, url: str) -> str:
        if self.api_url is None:
            return url
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host != "twilio.com" and not host.endswith(".twilio.com"):
            return url
        rest = url[len(f"{parts.scheme}://{parts.netloc}") :]
        return self.api_url + rest

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        return await super().request(
            method,
            self.rewrite(url),
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )


class TwilioConnection:
    """A Twilio REST client built on first use, inside the running event loop.

    aiohttp binds its session to the loop that creates it, so the client cannot be built in a
    synchronous constructor. :meth:`close` closes the session.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        api_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self._api_url = api_url
        self._timeout = timeout
        self._client: Client | None = None
        self._http: RedirectingHttpClient | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._http = RedirectingHttpClient(self._api_url, self._timeout)
            self._client = Client(
                self.account_sid,
                self._auth_token,
                http_client=self._http,
            )
        return self._client

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = None
        self._client = None


def twilio_error(exc: BaseException, what: str) -> ChannelError | None:
    """Translate an exception from a Twilio call into a :class:`ChannelError`.

    Returns None for exceptions that are not about talking to Twilio (programming errors),
    which the caller should let propagate. Twilio's own error messages can quote the phone
    number, so only codes and statuses go into ours.
    """
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status = int(getattr(exc, "status", 0) or 0)
        code = getattr(exc, "code", None)
        permanent = permanent_twilio_error(code, what) if code is not None else None
        if permanent is not None:
            return permanent
        label = str(code) if code else f"http_{status}"
        if status == 429:
            return ChannelError(
                f"Twilio is rate limiting (HTTP 429, error {code})", permanent=False, code=label
            )
        if status >= 500:
            return ChannelError(
                f"Twilio server error (HTTP {status}, error {code})", permanent=False, code=label
            )
        if status in (401, 403):
            # Our credentials, not the recipient's address: never disable the address for it.
            return ChannelError(
                f"Twilio rejected the credentials (HTTP {status}, error {code})",
                permanent=False,
                code=label,
            )
        # Any other refusal is about this request (length, sender, account), not the address.
        # Retrying is unlikely to help; the dispatcher's retry budget ends it and staff see it.
        return ChannelError(
            f"Twilio refused the {what} (HTTP {status}, error {code})", permanent=False, code=label
        )
    if isinstance(exc, TimeoutError):
        return ChannelError(
            f"timed out talking to Twilio ({what})", permanent=False, code="timeout"
        )
    if isinstance(exc, aiohttp.ClientError | OSError):
        return ChannelError(
            f"could not reach Twilio ({type(exc).__name__})", permanent=False, code="connection"
        )
    if isinstance(exc, TwilioException):
        # The SDK's own failures (e.g. "Unable to fetch page" when a list call gets an error
        # page): no code to go by, so transient.
        return ChannelError(f"Twilio client error ({what})", permanent=False, code="twilio")
    return None


class SmsChannel:
    """Sends SMS with Twilio ``messages.create``; returns the message SID and segment count.

    ``from_`` is an E.164 number, an alphanumeric sender, or a messaging service SID (MG...).
    Twilio queues what it cannot send at once (1 segment/s per long code); pacing keeps that
    queue short, so an expiry or a cancel still means something. The running system paces in
    the dispatcher's SMS lane (``segments_per_second=None`` here).
    """

    name = "sms"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_: str,
        api_url: str | None = None,
        segments_per_second: float | None = 1.0,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.from_ = from_
        self.twilio = TwilioConnection(account_sid, auth_token, api_url, timeout)
        # None: the dispatcher's SMS lane paces (before it claims), not the channel.
        self.pacer = SegmentPacer(segments_per_second) if segments_per_second else None

    async def send(self, message: OutgoingMessage) -> SendResult:
        local_segments = max(1, count_segments(message.body).segments)
        if self.pacer is not None:
            await self.pacer.wait(local_segments)
        params: dict[str, Any] = {"to": message.to, "body": message.body}
        if _MESSAGING_SERVICE_SID.fullmatch(self.from_):
            params["messaging_service_sid"] = self.from_
        else:
            params["from_"] = self.from_
        if message.status_callback:
            params["status_callback"] = message.status_callback
        try:
            created = await self.twilio.client.messages.create_async(**params)
        except Exception as exc:
            error = twilio_error(exc, "message")
            if error is None:
                raise
            raise error from exc
        # Twilio's count is authoritative; a messaging service reports 0 until a sender is picked.
        reported = created.num_segments
        billed = int(reported) if _digits(reported) and int(reported) > 0 else None
        return SendResult(provider_id=created.sid, segments=billed or local_segments)

    async def find(self, message: OutgoingMessage, since: datetime) -> SendResult | None:
        """After a timeout: did Twilio accept this message anyway?

        A timed-out request may still have been sent, and a blind retry would send it twice.
        Twilio has no idempotency key for messages, so look for one to the same number with the
        same text, created since the attempt began. Raises :class:`ChannelError` when Twilio
        cannot be asked either.
        """
        params: dict[str, Any] = {"to": message.to, "limit": 50}
        if not _MESSAGING_SERVICE_SID.fullmatch(self.from_):
            params["from_"] = self.from_
        try:
            found = await self.twilio.client.messages.list_async(**params)
        except Exception as exc:
            error = twilio_error(exc, "message lookup")
            if error is None:
                raise
            raise error from exc
        for candidate in found:
            created = candidate.date_created
            if _same_text(message.body, candidate.body) and (
                created is None or created >= since - timedelta(minutes=1)
            ):
                reported = candidate.num_segments
                segments = int(reported) if _digits(reported) else None
                return SendResult(provider_id=candidate.sid, segments=segments)
        return None

    async def close(self) -> None:
        await self.twilio.close()


def _digits(value: str | None) -> bool:
    """A count Twilio reported, in ASCII digits ("²" is a digit to ``str.isdigit``, not to int)."""
    return value is not None and value.isascii() and value.isdigit()


def _same_text(ours: str, theirs: str | None) -> bool:
    """Twilio's text is ours; ours may be the stored text, whose links' secret parts read
    ``[link]`` (a restart asks with what the database kept)."""
    if theirs is None:
        return False
    if ours == theirs or "[link]" not in ours:
        return ours == theirs
    pattern = r"\S+".join(re.escape(part) for part in ours.split("[link]"))
    return re.fullmatch(pattern, theirs, flags=re.DOTALL) is not None
