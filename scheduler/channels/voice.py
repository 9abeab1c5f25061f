"""Voice calls through Twilio: the message is read aloud and one key press is gathered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twilio.twiml.voice_response import Gather, VoiceResponse

from scheduler import i18n
from scheduler.channels.base import OutgoingMessage, SendResult
from scheduler.channels.sms import DEFAULT_TIMEOUT, TwilioConnection, twilio_error
from scheduler.i18n import N_

# <Say language=...> per locale. Unknown locales are read in Danish, the programme language.
LANGUAGES: dict[str, str] = {"da": "da-DK", "en": "en-GB"}

# Twilio's default voice ("man") speaks only a few languages, and an invalid voice/language pair
# makes <Say> fail, so each language names a voice that speaks it (Amazon Polly via Twilio).
DEFAULT_VOICES: dict[str, str] = {"da": "Polly.Naja", "en": "Polly.Amy"}

# Said after the message, also when no key was pressed before the <Gather> timed out.
CLOSING = N_("Thank you. Goodbye.")


def build_twiml(
    body: str,
    locale: str = "da",
    gather_action: str | None = None,
    voices: Mapping[str, str] | None = None,
) -> str:
    """TwiML that reads ``body`` inside a one-digit ``<Gather>``, then says goodbye.

    Without ``gather_action`` the body is read without gathering a key press.
    """
    key = locale if locale in LANGUAGES else "da"
    language = LANGUAGES[key]
    voice = (voices if voices is not None else DEFAULT_VOICES).get(key)
    say: dict[str, Any] = {"language": language}
    if voice:
        say["voice"] = voice
    response = VoiceResponse()
    if gather_action:
        gather = Gather(num_digits=1, action=gather_action, method="POST")
        gather.say(body, **say)
        response.append(gather)
    else:
        response.say(body, **say)
    response.say(i18n.texts(key).gettext(CLOSING), **say)
    return str(response)


class VoiceChannel:
    """Places a call with Twilio ``calls.create`` and inline TwiML; returns the call SID."""

    name = "voice"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_: str,
        api_url: str | None = None,
        *,
        voices: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.from_ = from_
        self.voices = dict(DEFAULT_VOICES if voices is None else voices)
        self.twilio = TwilioConnection(account_sid, auth_token, api_url, timeout)

    async def send(self, message: OutgoingMessage) -> SendResult:
        params: dict[str, Any] = {
            "to": message.to,
            "from_": self.from_,
            "twiml": build_twiml(message.body, message.locale, message.gather_action, self.voices),
        }
        if message.status_callback:
            params["status_callback"] = message.status_callback
        try:
            call = await self.twilio.client.calls.create_async(**params)
        except Exception as exc:
            error = twilio_error(exc, "call")
            if error is None:
                raise
            raise error from exc
        return SendResult(provider_id=call.sid)

    async def close(self) -> None:
        await self.twilio.close()
