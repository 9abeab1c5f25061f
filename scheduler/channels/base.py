"""The channel contract: one outgoing message in, a provider id or a :class:`ChannelError` out.

Every channel (SMS, voice, email, Telegram, sandbox) has one ``send()`` and raises one error
type that says whether retrying is worth it. The dispatcher owns retries, fallbacks and the
outbox; a channel only talks to its provider. Channels never import ``store``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

# Telegram refuses callback_data outside 1-64 bytes (Bot API, InlineKeyboardButton).
CALLBACK_DATA_MAX_BYTES = 64


@dataclass(frozen=True)
class Button:
    """A Telegram inline keyboard button: exactly one of ``callback_data`` or ``url``."""

    text: str
    callback_data: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if not self.text:
            raise ValueError("a button needs a text")
        if (self.callback_data is None) == (self.url is None):
            raise ValueError("a button needs exactly one of callback_data and url")
        if self.callback_data is not None:
            size = len(self.callback_data.encode("utf-8"))
            if not 1 <= size <= CALLBACK_DATA_MAX_BYTES:
                raise ValueError(
                    f"callback_data must be 1-{CALLBACK_DATA_MAX_BYTES} bytes, got {size}"
                )


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email (a volunteer family's photo to the parent)."""

    filename: str
    content_type: str  # "image/jpeg"
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to one address, already rendered for the channel it goes to."""

    to: str
    """E.164 phone number (+4520000001), email address, or a Telegram chat id as text."""
    body: str
    """SMS / Telegram / voice text, or the plain-text part of an email."""
    subject: str | None = None
    html: str | None = None
    locale: str = "da"
    essential: bool = True
    """Non-essential email gets List-Unsubscribe headers (RFC 8058 one-click)."""
    unsubscribe_url: str | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    """Telegram inline keyboard rows."""
    status_callback: str | None = None
    """Twilio StatusCallback URL (SMS and voice)."""
    gather_action: str | None = None
    """Voice: the URL the ``<Gather>`` posts the pressed digit to."""
    reference: str | None = None
    """Our outbox id, for logs and headers only."""
    attachments: tuple[Attachment, ...] = ()
    """Email only: files attached after the text and HTML parts."""


@dataclass(frozen=True)
class SendResult:
    """What the provider accepted: its id for the message and, for SMS, the billed segments."""

    provider_id: str | None
    segments: int | None = None


class ChannelError(Exception):
    """Sending failed; ``permanent`` says whether retrying the same address is useless.

    ``permanent=True``: the address is bad, blocked or unsubscribed. The dispatcher stops, marks
    the address and falls back to the recipient's next channel. ``permanent=False``: retry with
    backoff (timeouts, 429, 5xx, and our own configuration errors, which must not disable a
    recipient's address). ``retry_after`` is the provider's requested wait in seconds, if any.

    The message is logged and stored: it must never contain phone numbers, email addresses or
    message text. Build it from codes and statuses only.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"ChannelError({self.message!r}, permanent={self.permanent}, code={self.code!r}, "
            f"retry_after={self.retry_after!r})"
        )


@runtime_checkable
class Channel(Protocol):
    """What the dispatcher needs from a channel."""

    name: str
    """"sms" | "email" | "telegram" | "voice"."""

    async def send(self, message: OutgoingMessage) -> SendResult: ...

    async def close(self) -> None: ...
