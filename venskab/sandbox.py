"""The sandbox on the embedded default: chat as a volunteer family with the real bot, and move
the demo database's clock forward, a tick at every due moment in between.

Built by :func:`venskab.serving.serve` when the database is SQLite and every channel records
instead of sending; handed to the web pages as ``Services.sandbox`` (:mod:`followup.sandbox`).

The clock: :class:`venskab.cli.common.AppContext` reads the wall clock plus ``time_offset``.
Moving forward runs the runtime's tick at each moment a message is due (and at least every
:data:`STEP`), with the clock pinned there, so rows are stamped with the moment they belong to;
afterwards the offset holds the new present. The offset is kept in the audit log
(``sandbox.clock``), so the demo's time survives a restart.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import func, select, update

from bot.sandbox import SandboxBot
from followup.invites import create_invite
from followup.sandbox import Advanced, Chat
from store.audit import record
from store.models import AuditEntry, Match, MatchStatus, OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from venskab.cli.common import AppContext

# At least one tick this often while moving: the planner's horizon, the watch rules and the
# digest see every half day even when nothing is due.
STEP = timedelta(hours=6)
# The sandbox's chats are numbered here, far from any real Telegram chat id in the demo.
CHAT_BASE = 9_000_000_000
LONGEST = timedelta(days=62)


def sandbox_active(app: AppContext) -> bool:
    """The embedded default: SQLite, and no channel that sends for real."""
    settings = app.settings
    return settings.is_sqlite and all(
        mode == "sandbox" for mode in settings.describe_channels().values()
    )


def restore_offset(app: AppContext) -> None:
    """The demo's clock as it was last moved (kept in the audit log)."""
    with app.session_factory() as session:
        entry = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "sandbox.clock")
            .order_by(AuditEntry.id.desc())
        ).first()
    if entry is not None:
        app.time_offset = timedelta(seconds=float(entry.details.get("offset_seconds", 0)))


class Ticking(Protocol):
    """What the sandbox needs of ``venskab.runtime.Runtime``."""

    async def tick(self, now: datetime) -> Any: ...


class SandboxControl:
    """Implements :class:`followup.sandbox.Sandbox` for one running process."""

    def __init__(
        self, app: AppContext, runtime: Ticking, bot: SandboxBot, lock: asyncio.Lock
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.bot = bot
        self.lock = lock  # shared with the regular ticks: never two at once

    def now(self) -> datetime:
        return self.app.now()

    def chat_id(self, family_id: int) -> int:
        return CHAT_BASE + family_id

    async def join(self, family_id: int) -> int:
        chat_id = self.chat_id(family_id)
        token = await asyncio.to_thread(self._invite, family_id)
        await self.bot.say(chat_id, f"/start {token}", shown="/start")
        await asyncio.to_thread(self._replan, family_id)
        return chat_id

    def _invite(self, family_id: int) -> str:
        with self.app.transaction() as session:
            token, _ = create_invite(session, "family", family_id, self.app.now(), "sandbox")
            return token

    def _replan(self, family_id: int) -> None:
        """Messages already planned for the family go by Telegram now that its chat is linked
        (the channel is chosen when a message is planned)."""
        with self.app.transaction() as session:
            session.execute(
                update(Match)
                .where(Match.volunteer_family_id == family_id, Match.status != MatchStatus.ENDED)
                .values(plan_version=Match.plan_version + 1)
            )

    async def say(self, chat_id: int, text: str) -> None:
        # An urgent worry's alert goes out at once through the runtime's UrgentNews.
        await self.bot.say(chat_id, text)

    async def press(self, chat_id: int, message_id: int, data: str) -> None:
        await self.bot.press(chat_id, message_id, data)

    def chat(self, chat_id: int) -> Chat:
        return self.bot.chat(chat_id)

    async def advance(self, delta: timedelta) -> Advanced:
        delta = min(max(delta, timedelta(0)), LONGEST)
        async with self.lock:
            start = self.app.now()
            target = start + delta
            moment = start
            ticks = sent = planned = 0
            try:
                while moment < target:
                    due = await asyncio.to_thread(self._next_due, moment)
                    moment = min(due or target, moment + STEP, target)
                    self.app.now_override = moment
                    result = await self.runtime.tick(moment)
                    ticks += 1
                    sent += result.dispatch.sent
                    planned += result.plan.added
            finally:
                self.app.now_override = None
                self.app.time_offset = moment - datetime.now(UTC)
                await asyncio.to_thread(self._remember, start, moment)
        return Advanced(start, moment, ticks, sent, planned)

    def _next_due(self, after: datetime) -> datetime | None:
        with self.app.session_factory() as session:
            due = session.scalar(
                select(func.min(OutboxMessage.due_at)).where(
                    OutboxMessage.status == OutboxStatus.PLANNED, OutboxMessage.due_at > after
                )
            )
            retry = session.scalar(
                select(func.min(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.status == OutboxStatus.PLANNED,
                    OutboxMessage.next_attempt_at > after,
                )
            )
        found = [m for m in (due, retry) if m is not None]
        return min(found) if found else None

    def _remember(self, start: datetime, end: datetime) -> None:
        with self.app.transaction() as session:
            record(
                session,
                "sandbox",
                "sandbox.clock",
                "clock",
                None,
                offset_seconds=round(self.app.time_offset.total_seconds()),
                moved_seconds=round((end - start).total_seconds()),
            )


async def start_sandbox(
    app: AppContext, runtime: Ticking, bot: SandboxBot, lock: asyncio.Lock
) -> SandboxControl:
    """The sandbox's bot started, and the control handed to the web side (``Services``).
    ``runtime`` sends Telegram messages through ``bot`` (``venskab.runtime.sandbox_runtime``)."""
    await bot.start()
    control = SandboxControl(app, runtime, bot, lock)
    app.services.sandbox = control
    return control
