"""One small module per delivery channel, all behind the contract in :mod:`.base`.

Import a channel from its own module (``scheduler.channels.sms``...): importing this package
loads none of the provider libraries, so a process that sends nothing starts quickly."""

from scheduler.channels.base import (
    Button,
    Channel,
    ChannelError,
    OutgoingMessage,
    SendResult,
)

__all__ = ["Button", "Channel", "ChannelError", "OutgoingMessage", "SendResult"]
