"""The dispatcher: claims due outbox rows, renders them, sends them, records the outcome.

Delivery is at most once to people. A row is claimed (``planned -> sending``, committed) before
anything is sent; a row still ``sending`` after the lease must have been in flight when a process
died, so it becomes ``unknown`` and goes to staff: it is never re-sent blindly (healthchecks'
``sendalerts`` claims alerts the same way). On PostgreSQL, replicas claim with
``FOR UPDATE SKIP LOCKED`` and never wait for each other.

Transient errors retry with exponential backoff and jitter up to ``max_attempts``; permanent ones
stop at once, mark the address as failed, fall back to the recipient's next channel and tell
staff.

The per-message cost is what limits a drain, so the work is done per batch wherever that does
not change what is sent: a claimed batch is prepared with a fixed handful of queries (rows,
matches with their people, answered prompts) and each template is looked up once; outcomes are
still recorded every ``record_every`` messages, the sent ones with one executemany UPDATE.

Preparing a batch is :mod:`scheduler.prepare`, recording what failed :mod:`scheduler.outcomes`;
every change to an outbox row goes through :mod:`scheduler.outbox`.
"""

from __future__ import annotations

import asyncio
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
from scheduler.hooks import EngineHooks
from scheduler.outcomes import (
    DispatchStats,
    Job,
    Outcome,
    Recorder,
    mark_address_failed,
    report_in_doubt,
    summary,
)
from scheduler.prepare import ButtonsHook, Preparer
from scheduler.programme import Programme
from store import clock as store_clock
from store.models import OutboxMessage

__all__ = ["AMBIGUOUS", "DispatchStats", "Dispatcher", "mark_address_failed", "summary"]

log = logging.getLogger(__name__)

# A timeout after the request went out says nothing about whether the provider sent the message.
AMBIGUOUS = {"timeout"}


@dataclass
class Dispatcher:
    factory: sessionmaker[Session]
    programmes: Mapping[str, Programme]
    channels: Mapping[str, Channel]
    sandbox: frozenset[str] = frozenset()
    public_url: str | None = None
    secret: str | None = None
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    max_attempts: int = 5
    lease: timedelta = timedelta(minutes=5)
    batch_size: int = 200
    concurrency: int = 16
    record_every: int = 25
    buttons: ButtonsHook | None = None
    rng: random.Random = field(default_factory=random.Random)
    hooks: EngineHooks = field(kw_only=True)

    # -- the cycle -------------------------------------------------------------------------

    async def run_once(self, now: datetime, max_batches: int | None = None) -> DispatchStats:
        """Recover stale claims, expire stale rows, then drain everything due at ``now``."""
        stats = DispatchStats()

        def tidy() -> None:
            with self.factory() as session, session.begin():
                stats.unknown += self.recover(session, now)
                stats.expired += self.expire(session, now)

        # Database work runs in a worker thread, so the event loop (the bot, the web app)
        # is never held up by it; only the sending itself runs on the loop.
        await asyncio.to_thread(tidy)
        batches = 0
        while max_batches is None or batches < max_batches:
            ids = await asyncio.to_thread(self.claim, now)
            if not ids:
                break
            batches += 1
            stats.claimed += len(ids)
            stats.add(await self.send_batch(ids, now))
        return stats

    def recover(self, session: Session, now: datetime) -> int:
        """Rows left in ``sending`` past the lease: their fate is unknown; tell staff."""
        stale = outbox.recover_stale(session, now, self.lease)
        for row in stale:
            report_in_doubt(session, self.hooks, row, now)
        return len(stale)

    def expire(self, session: Session, now: datetime) -> int:
        return outbox.expire_due(session, now)

    def claim(self, now: datetime) -> list[int]:
        """Atomically move up to ``batch_size`` due rows to ``sending``; return their ids."""
        with self.factory() as session, session.begin():
            return outbox.claim_due(session, now, self.worker_id, self.batch_size)

    async def send_batch(self, ids: list[int], now: datetime) -> DispatchStats:
        stats = DispatchStats()

        def prepare() -> list[Job]:
            with self.factory() as session, session.begin():
                return Preparer(
                    session,
                    now,
                    stats,
                    self.programmes,
                    self.hooks,
                    public_url=self.public_url,
                    secret=self.secret,
                    buttons=self.buttons,
                ).jobs(ids)

        jobs = await asyncio.to_thread(prepare)
        semaphore = asyncio.Semaphore(self.concurrency)

        async def run(job: Job) -> Outcome:
            async with semaphore:
                return await self._send(job)

        # Outcomes are recorded in small groups as they arrive, not once per batch: if this
        # process dies, only the messages in flight (and the last group) are left in doubt.
        done: list[Outcome] = []
        flushed_at = clock.monotonic()
        for next_done in asyncio.as_completed([run(job) for job in jobs]):
            done.append(await next_done)
            if len(done) >= self.record_every or clock.monotonic() - flushed_at > 1.0:
                await asyncio.to_thread(self._record_all, done, now, stats)
                done, flushed_at = [], clock.monotonic()
        await asyncio.to_thread(self._record_all, done, now, stats)
        return stats

    def _record_all(self, outcomes: list[Outcome], now: datetime, stats: DispatchStats) -> None:
        """Record one group of outcomes in one transaction.

        Sent messages, nearly all of them, are written with a single executemany UPDATE instead
        of loading and flushing an ORM object per row (one round trip per group, not two per
        message). Failures need the row, the match and sometimes a fallback or an escalation, so
        they keep the ORM path; their rows are loaded together first.
        """
        if not outcomes:
            return
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
                recorder = Recorder(self.programmes, self.hooks, self.max_attempts, self.rng)
                for outcome in failed:
                    recorder.failure(session, outcome, now, stats)

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
        except Exception as exc:  # an unexpected failure: transient, and logged with its type only
            log.exception("outbox %s: channel %s raised", job.row_id, job.channel)
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

        A channel that cannot be asked leaves the message in doubt: staff decide, we never
        resend blindly.
        """
        find = getattr(channel, "find", None)
        if find is None:
            return Outcome(job, error=error, latency_ms=latency, in_doubt=True)
        try:
            found = await find(job.message, since)
        except ChannelError:
            return Outcome(job, error=error, latency_ms=latency, in_doubt=True)
        if found is not None:
            return Outcome(job, found.provider_id, found.segments, latency_ms=latency)
        return Outcome(job, error=error, latency_ms=latency)  # not sent: safe to retry
