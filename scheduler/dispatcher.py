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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time as clock
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

from scheduler.alerts import staff_content
from scheduler.channels.base import Button, Channel, ChannelError, OutgoingMessage
from scheduler.context import build_context
from scheduler.escalations import raise_escalation
from scheduler.inbound import unsubscribe_token
from scheduler.programme import Programme
from scheduler.recipients import Recipient, resolve, staff_recipient
from scheduler.render import Rendered, Templates, load, render_loaded
from scheduler.rules import next_allowed
from scheduler.surveys import invitation_for, secret_for
from store.models import (
    Audience,
    ContactPerson,
    Match,
    OutboxMessage,
    OutboxStatus,
    Severity,
    SparringSession,
    Staff,
    SurveyInvitation,
    Visit,
    VolunteerFamily,
    utcnow,
)
from store.models import (
    Channel as ChannelName,
)
from store.queries import insert_ignore

log = logging.getLogger(__name__)

ButtonsHook = Callable[[OutboxMessage, Match], tuple[tuple[Button, ...], ...]]


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    cancelled: int = 0
    unknown: int = 0
    deferred: int = 0
    fallbacks: int = 0

    def add(self, other: DispatchStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Job:
    row_id: int
    channel: str
    message: OutgoingMessage
    stored_body: str
    subject: str | None
    secret_parts: tuple[str, ...] = ()


@dataclass
class _Outcome:
    job: _Job
    provider_id: str | None = None
    segments: int | None = None
    error: ChannelError | None = None
    latency_ms: int = 0
    in_doubt: bool = False  # the provider may or may not have sent it


# A timeout after the request went out says nothing about whether the provider sent the message.
AMBIGUOUS = {"timeout"}

_OUTBOX = cast(Table, OutboxMessage.__table__)
# Marks one sent message; executed with a list of parameter sets, one per message in a group.
# The parameter keys other than ``row_id`` name the columns set.
_MARK_SENT = update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id"))


_TemplateCache = dict[tuple[str, str, str], Templates]


def _render(
    cache: _TemplateCache, template: str, channel: str, locale: str, context: Mapping[str, Any]
) -> Rendered:
    """Render with the templates found once per batch (a lookup that fails is not cached)."""
    key = (template, channel, locale)
    found = cache.get(key)
    if found is None:
        found = cache[key] = load(template, channel, locale)
    return render_loaded(found, context)


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

    # -- the cycle -------------------------------------------------------------------------

    async def run_once(self, now: datetime, max_batches: int | None = None) -> DispatchStats:
        """Recover stale claims, expire stale rows, then drain everything due at ``now``."""
        stats = DispatchStats()
        with self.factory() as session, session.begin():
            stats.unknown += self.recover(session, now)
            stats.expired += self.expire(session, now)
        batches = 0
        while max_batches is None or batches < max_batches:
            ids = self.claim(now)
            if not ids:
                break
            batches += 1
            stats.claimed += len(ids)
            stats.add(await self.send_batch(ids, now))
        return stats

    def recover(self, session: Session, now: datetime) -> int:
        """Rows left in ``sending`` past the lease: their fate is unknown; tell staff."""
        stale = list(
            session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == OutboxStatus.SENDING,
                    OutboxMessage.claimed_at < now - self.lease,
                )
                .with_for_update(skip_locked=True)
            )
        )
        for row in stale:
            row.status = OutboxStatus.UNKNOWN
            row.last_error = (
                "the sending process stopped mid-send; not re-sent to avoid a duplicate"
            )
            match = session.get(Match, row.match_id) if row.match_id else None
            raise_escalation(
                session,
                match,
                "delivery_unknown",
                now=now,
                evidence={
                    "outbox_id": row.id,
                    "touchpoint": row.touchpoint_id,
                    "channel": row.channel.value,
                },
                suggested_action="Check with the recipient whether the message arrived; resend by hand if not.",
            )
        return len(stale)

    def expire(self, session: Session, now: datetime) -> int:
        result = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.PLANNED,
                OutboxMessage.expires_at.is_not(None),
                OutboxMessage.expires_at <= now,
            )
            .values(
                status=OutboxStatus.EXPIRED,
                last_error="expired before it could be sent",
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]

    def claim(self, now: datetime) -> list[int]:
        """Atomically move up to ``batch_size`` due rows to ``sending``; return their ids."""
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == OutboxStatus.PLANNED,
                OutboxMessage.due_at <= now,
                or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
            )
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        with self.factory() as session, session.begin():
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(due.scalar_subquery()))
                .where(OutboxMessage.status == OutboxStatus.PLANNED)
                .values(
                    status=OutboxStatus.SENDING,
                    claimed_by=self.worker_id[:64],
                    claimed_at=now,
                    attempts=OutboxMessage.attempts + 1,
                    updated_at=now,
                )
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            )
            return [row[0] for row in result]

    async def send_batch(self, ids: list[int], now: datetime) -> DispatchStats:
        stats = DispatchStats()
        with self.factory() as session, session.begin():
            jobs = self._prepare(session, ids, now, stats)
        semaphore = asyncio.Semaphore(self.concurrency)

        async def run(job: _Job) -> _Outcome:
            async with semaphore:
                return await self._send(job)

        # Outcomes are recorded in small groups as they arrive, not once per batch: if this
        # process dies, only the messages in flight (and the last group) are left in doubt.
        done: list[_Outcome] = []
        flushed_at = clock.monotonic()
        for next_done in asyncio.as_completed([run(job) for job in jobs]):
            done.append(await next_done)
            if len(done) >= self.record_every or clock.monotonic() - flushed_at > 1.0:
                self._record_all(done, now, stats)
                done, flushed_at = [], clock.monotonic()
        self._record_all(done, now, stats)
        return stats

    def _record_all(self, outcomes: list[_Outcome], now: datetime, stats: DispatchStats) -> None:
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
                touched = utcnow()
                session.execute(
                    _MARK_SENT,
                    [
                        {
                            "row_id": o.job.row_id,
                            "status": OutboxStatus.SENT,
                            "sent_at": now,
                            "provider_id": o.provider_id,
                            "segments": o.segments,
                            "sandbox": o.job.channel in self.sandbox,
                            "latency_ms": o.latency_ms,
                            "body": o.job.stored_body,
                            "subject": o.job.subject,
                            "last_error": None,
                            "updated_at": touched,
                        }
                        for o in sent
                    ],
                )
                stats.sent += len(sent)
            if failed:
                # One query puts the rows in the identity map; session.get then finds them there.
                session.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.id.in_([o.job.row_id for o in failed])
                    )
                ).all()
                for outcome in failed:
                    self._record_failure(session, outcome, now, stats)

    # -- preparing -------------------------------------------------------------------------

    def _prepare(
        self, session: Session, ids: list[int], now: datetime, stats: DispatchStats
    ) -> list[_Job]:
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .order_by(OutboxMessage.due_at)
            )
        )
        matches = self._matches(session, rows)
        self._preload(session, rows)
        answered = self._answered(session, rows)
        templates: _TemplateCache = {}
        # ``now`` is the same for the whole batch, so the sending window depends only on the
        # channel, the programme and the time zone: worked out once per combination.
        windows: dict[tuple[str, str, str], datetime] = {}
        secret = None
        jobs: list[_Job] = []
        for row in rows:
            if row.audience == Audience.STAFF:
                # Alerts and digests go to a staff member by id (a coordinator is not the
                # match's own staff member), and carry their own content.
                staff_job = self._prepare_staff(session, row, now, stats, templates)
                if staff_job is not None:
                    jobs.append(staff_job)
                continue
            match = matches.get(row.match_id or 0)
            if match is None:
                self._finish(row, OutboxStatus.CANCELLED, "the match no longer exists", stats)
                continue
            programme = self.programmes.get(match.programme.slug)
            recipient = resolve(match, row.audience.value, row.recipient_id)
            if programme is None or recipient is None:
                self._finish(
                    row, OutboxStatus.CANCELLED, "programme or recipient no longer exists", stats
                )
                continue
            if recipient.opted_out and not row.essential:
                self._finish(row, OutboxStatus.CANCELLED, "the recipient opted out", stats)
                continue
            if row.id in answered:
                self._finish(row, OutboxStatus.CANCELLED, "already answered", stats)
                continue
            address = recipient.addresses.get(row.channel.value)
            if address is None:
                # The address failed or was removed after planning: try the next channel.
                self._fallback(
                    session,
                    row,
                    match,
                    programme,
                    recipient,
                    now,
                    stats,
                    "address no longer usable",
                )
                self._finish(row, OutboxStatus.FAILED, "address no longer usable", stats)
                continue
            timezone = recipient.timezone or "Europe/Copenhagen"
            window = (row.channel.value, match.programme.slug, timezone)
            allowed = windows.get(window)
            if allowed is None:
                allowed = windows[window] = next_allowed(
                    now, row.channel.value, programme, ZoneInfo(timezone)
                )
            if allowed > now:
                # A retry or a fallback landed in quiet hours: wait, without using up an attempt.
                row.status = OutboxStatus.PLANNED
                row.due_at = allowed
                row.attempts = max(row.attempts - 1, 0)
                stats.deferred += 1
                continue
            survey_url = None
            secret_parts: tuple[str, ...] = ()
            if row.kind == "survey" and row.audience == Audience.CONTACT_PERSON:
                if secret is None:
                    secret = secret_for(session, self.secret)
                context = row.context or {}
                invitation, token = invitation_for(
                    session,
                    match.id,
                    row.recipient_id,
                    str(context.get("survey")),
                    str(context.get("wave")),
                    now,
                    secret,
                )
                if invitation.sent_at is None:
                    invitation.sent_at = now
                survey_url = f"{self.public_url or 'http://127.0.0.1:8000'}/s/{token}"
                secret_parts = (token,)
            unsubscribe_url = None
            if (
                row.channel == ChannelName.EMAIL
                and not row.essential
                and row.audience == Audience.CONTACT_PERSON
            ):
                # Non-essential mail to a parent carries a signed unsubscribe link (also as the
                # RFC 8058 List-Unsubscribe header); see web.inbound.
                contact = next((c for c in match.contacts if c.id == row.recipient_id), None)
                if secret is None:
                    secret = secret_for(session, self.secret)
                unsubscribe = unsubscribe_token(secret, contact) if contact is not None else None
                if unsubscribe is not None:
                    unsubscribe_url = (
                        f"{self.public_url or 'http://127.0.0.1:8000'}/u/{unsubscribe}"
                    )
                    secret_parts = (*secret_parts, unsubscribe)
            session_row = None
            session_id = (row.context or {}).get("session_id")
            if session_id:
                session_row = session.get(SparringSession, int(session_id))
            context = build_context(
                match,
                programme,
                recipient,
                row,
                session_row=session_row,
                survey_url=survey_url,
                unsubscribe_url=unsubscribe_url,
            )
            try:
                rendered = _render(
                    templates, row.template, row.channel.value, row.locale.value, context
                )
            except Exception as exc:  # a missing or broken template is a bug: never retry it
                log.exception(
                    "outbox %s: rendering %s/%s failed", row.id, row.template, row.channel.value
                )
                self._finish(
                    row, OutboxStatus.FAILED, f"rendering failed: {type(exc).__name__}", stats
                )
                raise_escalation(
                    session,
                    match,
                    "delivery_failed",
                    now=now,
                    evidence={
                        "outbox_id": row.id,
                        "touchpoint": row.touchpoint_id,
                        "error": "template",
                    },
                    suggested_action="Tell the administrator: a message template failed to render.",
                )
                continue
            buttons = (
                self.buttons(row, match)
                if self.buttons and row.channel == ChannelName.TELEGRAM
                else ()
            )
            message = OutgoingMessage(
                to=address,
                body=rendered.body,
                subject=rendered.subject,
                html=rendered.html,
                locale=row.locale.value,
                essential=row.essential,
                unsubscribe_url=unsubscribe_url,
                buttons=buttons,
                status_callback=f"{self.public_url}/twilio/status" if self.public_url else None,
                gather_action=f"{self.public_url}/twilio/gather/{row.id}"
                if self.public_url
                else None,
                reference=str(row.id),
            )
            stored = rendered.body
            for part in secret_parts:
                stored = stored.replace(part, "[link]")
            jobs.append(
                _Job(row.id, row.channel.value, message, stored, rendered.subject, secret_parts)
            )
        return jobs

    def _prepare_staff(
        self,
        session: Session,
        row: OutboxMessage,
        now: datetime,
        stats: DispatchStats,
        templates: _TemplateCache,
    ) -> _Job | None:
        staff = session.get(Staff, row.recipient_id)
        if staff is None or not staff.active:
            self._finish(row, OutboxStatus.CANCELLED, "the staff member is no longer active", stats)
            return None
        recipient = staff_recipient(staff)
        address = recipient.addresses.get(row.channel.value)
        if address is None:
            self._finish(row, OutboxStatus.CANCELLED, "no address for this channel", stats)
            return None
        secret = self.secret or secret_for(session, None)
        content = staff_content(session, row, staff, now, self.public_url, secret, self.programmes)
        if content is None:
            self._finish(row, OutboxStatus.CANCELLED, "nothing to tell any more", stats)
            return None
        try:
            rendered = _render(
                templates, row.template, row.channel.value, staff.locale.value, content.context
            )
        except Exception as exc:
            log.exception(
                "outbox %s: rendering %s/%s failed", row.id, row.template, row.channel.value
            )
            self._finish(row, OutboxStatus.FAILED, f"rendering failed: {type(exc).__name__}", stats)
            return None
        message = OutgoingMessage(
            to=address,
            body=rendered.body,
            subject=rendered.subject,
            html=rendered.html,
            locale=staff.locale.value,
            essential=True,
            buttons=content.buttons if row.channel == ChannelName.TELEGRAM else (),
            reference=str(row.id),
        )
        stored = rendered.body
        for part in content.secrets:
            stored = stored.replace(part, "[link]")
        return _Job(row.id, row.channel.value, message, stored, rendered.subject, content.secrets)

    def _matches(self, session: Session, rows: list[OutboxMessage]) -> dict[int, Match]:
        """The batch's matches with everything rendering needs, in two queries at most.

        The relations to a single row come in the same query (joined); the contact persons, a
        collection, only when a message in the batch goes to one (resolving a volunteer family
        and the template context never touch them; anything else still loads them on access).
        """
        match_ids = {r.match_id for r in rows if r.match_id}
        if not match_ids:
            return {}
        options = [
            joinedload(Match.volunteer_family),
            joinedload(Match.child),
            joinedload(Match.staff),
            joinedload(Match.programme),
        ]
        if any(r.audience == Audience.CONTACT_PERSON for r in rows):
            options.append(selectinload(Match.contacts))
        query = select(Match).where(Match.id.in_(match_ids)).options(*options)
        return {m.id: m for m in session.scalars(query)}

    def _preload(self, session: Session, rows: list[OutboxMessage]) -> None:
        """Load the staff members and sparring sessions the batch refers to, one query each.

        The loop in :meth:`_prepare` then finds them with ``session.get`` in the identity map
        instead of querying once per message.
        """
        staff_ids = {r.recipient_id for r in rows if r.audience == Audience.STAFF}
        if staff_ids:
            session.scalars(select(Staff).where(Staff.id.in_(staff_ids))).all()
        session_ids: set[int] = set()
        for row in rows:
            session_id = (row.context or {}).get("session_id")
            if session_id:
                # A malformed id is left to the loop in _prepare, which fails on it as before.
                with contextlib.suppress(TypeError, ValueError):
                    session_ids.add(int(session_id))
        if session_ids:
            session.scalars(
                select(SparringSession).where(SparringSession.id.in_(session_ids))
            ).all()

    def _answered(self, session: Session, rows: list[OutboxMessage]) -> set[int]:
        """The ids of prompts and reminders whose question was answered meanwhile: not sent.

        Checked for the whole batch with one query per kind instead of one per message.
        """
        answered: set[int] = set()
        prompts: dict[int, tuple[int | None, date]] = {}
        reminders: dict[int, tuple[int | None, int, str, str]] = {}
        for row in rows:
            if row.kind == "visit_prompt":
                day = row.occurrence_key.split(":", 1)[0]
                try:
                    prompts[row.id] = (row.match_id, date.fromisoformat(day))
                except ValueError:
                    continue
            elif row.kind == "survey" and int((row.context or {}).get("reminder", 0)) > 0:
                context = row.context or {}
                reminders[row.id] = (
                    row.match_id,
                    row.recipient_id,
                    str(context.get("survey")),
                    str(context.get("wave")),
                )
        if prompts:
            match_ids = {m for m, _ in prompts.values() if m is not None}
            reported: set[tuple[int | None, date]] = {
                (visit_match, planned)
                for visit_match, planned in session.execute(
                    select(Visit.match_id, Visit.planned_date).where(
                        Visit.match_id.in_(match_ids),
                        Visit.planned_date.in_({d for _, d in prompts.values()}),
                    )
                )
            }
            answered.update(row_id for row_id, key in prompts.items() if key in reported)
        if reminders:
            match_ids = {key[0] for key in reminders.values() if key[0] is not None}
            completed: set[tuple[int | None, int | None, str, str]] = {
                (invited_match, contact, survey, wave)
                for invited_match, contact, survey, wave in session.execute(
                    select(
                        SurveyInvitation.match_id,
                        SurveyInvitation.contact_person_id,
                        SurveyInvitation.survey_id,
                        SurveyInvitation.wave,
                    ).where(
                        SurveyInvitation.match_id.in_(match_ids),
                        SurveyInvitation.completed_at.is_not(None),
                    )
                )
            }
            answered.update(row_id for row_id, key in reminders.items() if key in completed)
        return answered

    # -- sending ---------------------------------------------------------------------------

    async def _send(self, job: _Job) -> _Outcome:
        channel = self.channels.get(job.channel)
        started = clock.perf_counter()
        if channel is None:
            error = ChannelError(
                f"channel {job.channel} is not configured", permanent=True, code="not_configured"
            )
            return _Outcome(job, error=error)
        attempt_began = datetime.now(UTC)
        try:
            result = await channel.send(job.message)
        except ChannelError as exc:
            latency = int((clock.perf_counter() - started) * 1000)
            if exc.code in AMBIGUOUS:
                return await self._reconcile(channel, job, exc, attempt_began, latency)
            return _Outcome(job, error=exc, latency_ms=latency)
        except Exception as exc:  # an unexpected failure: transient, and logged with its type only
            log.exception("outbox %s: channel %s raised", job.row_id, job.channel)
            return _Outcome(
                job,
                error=ChannelError(f"unexpected {type(exc).__name__}", permanent=False),
                latency_ms=int((clock.perf_counter() - started) * 1000),
            )
        return _Outcome(
            job,
            result.provider_id,
            result.segments,
            latency_ms=int((clock.perf_counter() - started) * 1000),
        )

    async def _reconcile(
        self, channel: Channel, job: _Job, error: ChannelError, since: datetime, latency: int
    ) -> _Outcome:
        """Ask the provider whether a timed-out message went out before deciding to retry.

        A channel that cannot be asked leaves the message in doubt: staff decide, we never
        resend blindly.
        """
        find = getattr(channel, "find", None)
        if find is None:
            return _Outcome(job, error=error, latency_ms=latency, in_doubt=True)
        try:
            found = await find(job.message, since)
        except ChannelError:
            return _Outcome(job, error=error, latency_ms=latency, in_doubt=True)
        if found is not None:
            return _Outcome(job, found.provider_id, found.segments, latency_ms=latency)
        return _Outcome(job, error=error, latency_ms=latency)  # not sent: safe to retry

    # -- recording -------------------------------------------------------------------------

    def _record_failure(
        self, session: Session, outcome: _Outcome, now: datetime, stats: DispatchStats
    ) -> None:
        """A message that was not (or perhaps not) sent: retry, give up, fall back, tell staff."""
        row = session.get(OutboxMessage, outcome.job.row_id)
        if row is None or outcome.error is None:
            return
        row.latency_ms = outcome.latency_ms
        row.body = outcome.job.stored_body
        row.subject = outcome.job.subject
        error = outcome.error
        row.last_error = str(error)[:500]
        match = session.get(Match, row.match_id) if row.match_id else None
        if outcome.in_doubt:
            row.status = OutboxStatus.UNKNOWN
            stats.unknown += 1
            raise_escalation(
                session,
                match,
                "delivery_unknown",
                now=now,
                evidence={
                    "outbox_id": row.id,
                    "touchpoint": row.touchpoint_id,
                    "channel": row.channel.value,
                    "code": error.code,
                },
                suggested_action="Check with the recipient whether the message arrived; resend by hand if not.",
            )
            return
        if not error.permanent and row.attempts < self.max_attempts:
            row.status = OutboxStatus.PLANNED
            row.next_attempt_at = now + self._backoff(row.attempts, error.retry_after)
            stats.retried += 1
            return
        self._finish(row, OutboxStatus.FAILED, row.last_error, stats)
        if match is None:
            return
        programme = self.programmes.get(match.programme.slug)
        recipient = resolve(match, row.audience.value, row.recipient_id)
        rule = "delivery_failed"
        if error.permanent:
            self._mark_address(session, row)
            if row.channel == ChannelName.TELEGRAM and row.audience == Audience.VOLUNTEER_FAMILY:
                rule = "bot_blocked"
            recipient = resolve(match, row.audience.value, row.recipient_id)
            if programme is not None and recipient is not None:
                self._fallback(session, row, match, programme, recipient, now, stats, str(error))
        raise_escalation(
            session,
            match,
            rule,
            now=now,
            severity=Severity.NORMAL,
            evidence={
                "outbox_id": row.id,
                "touchpoint": row.touchpoint_id,
                "channel": row.channel.value,
                "code": error.code,
                "permanent": error.permanent,
                "attempts": row.attempts,
            },
            suggested_action="Check the contact details with the family and correct them.",
        )

    def _backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        base = min(30 * 2 ** max(attempts - 1, 0), 3600)
        seconds = base * self.rng.uniform(0.8, 1.2)
        if retry_after is not None:
            seconds = max(seconds, retry_after)
        return timedelta(seconds=seconds)

    def _finish(
        self, row: OutboxMessage, status: OutboxStatus, reason: str | None, stats: DispatchStats
    ) -> None:
        row.status = status
        row.last_error = reason[:500] if reason else None
        if status == OutboxStatus.FAILED:
            stats.failed += 1
        elif status == OutboxStatus.CANCELLED:
            stats.cancelled += 1

    def _mark_address(self, session: Session, row: OutboxMessage) -> None:
        mark_address_failed(session, row)

    def _fallback(
        self,
        session: Session,
        row: OutboxMessage,
        match: Match,
        programme: Programme,
        recipient: Recipient,
        now: datetime,
        stats: DispatchStats,
        reason: str,
    ) -> None:
        """Queue the same message on the recipient's next usable channel."""
        if ":fb-" in row.idempotency_key and row.idempotency_key.count(":fb-") >= 3:
            return
        try:
            touchpoint = programme.touchpoint(row.touchpoint_id)
            channels = [str(c) for c in touchpoint.channels]
        except KeyError:
            channels = []
        for extra in ("telegram", "sms", "email"):
            if extra not in channels and row.kind in {"message"} and row.essential:
                channels.append(extra)
        channel = recipient.choose(channels, exclude=(row.channel.value,))
        if channel is None:
            return
        zone = ZoneInfo(recipient.timezone or "Europe/Copenhagen")
        inserted = insert_ignore(
            session,
            OutboxMessage,
            [
                {
                    "idempotency_key": f"{row.idempotency_key}:fb-{channel}"[:200],
                    "match_id": row.match_id,
                    "touchpoint_id": row.touchpoint_id,
                    "occurrence_key": row.occurrence_key,
                    "kind": row.kind,
                    "template": row.template,
                    "audience": row.audience,
                    "recipient_id": row.recipient_id,
                    "channel": channel,
                    "locale": row.locale,
                    "essential": row.essential,
                    "due_at": next_allowed(now, channel, programme, zone),
                    "expires_at": row.expires_at,
                    "status": OutboxStatus.PLANNED,
                    "plan_version": row.plan_version,
                    "context": row.context,
                    "last_error": f"fallback after {row.channel.value}: {reason}"[:500],
                }
            ],
            "idempotency_key",
        )
        stats.fallbacks += inserted


def mark_address_failed(session: Session, row: OutboxMessage) -> None:
    """A permanent failure: stop using this address until someone corrects it."""
    person: VolunteerFamily | ContactPerson | None = None
    if row.audience == Audience.VOLUNTEER_FAMILY:
        person = session.get(VolunteerFamily, row.recipient_id)
    elif row.audience == Audience.CONTACT_PERSON:
        person = session.get(ContactPerson, row.recipient_id)
    if person is None:
        return
    if row.channel in (ChannelName.SMS, ChannelName.VOICE):
        person.phone_failed = True
    elif row.channel == ChannelName.EMAIL:
        person.email_failed = True
    elif row.channel == ChannelName.TELEGRAM and isinstance(person, VolunteerFamily):
        person.telegram_blocked = True
    if row.match_id is not None:
        match = session.get(Match, row.match_id)
        if match is not None:
            match.plan_version += 1  # re-plan pending messages onto a channel that works


def summary(stats: DispatchStats) -> dict[str, Any]:
    return {k: v for k, v in stats.__dict__.items() if v}
