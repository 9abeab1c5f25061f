"""Email over SMTP: a plain-text body with an optional HTML alternative, and attachments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import aiosmtplib

from scheduler.channels.base import ChannelError, OutgoingMessage, SendResult
from scheduler.channels.errors import smtp_refusal
from scheduler.i18n import N_


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"


def build_email(message: OutgoingMessage, from_addr: str, date: datetime) -> EmailMessage:
    """The MIME message for ``message``: text, HTML alternative and the headers we always set."""
    mail = EmailMessage()
    mail["From"] = from_addr
    mail["To"] = message.to
    mail["Subject"] = message.subject or ""
    mail["Date"] = format_datetime(date)
    mail["Message-ID"] = make_msgid(domain=_domain(from_addr))
    mail["Content-Language"] = message.locale
    # RFC 3834: stops out-of-office replies from coming back to an unattended sender.
    mail["Auto-Submitted"] = "auto-generated"
    if message.reference:
        mail["X-Venskab-Reference"] = message.reference
    if not message.essential and message.unsubscribe_url:
        # RFC 8058 one-click unsubscribe; large mailbox providers require it for bulk mail.
        mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(message.body)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mail.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return mail


def smtp_error(exc: BaseException) -> ChannelError | None:
    """Translate an SMTP failure; None for exceptions that are not about SMTP.

    Refusals are classified by :func:`scheduler.channels.errors.smtp_refusal` (5xx about the
    recipient is permanent); timeouts and connection problems are transient."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return smtp_refusal([refused.code for refused in exc.recipients], "recipient")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPSenderRefused):
        return smtp_refusal([exc.code], "configuration")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return smtp_refusal([exc.code], "reply")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return ChannelError(
            N_("timed out talking to the mail server"), permanent=False, code="timeout"
        )
    if isinstance(exc, aiosmtplib.SMTPException | OSError):
        return ChannelError(
            f"could not talk to the mail server ({type(exc).__name__})",
            permanent=False,
            code="connection",
        )
    return None


class EmailChannel:
    """Sends one email per message with aiosmtplib; returns the Message-ID."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        from_addr: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 30,
        *,
        use_tls: bool = False,
        clock: Callable[[], datetime],
    ) -> None:
        self.clock = clock  # dates the mail (the composition root's clock)
        self.host = host
        self.port = port
        self.from_addr = from_addr
        self.username = username
        self.password = password
        self.starttls = starttls
        self.use_tls = use_tls
        self.timeout = timeout

    async def send(self, message: OutgoingMessage) -> SendResult:
        mail = build_email(message, self.from_addr, self.clock())
        try:
            await aiosmtplib.send(
                mail,
                sender=parseaddr(self.from_addr)[1],
                recipients=[message.to],
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                start_tls=False if self.use_tls else self.starttls,
                timeout=self.timeout,
            )
        except Exception as exc:
            error = smtp_error(exc)
            if error is None:
                raise
            raise error from exc
        return SendResult(provider_id=str(mail["Message-ID"]))

    async def close(self) -> None:
        """Nothing to release: every send opens and closes its own SMTP connection."""
