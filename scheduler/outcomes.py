"""What the dispatcher does with a message that was not sent: retry it, give up on it, mark the
address, fall back to the recipient's next channel, tell staff.

The rows' statuses are changed by :mod:`scheduler.outbox`; this module decides which.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from scheduler import outbox
from scheduler.channels.base import ChannelError, OutgoingMessage
from scheduler.channels.errors import BODY_REFUSED
from scheduler.hooks import EngineHooks
from scheduler.i18n import N_
from scheduler.programme import ChannelName as TouchpointChannel
from scheduler.programme import Programme
from scheduler.recipients import Recipient, resolve
from scheduler.retry import DEFAULT_POLICY, RetryPolicy, RetrySpec, policy_for
from scheduler.rules import next_allowed
from scheduler.sms import segments as count_segments
from store.models import (
    Audience,
    ContactPerson,
    Match,
    OutboxMessage,
    Severity,
    VolunteerFamily,
)
from store.models import (
    Channel as ChannelName,
)

LAST_TRY = timedelta(minutes=1)
EXPIRED_RULE = "delivery_expired"
EXPIRED_ACTION = N_(
    "Contact the families listed: their messages expired before they could be sent."
)
CHECK_ARRIVAL = N_("Check with the recipient whether the message arrived; resend by hand if not.")


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

    def cancel(self, row: OutboxMessage, reason: str) -> None:
        outbox.cancel(row, reason)
        self.cancelled += 1

    def fail(self, row: OutboxMessage, reason: str | None) -> None:
        outbox.fail(row, reason)
        self.failed += 1


def summary(stats: DispatchStats) -> dict[str, Any]:
    return {k: v for k, v in stats.__dict__.items() if v}


@dataclass
class Job:
    row_id: int
    channel: str
    message: OutgoingMessage
    stored_body: str
    subject: str | None
    secret_parts: tuple[str, ...] = ()

    def rate_units(self) -> int:
        """What a lane's rate counts: SMS segments, or one per message elsewhere."""
        if self.channel == "sms":
            return max(1, count_segments(self.message.body).segments)
        return 1


@dataclass
class Outcome:
    job: Job
    provider_id: str | None = None
    segments: int | None = None
    error: ChannelError | None = None
    latency_ms: int = 0
    in_doubt: bool = False  # the provider may or may not have sent it


@dataclass
class Recorder:
    """Records the failures of one group of outcomes (see ``Dispatcher._record_all``)."""

    programmes: Mapping[str, Programme]
    hooks: EngineHooks
    policies: Mapping[str, RetryPolicy] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)

    def failure(
        self, session: Session, outcome: Outcome, now: datetime, stats: DispatchStats
    ) -> None:
        """A message that was not (or perhaps not) sent: retry, give up, fall back, tell staff."""
        row = session.get(OutboxMessage, outcome.job.row_id)
        if row is None or outcome.error is None:
            return
        row.latency_ms = outcome.latency_ms
        row.body = outcome.job.stored_body
        row.subject = outcome.job.subject
        error = outcome.error
        reason = str(error)[:500]
        row.last_error = reason
        match = session.get(Match, row.match_id) if row.match_id else None
        if outcome.in_doubt:
            outbox.mark_unknown(row, reason)
            stats.unknown += 1
            evidence = {**_evidence(row), "code": error.code}
            self.hooks.report(
                session,
                match,
                "delivery_unknown",
                now=now,
                evidence=evidence,
                suggested_action=CHECK_ARRIVAL,
            )
            return
        if error.code == BODY_REFUSED:
            self._body_refused(session, row, match, now, stats, reason)
            return
        if not error.permanent:
            policy = self.policy(row, match)
            at = now + policy.backoff(row.attempts, self.rng, error.retry_after)
            # A last try shortly before the expiry rather than none when the wait overshoots.
            at = min(at, policy.deadline(row.due_at, row.expires_at) - LAST_TRY)
            if at > now:
                outbox.retry(row, at)
                stats.retried += 1
                return
            # Retried until its expiry: too late now. Staff hear of an essential one.
            outbox.expire(row, f"not sent before it expired; last error: {reason}")
            stats.expired += 1
            report_expired(session, self.hooks, row, error, now)
            return
        stats.fail(row, reason)
        if match is not None:
            self._given_up(session, row, match, error, now, stats)

    def _body_refused(
        self,
        session: Session,
        row: OutboxMessage,
        match: Match | None,
        now: datetime,
        stats: DispatchStats,
        reason: str,
    ) -> None:
        """The channel refused this text, shortened too: the same text would fail again, but
        the address is fine. Give up on this row and send it on the recipient's next channel
        (a staff alert has its email copy already)."""
        stats.fail(row, reason)
        programme = self.programmes.get(match.programme.slug) if match is not None else None
        recipient = resolve(match, row.audience.value, row.recipient_id) if match else None
        if programme is not None and recipient is not None:
            fallback(session, row, programme, recipient, now, stats, reason)

    def policy(self, row: OutboxMessage, match: Match | None) -> RetryPolicy:
        """The row's channel's policy, as its programme and touchpoint change it."""
        channel = row.channel.value
        base = self.policies.get(channel, DEFAULT_POLICY)
        programme = self.programmes.get(match.programme.slug) if match is not None else None
        if programme is None:
            return base
        spec: RetrySpec | None = None
        with contextlib.suppress(KeyError):  # a touchpoint since removed: the channel's policy
            spec = programme.touchpoint(row.touchpoint_id).retry
        return policy_for(base, programme.retry.get(TouchpointChannel(channel)), spec)

    def _given_up(
        self,
        session: Session,
        row: OutboxMessage,
        match: Match,
        error: ChannelError,
        now: datetime,
        stats: DispatchStats,
    ) -> None:
        rule = "delivery_failed"
        if error.permanent:
            mark_address_failed(session, row)
            if row.channel == ChannelName.TELEGRAM and row.audience == Audience.VOLUNTEER_FAMILY:
                rule = "bot_blocked"
            programme = self.programmes.get(match.programme.slug)
            recipient = resolve(match, row.audience.value, row.recipient_id)
            if programme is not None and recipient is not None:
                fallback(session, row, programme, recipient, now, stats, str(error))
        self._report(session, row, match, rule, error, now)

    def _report(
        self,
        session: Session,
        row: OutboxMessage,
        match: Match,
        rule: str,
        error: ChannelError,
        now: datetime,
    ) -> None:
        self.hooks.report(
            session,
            match,
            rule,
            now=now,
            severity=Severity.NORMAL,
            evidence={
                **_evidence(row),
                "code": error.code,
                "permanent": error.permanent,
                "attempts": row.attempts,
            },
            suggested_action=N_("Check the contact details with the family and correct them."),
        )


