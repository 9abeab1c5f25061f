"""The providers' permanent errors: one table per provider (Twilio, Telegram, SMTP).

What says "this address will never work" is decided here, once, for the channel that gets the
error when it sends and for the outbox when the provider reports it later in a receipt
(:func:`scheduler.outbox.apply_receipt`). No ``store`` here: channels never import it.
"""

from __future__ import annotations

from scheduler.channels.base import ChannelError
from scheduler.i18n import N_

# Twilio error codes after which the number will never work: stop, disable it, fall back.
# https://www.twilio.com/docs/api/errors. The 3xxxx codes come in delivery receipts only.
PERMANENT_TWILIO_CODES: dict[int, str] = {
    21211: N_("invalid 'To' number"),
    21217: N_("'To' number does not appear to be valid"),
    21408: N_("no permission to send to this region"),
    21610: N_("recipient has unsubscribed (STOP)"),
    21612: N_("cannot route to this number"),
    21614: N_("'To' number is not a mobile number"),
    13224: N_("invalid number for a call"),
    13225: N_("forbidden number for a call"),
    21215: N_("no permission to call this region"),
    30003: N_("unreachable destination handset"),
    30005: N_("unknown destination handset"),
    30006: N_("landline or unreachable carrier"),
}

# Telegram BadRequest descriptions that mean the chat itself is gone or unreachable for good.
PERMANENT_TELEGRAM_BAD_REQUESTS = (
    "chat not found",
    "user not found",
    "peer_id_invalid",
    "user is deactivated",
    "chat_write_forbidden",
    "have no rights to send a message",
)

# SMTP replies (RFC 5321, 4.2.1): the first digit says whether trying again can help. 5xx is a
# permanent refusal, 4xx a transient one. What a refusal is about decides whether it is the
# address's fault: a refused recipient is; a refused login or sender is our configuration, which
# never disables an address. (Servers' texts often quote the address: only codes are kept.)
SMTP_PERMANENT_CLASS = 5
SMTP_REFUSALS: dict[str, tuple[str, str, bool]] = {
    # about: (what a permanent refusal says, what a transient one says, may disable the address)
    "recipient": (
        N_("the mail server refused the recipient"),
        N_("the mail server deferred the recipient"),
        True,
    ),
    "configuration": (
        N_("the mail server refused our login or sender"),
        N_("the mail server refused our login or sender"),
        False,
    ),
    "reply": (
        N_("the mail server refused the message"),
        N_("the mail server deferred the message"),
        True,
    ),
}

# The code of a text the provider refuses whatever the address (Telegram: too long or entities
# it cannot parse, even shortened): not worth retrying, yet no reason to stop using the address.
BODY_REFUSED = "body_refused"


def twilio_code(code: object) -> int | None:
    """A Twilio error code as a number (receipts give it as text); None if there is none."""
    if isinstance(code, int):
        return code
    try:
        return int(str(code).strip())
    except ValueError:
        return None


def permanent_twilio_error(code: object, what: str) -> ChannelError | None:
    """The permanent error for a Twilio code, or None if the code is not a permanent one."""
    number = twilio_code(code)
    if number not in PERMANENT_TWILIO_CODES:
        return None
    return ChannelError(
        f"Twilio refused the {what}: error {number}, {PERMANENT_TWILIO_CODES[number]}",
        permanent=True,
        code=str(number),
    )


def permanent_telegram_error(description: str) -> ChannelError | None:
    """The permanent error for a Telegram bad request, or None if it is about the request."""
    lowered = description.lower()
    for phrase in PERMANENT_TELEGRAM_BAD_REQUESTS:
        if phrase in lowered:
            return ChannelError(
                f"Telegram refused the chat: {phrase}",
                permanent=True,
                code=phrase.replace(" ", "_"),
            )
    return None


def smtp_permanent(code: int) -> bool:
    """Whether an SMTP reply code is a permanent refusal (5xx)."""
    return code // 100 == SMTP_PERMANENT_CLASS


def smtp_refusal(codes: list[int], about: str) -> ChannelError:
    """The error for an SMTP refusal (``about`` a key of :data:`SMTP_REFUSALS`): permanent only
    when every code is a 5xx and the refusal is about the address. The text is a message id
    (translated where it is shown); the reply code is the error's ``code``."""
    permanent_text, transient_text, about_address = SMTP_REFUSALS[about]
    code = max(codes) if codes else 0
    permanent = about_address and bool(codes) and all(smtp_permanent(c) for c in codes)
    text = permanent_text if permanent else transient_text
    return ChannelError(text, permanent=permanent, code=str(code))
