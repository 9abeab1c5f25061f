"""The dispatcher: claims due outbox rows just before sending them, sends, records the outcome.

Delivery is at most once to people. A row is claimed (``planned -> sending``, committed) before
anything is sent; a row still ``sending`` after the lease must have been in flight when a process
died, so it becomes ``unknown`` and goes to staff: it is never re-sent blindly (healthchecks'
``sendalerts`` claims alerts the same way). On PostgreSQL, replicas claim with
``FOR UPDATE SKIP LOCKED`` and never wait for each other.

Each channel is a *lane* that drains on its own, at its own rate (SMS: segments per second per
sender), so a slow channel never holds up another. A lane claims only what it is about to send:
a paced lane one message when the pacer has a free slot, an unpaced one as many as it has free
sending slots. Each row's ``claimed_at`` is its own claim moment, renewed while the row is in
flight, so only a row a dead process may have handed to the provider is ever declared
``unknown``. :meth:`Dispatcher.stop` (SIGTERM) stops the claiming; what is in flight finishes
and is recorded, what was claimed but not yet sent is released.

Transient errors retry with capped backoff and jitter until the message expires
(:mod:`scheduler.retry`); permanent ones stop at once, mark the address as failed, fall back to
the recipient's next channel and tell staff. Outcomes are written in small groups, and a write
the database refuses because it is down is retried until it is back.

Preparing rows is :mod:`scheduler.prepare`, recording what failed :mod:`scheduler.outcomes`;
every change to an outbox row goes through :mod:`scheduler.outbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time as clock
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduler import outbox
from scheduler.channels.base import Channel, ChannelError
from scheduler.channels.pacing import SegmentPacer
from scheduler.hooks import EngineHooks
from scheduler.message_parts import ButtonsHook
from scheduler.outcomes import (
    DispatchStats,
    Job,
    Outcome,
    Recorder,
    mark_address_failed,
    report_expired,
    report_in_doubt,
    summary,
)
from scheduler.prepare import Preparer
from scheduler.programme import Programme
from scheduler.render import Templates
from scheduler.restart import ask_about
from scheduler.retry import RetryPolicy, is_database_down, until_written
from store import clock as store_clock
from store.models import Channel as ChannelName
from store.models import OutboxMessage

__all__ = ["AMBIGUOUS", "DispatchStats", "Dispatcher", "mark_address_failed", "summary"]

log = logging.getLogger(__name__)

# A timeout after the request went out says nothing about whether the provider sent the message.
AMBIGUOUS = {"timeout"}
LANES = tuple(c.value for c in ChannelName)
# Sends started in one turn of the event loop: the loop runs everything else in between.
_STEP = 32


@dataclass
class Dispatcher:
    factory: sessionmaker[Session]
    programmes: Mapping[str, Programme]
    channels: Mapping[str, Channel]
    sandbox: frozenset[str] = frozenset()
    public_url: str | None = None
    secret: str | None = None
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    lease: timedelta = timedelta(minutes=5)
    batch_size: int = 16
    """The most one lane claims at once (and never more than it has free sending slots)."""
    concurrency: int = 16
    """Sends in flight at once, per lane."""
    rates: Mapping[str, float] = field(default_factory=dict)
    """Per lane: messages per second (SMS: segments per second); a lane not named is unpaced."""
    policies: Mapping[str, RetryPolicy] = field(default_factory=dict)
    record_every: int = 25
    buttons: ButtonsHook | None = None
    rng: random.Random = field(default_factory=random.Random)
    hooks: EngineHooks = field(kw_only=True)
    _stopping: bool = field(default=False, init=False)
    _held: set[int] = field(default_factory=set, init=False)  # claimed, outcome not yet written
    _pacers: dict[str, SegmentPacer] = field(default_factory=dict, init=False)
    # Found once per tick and shared by its batches (a template edited on disk: the next tick).
    _templates: dict[tuple[str, str, str], Templates] = field(default_factory=dict, init=False)
    _windows: dict[tuple[str, str, str], datetime] = field(default_factory=dict, init=False)

    def stop(self) -> None:
        """Stop claiming (SIGTERM): what is in flight finishes, the rest is released."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -- the cycle -------------------------------------------------------------------------

    async def run_once(self, now: datetime) -> DispatchStats:
        """Recover stale claims, expire stale rows, then drain everything due at ``now``."""
        stats = DispatchStats()
        started = clock.monotonic()
        held: list[outbox.InDoubt] = []
        self._templates, self._windows = {}, {}  # the sending windows depend on ``now``

        def tidy() -> None:
            with self.factory() as session, session.begin():
                askable = [name for name in LANES if self._askable(name)]
                held.extend(outbox.hold_in_doubt(session, now, self.lease, self.worker_id, askable))
                stats.unknown += self.recover(session, now)
                stats.expired += self.expire(session, now)

        # Database work runs in a worker thread, so the event loop (the bot, the web app)
        # is never held up by it; only the sending itself runs on the loop.
        try:
            await asyncio.to_thread(tidy)
        except Exception as exc:
            if not is_database_down(exc):
                raise
            log.warning("dispatch skipped: the database is unavailable (%s)", type(exc).__name__)
            return stats
        if held:
            await ask_about(self, held, now, stats)
        renewing = asyncio.create_task(self._renew(now, started))
        try:
            lanes = await asyncio.gather(
                *(self._lane(name, now, started) for name in LANES), return_exceptions=True
            )
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        for lane in lanes:
            if isinstance(lane, BaseException):
                if not isinstance(lane, Exception):
                    raise lane
                log.warning("a dispatch lane stopped: %s", type(lane).__name__)
            else:
                stats.add(lane)
        return stats

    def _askable(self, name: str) -> bool:
        """A channel whose provider can say whether a message went out (SMS: Twilio)."""
        channel = self.channels.get(name)
        return channel is not None and name not in self.sandbox and hasattr(channel, "find")

    def recover(self, session: Session, now: datetime) -> int:
        """Rows left in ``sending`` past the lease: their fate is unknown; tell staff."""
        stale = outbox.recover_stale(session, now, self.lease)
        for row in stale:
            report_in_doubt(session, self.hooks, row, now)
        return len(stale)

    def expire(self, session: Session, now: datetime) -> int:
        """Rows past their expiry become ``expired``; staff hear of the essential ones."""
        rows = outbox.expire_due(session, now)
        for row in rows:
            report_expired(session, self.hooks, row, None, now)
        return len(rows)

    def claim(
        self,
        now: datetime,
        channel: str | None = None,
        limit: int | None = None,
        at: datetime | None = None,
    ) -> list[int]:
        """Atomically move up to ``limit`` due rows to ``sending``; return their ids."""
        with self.factory() as session, session.begin():
            ids = outbox.claim_due(
                session, now, self.worker_id, limit or self.batch_size, channel, at
            )
        self._held.update(ids)
        return ids

    def _moment(self, now: datetime, started: float) -> datetime:
        """The tick's ``now`` moved on by the time spent since: per-row claim times."""
        return now + timedelta(seconds=clock.monotonic() - started)

    async def _renew(self, now: datetime, started: float) -> None:
        """Keep the lease of every row still held while it is in flight."""
        every = max(self.lease.total_seconds() / 3, 0.05)
        while True:
            await asyncio.sleep(every)
            held, at = list(self._held), self._moment(now, started)

            def renew(held: list[int] = held, at: datetime = at) -> None:
                with self.factory() as session, session.begin():
                    outbox.renew(session, held, self.worker_id, at)

            try:
                await asyncio.to_thread(renew)
            except Exception as exc:  # the next round tries again
                log.warning("lease renewal failed (%s)", type(exc).__name__)

    # -- a lane ----------------------------------------------------------------------------

    def _pacer(self, name: str) -> SegmentPacer | None:
        rate = self.rates.get(name)
        if not rate:
            return None
        if name not in self._pacers:  # kept across ticks: the rate holds between them too
            self._pacers[name] = SegmentPacer(rate)
        return self._pacers[name]

    async def _lane(self, name: str, now: datetime, started: float) -> DispatchStats:
        """Drain one channel: claim what can be sent right now, send it, record it."""
        stats = DispatchStats()
        pacer = self._pacer(name)
        sending: set[asyncio.Task[None]] = set()
        done: list[Outcome] = []
        flushed_at = clock.monotonic()
        # A sandbox send ends at once and cannot be in doubt: its slots are a whole batch.
        slots = self.batch_size if name in self.sandbox else self.concurrency

        async def record() -> None:
            nonlocal flushed_at
            batch, done[:] = list(done), []
            await asyncio.to_thread(self._record_all, batch, now, stats)
            flushed_at = clock.monotonic()

        try:
            while not self._stopping:
                if len(sending) >= slots:
                    await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
                    continue
                if pacer is not None:
                    await pacer.ready()  # pace first, then claim: never the other way round
                if pacer is not None and done:
                    await record()  # before the next claim: a kill leaves only the one in flight
                free = 1 if pacer is not None else slots - len(sending)
                at = self._moment(now, started)
                claimed, jobs = await asyncio.to_thread(
                    self._claim_prepared, now, name, min(self.batch_size, free), at, stats
                )
                if not claimed:
                    break
                stats.claimed += claimed
                for number, job in enumerate(jobs, 1):
                    if pacer is not None:
                        await pacer.wait(job.rate_units())
                    elif number % _STEP == 0:
                        await asyncio.sleep(0)  # a big batch's sends start in several turns
                    task = asyncio.create_task(self._send_into(job, done))
                    sending.add(task)
                    task.add_done_callback(sending.discard)
                # A paced lane records each outcome at once; a fast one in small groups.
                due = len(done) >= self.record_every or clock.monotonic() - flushed_at > 1.0
                if done and (pacer is not None or due):
                    await record()
        finally:
            if sending:
                await asyncio.gather(*sending, return_exceptions=True)
            await record()
        return stats

    def _claim_prepared(
        self, now: datetime, channel: str, limit: int, at: datetime, stats: DispatchStats
    ) -> tuple[int, list[Job]]:
        """Claim up to ``limit`` due rows of ``channel`` and prepare them, in one transaction:
        what is committed as ``sending`` is exactly what is about to be handed to the channel
        (a failure leaves nothing claimed). Returns how many rows were claimed, and the jobs."""

        def claim_and_prepare() -> tuple[int, list[Job]]:
            with self.factory() as session, session.begin():
                ids = outbox.claim_due(session, now, self.worker_id, limit, channel, at)
                if not ids:
                    return 0, []
                jobs = Preparer(
                    session,
                    now,
                    stats,
                    self.programmes,
                    self.hooks,
                    public_url=self.public_url,
                    secret=self.secret,
                    buttons=self.buttons,
                    templates=self._templates,
                    windows=self._windows,
                ).jobs(ids)
                # Kept before sending: after a crash the provider is asked for this text.
                askable = [(j.row_id, j.stored_body) for j in jobs if self._askable(j.channel)]
                outbox.remember_text(session, askable)
                return len(ids), jobs

        claimed, jobs = until_written(
            claim_and_prepare, "preparing messages", give_up_after=self.lease.total_seconds() / 3
        )
        self._held.update(job.row_id for job in jobs)
        return claimed, jobs

    def _release(self, ids: list[int]) -> int:
        with self.factory() as session, session.begin():
            released = outbox.release(session, ids, self.worker_id)
        self._held.difference_update(ids)
        return released

    async def _send_into(self, job: Job, done: list[Outcome]) -> None:
        if self._stopping:
            # Claimed, never handed to the provider: back to planned for the next process.
            await asyncio.to_thread(until_written, lambda: self._release([job.row_id]), "releasing")
            return
        done.append(await self._send(job))

    def _record_all(self, outcomes: list[Outcome], now: datetime, stats: DispatchStats) -> None:
        """Record one group of outcomes in one transaction, retried while the database is down
        (a delivered message is never left to look lost)."""
        if not outcomes:
            return
        recorded = until_written(lambda: self._record(outcomes, now), "recording outcomes")
        stats.add(recorded)
        self._held.difference_update(o.job.row_id for o in outcomes)

    def _record(self, outcomes: list[Outcome], now: datetime) -> DispatchStats:
        """Sent messages, nearly all of them, are written with a single executemany UPDATE
        instead of loading and flushing an ORM object per row. Failures need the row, the match
        and sometimes a fallback or an escalation, so they keep the ORM path."""
        stats = DispatchStats()
        sent = [o for o in outcomes if o.error is None]
        failed = [o for o in outcomes if o.error is not None]
        with self.factory() as session, session.begin():
            if sent:
                outbox.mark_sent(
                    session,
                    [
                        outbox.Sent(
                            o.job.row_id,
                            o.provider_id,
                            o.segments,
                            o.job.channel in self.sandbox,
                            o.latency_ms,
                            o.job.stored_body,
                            o.job.subject,
                        )
                        for o in sent
                    ],
                    now,
                )
                stats.sent += len(sent)
            if failed:
                # One query puts the rows in the identity map; session.get then finds them there.
                session.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.id.in_([o.job.row_id for o in failed])
                    )
                ).all()
                recorder = Recorder(self.programmes, self.hooks, self.policies, self.rng)
                for outcome in failed:
                    recorder.failure(session, outcome, now, stats)
        return stats

    # -- sending ---------------------------------------------------------------------------

    async def _send(self, job: Job) -> Outcome:
        channel = self.channels.get(job.channel)
        started = clock.perf_counter()
        if channel is None:
            error = ChannelError(
                f"channel {job.channel} is not configured", permanent=True, code="not_configured"
            )
            return Outcome(job, error=error)
        attempt_began = store_clock.now()  # the composition root's clock
        try:
            result = await channel.send(job.message)
        except ChannelError as exc:
            latency = int((clock.perf_counter() - started) * 1000)
            if exc.code in AMBIGUOUS:
                return await self._reconcile(channel, job, exc, attempt_began, latency)
            return Outcome(job, error=exc, latency_ms=latency)
        except Exception as exc:  # unknown to every table: transient, logged by its type only
            log.warning(
                "outbox %s: channel %s raised %s", job.row_id, job.channel, type(exc).__name__
            )
            return Outcome(
                job,
                error=ChannelError(f"unexpected {type(exc).__name__}", permanent=False),
                latency_ms=int((clock.perf_counter() - started) * 1000),
            )
        return Outcome(
            job,
            result.provider_id,
            result.segments,
            latency_ms=int((clock.perf_counter() - started) * 1000),
        )

    async def _reconcile(
        self, channel: Channel, job: Job, error: ChannelError, since: datetime, latency: int
    ) -> Outcome:
        """Ask the provider whether a timed-out message went out before deciding to retry.

        A channel that cannot be asked, or a lookup that fails in any way, leaves the message in
        doubt: staff decide, we never resend blindly.
        """
        find = getattr(channel, "find", None)
        if find is None:
            return Outcome(job, error=error, latency_ms=latency, in_doubt=True)
        try:
            found = await find(job.message, since)
        except Exception as exc:
            log.warning("outbox %s: reconciliation failed (%s)", job.row_id, type(exc).__name__)
            return Outcome(job, error=error, latency_ms=latency, in_doubt=True)
        if found is not None:
            return Outcome(job, found.provider_id, found.segments, latency_ms=latency)
        return Outcome(job, error=error, latency_ms=latency)  # not sent: safe to retry