def _evidence(row: OutboxMessage) -> dict[str, Any]:
    return {"outbox_id": row.id, "touchpoint": row.touchpoint_id, "channel": row.channel.value}


def report_expired(
    session: Session,
    hooks: EngineHooks,
    row: OutboxMessage,
    error: ChannelError | None,
    now: datetime,
) -> None:
    """Tell staff of an essential message that expired unsent. The rule is one the domain
    groups: one case per staff member lists every match (an hour-long outage is one alert)."""
    match = session.get(Match, row.match_id) if row.essential and row.match_id else None
    if match is None:
        return
    evidence = {**_evidence(row), "code": error.code if error else None, "attempts": row.attempts}
    hooks.report(
        session,
        match,
        EXPIRED_RULE,
        now=now,
        evidence=evidence,
        suggested_action=EXPIRED_ACTION,
    )


def report_in_doubt(
    session: Session, hooks: EngineHooks, row: OutboxMessage, now: datetime
) -> None:
    """Tell staff of a row whose sending process stopped mid-send."""
    match = session.get(Match, row.match_id) if row.match_id else None
    hooks.report(
        session,
        match,
        "delivery_unknown",
        now=now,
        evidence=_evidence(row),
        suggested_action=CHECK_ARRIVAL,
    )


def fallback(
    session: Session,
    row: OutboxMessage,
    programme: Programme,
    recipient: Recipient,
    now: datetime,
    stats: DispatchStats,
    reason: str,
) -> None:
    """Queue the same message on the recipient's next usable channel."""
    if outbox.fallbacks_in(row.idempotency_key) >= outbox.MAX_FALLBACKS:
        return
    try:
        touchpoint = programme.touchpoint(row.touchpoint_id)
        channels = [str(c) for c in touchpoint.channels]
    except KeyError:
        # Not a programme's touchpoint: a volunteer family's moment goes by SMS or email.
        channels = ["sms", "email"] if row.kind == "moment" else []
    for extra in ("telegram", "sms", "email"):
        if extra not in channels and row.kind in {"message"} and row.essential:
            channels.append(extra)
    channel = recipient.choose(channels, exclude=(row.channel.value,))
    if channel is None:
        return
    zone = ZoneInfo(recipient.timezone)
    due = next_allowed(now, channel, programme, zone)
    stats.fallbacks += outbox.queue_fallback(session, row, channel, due, reason)


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
