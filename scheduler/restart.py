"""After a crash: rows a killed process left ``sending``, reconciled with the provider.

Only a message that may have reached the provider is in doubt. Before calling it ``unknown``
the dispatcher asks the provider (the SMS channel's ``find``: Twilio's message list) for the
text stored just before sending: found, it is recorded ``sent``; not found, it was never sent
and goes back to ``planned``; when the provider cannot be asked, it is ``unknown`` for staff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from scheduler import outbox
from scheduler.channels.base import Channel, ChannelError, OutgoingMessage
from scheduler.i18n import N_
from scheduler.outcomes import DispatchStats, Job, Outcome
from scheduler.recipients import resolve
from scheduler.retry import until_written
from store.models import Match


class Dispatching(Protocol):
    """What this needs of the dispatcher (:class:`scheduler.dispatcher.Dispatcher`)."""

    factory: sessionmaker[Session]
    channels: Mapping[str, Channel]
    _held: set[int]

    def _release(self, ids: list[int]) -> int: ...

    def _record_all(self, outcomes: list[Outcome], now: datetime, stats: DispatchStats) -> None: ...


log = logging.getLogger(__name__)

_NOT_ASKED = ChannelError(
    N_("the sending process stopped; the provider could not be asked"),
    permanent=False,
    code="restart",
)


async def ask_about(
    dispatcher: Dispatching, held: list[outbox.InDoubt], now: datetime, stats: DispatchStats
) -> None:
    """Rows a killed process left ``sending``: ask the provider before calling them unknown.
    Found: sent. Not found: never sent, back to ``planned``. No answer: ``unknown``."""
    to = await asyncio.to_thread(addresses, dispatcher.factory, held)
    outcomes: list[Outcome] = []
    unsent: list[int] = []
    for item in held:
        channel = dispatcher.channels[item.channel]
        message = OutgoingMessage(to=to.get(item.row_id) or "", body=item.body)
        job = Job(item.row_id, item.channel, message, item.body, None)
        dispatcher._held.add(item.row_id)
        if not message.to:
            outcomes.append(Outcome(job, error=_NOT_ASKED, in_doubt=True))
            continue
        try:
            found = await channel.find(message, item.since)  # type: ignore[attr-defined]
        except Exception as exc:
            log.warning(
                "outbox %s: lookup after a restart failed (%s)", item.row_id, type(exc).__name__
            )
            outcomes.append(Outcome(job, error=_NOT_ASKED, in_doubt=True))
            continue
        if found is None:
            unsent.append(item.row_id)
        else:
            outcomes.append(Outcome(job, found.provider_id, found.segments))
    if unsent:
        await asyncio.to_thread(until_written, lambda: dispatcher._release(unsent), "releasing")
    await asyncio.to_thread(dispatcher._record_all, outcomes, now, stats)


def addresses(factory: sessionmaker[Session], held: list[outbox.InDoubt]) -> dict[int, str]:
    """Each held row's address on its channel, as the recipient has it now."""
    found: dict[int, str] = {}
    with factory() as session:
        for item in held:
            match = session.get(Match, item.match_id) if item.match_id else None
            recipient = resolve(match, item.audience, item.recipient_id) if match else None
            address = recipient.addresses.get(item.channel) if recipient else None
            if address:
                found[item.row_id] = address
    return found
