"""One small module per delivery channel, all behind the contract in :mod:`.base`."""

from scheduler.channels.base import (
    Button,
    Channel,
    ChannelError,
    OutgoingMessage,
    SendResult,
)
from scheduler.channels.email import EmailChannel
from scheduler.channels.sandbox import SandboxChannel
from scheduler.channels.sms import SmsChannel
from scheduler.channels.telegram import TelegramChannel, make_bot
from scheduler.channels.voice import VoiceChannel

__all__ = [
    "Button",
    "Channel",
    "ChannelError",
    "EmailChannel",
    "OutgoingMessage",
    "SandboxChannel",
    "SendResult",
    "SmsChannel",
    "TelegramChannel",
    "VoiceChannel",
    "make_bot",
]
