"""Preparing a claimed batch for sending: each row checked against current data, rendered, and
turned into a :class:`~scheduler.outcomes.Job`; rows that must not go are cancelled, failed or
deferred (through :mod:`scheduler.outbox`).

A claimed batch is prepared with a fixed handful of queries (rows, matches with their people,
answered prompts, staff members, sparring sessions) and each template is looked up once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler import outbox, waiting_notes
from scheduler.channels.base import Attachment, Button, OutgoingMessage
from scheduler.context import build_context
from scheduler.hooks import EngineHooks
from scheduler.i18n import N_
from scheduler.links import secret_for, unsubscribe_token
from scheduler.message_parts import LOCAL_URL, MOMENT, NEVER, PreparingBatch, aware
from scheduler.outcomes import DispatchStats, Job, fallback
from scheduler.prepare_batch import answered_prompts, batch_matches, preload, prompt_key, prompts_of
from scheduler.programme import Programme
from scheduler.recipients import Recipient, resolve, staff_recipient
from scheduler.render import Rendered
from scheduler.retry import is_database_down
from scheduler.rules import next_allowed
from scheduler.timeline import localize
from store.models import (
    Audience,
    Match,
    OutboxMessage,
    OutboxStatus,
    SparringSession,
    Staff,
)
from store.models import (
    Channel as ChannelName,
)

log = logging.getLogger(__name__)


class Preparer(PreparingBatch):
    """Prepares one claimed batch: each row checked, rendered and made a job."""

    def jobs(self, ids: list[int]) -> list[Job]:
        session = self.session
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .order_by(OutboxMessage.due_at)
            )
        )
        matches = batch_matches(session, rows)
        preload(session, rows)
        answered = answered_prompts(session, rows)
        self.prompts = prompts_of(session, rows)
        jobs: list[Job] = []
        for row in rows:
            try:
                if row.kind == waiting_notes.KIND:
                    job = self._waiting_job(row)
                elif row.audience == Audience.STAFF:
                    # Alerts and digests go to a staff member by id (a coordinator is not the
                    # match's own staff member), and carry their own content.
                    job = self._staff_job(row)
                else:
                    job = self._job(row, matches.get(row.match_id or 0), row.id in answered)
            except Exception as exc:
                if is_database_down(exc):
                    raise
                # One broken message never stops the others (logged by its type only).
                log.warning("outbox %s: preparing failed (%s)", row.id, type(exc).__name__)
                self.stats.fail(row, f"preparing failed: {type(exc).__name__}")
                continue
            if job is not None:
                jobs.append(job)
        return jobs

    def _job(self, row: OutboxMessage, match: Match | None, answered: bool) -> Job | None:
        stats = self.stats
        if match is None:
            stats.cancel(row, N_("the match no longer exists"))
            return None
        programme = self.programmes.get(match.programme.slug)
        recipient = resolve(match, row.audience.value, row.recipient_id)
        if programme is None or recipient is None:
            stats.cancel(row, N_("programme or recipient no longer exists"))
            return None
        if recipient.opted_out and not row.essential:
            stats.cancel(row, N_("the recipient opted out"))
            return None
        if answered:
            stats.cancel(row, N_("already answered"))
            return None
        after_prompt = self._after_prompt(row, programme, recipient)
        if after_prompt is NEVER:
            stats.cancel(row, N_("its prompt was never sent"))
            return None
        if after_prompt is not None and after_prompt > self.now:
            # The prompt went out late (held by a holiday) or is going out now: the reminder
            # keeps its interval after the prompt, never in the same tick.
            outbox.defer(row, after_prompt)
            stats.deferred += 1
            return None
        address = recipient.addresses.get(row.channel.value)
        if address is None:
            # The address failed or was removed after planning: try the next channel.
            reason = N_("address no longer usable")
            fallback(self.session, row, programme, recipient, self.now, stats, reason)
            stats.fail(row, reason)
            return None
        allowed = self._allowed(row, match, programme, recipient)
        if allowed > self.now:
            # A retry or a fallback landed in quiet hours: wait, without using up an attempt.
            outbox.defer(row, allowed)
            stats.deferred += 1
            return None
        return self._render_job(row, match, programme, recipient, address)

    def _after_prompt(
        self, row: OutboxMessage, programme: Programme, recipient: Recipient
    ) -> datetime | None:
        """For a reminder, the earliest moment it may go: its interval after its prompt was
        sent (or will be, while the prompt still waits); ``NEVER`` when the prompt expired,
        failed or was cancelled. None for a message that is no reminder."""
        key = prompt_key(row)
        if key is None:
            return None
        try:
            number = int((row.context or {}).get("reminder") or 0)
            after = programme.touchpoint(row.touchpoint_id).reminders[number - 1].after
        except (KeyError, IndexError, ValueError):
            return None
        prompts = self.prompts.get(key, [])
        if not prompts:
            return None
        sent = [at for _, at, _ in prompts if at is not None]
        waiting = [
            max(due, self.now)
            for status, at, due in prompts
            if status in (OutboxStatus.PLANNED, OutboxStatus.SENDING) and at is None
        ]
        if not sent and not waiting:
            return NEVER
        zone = ZoneInfo(recipient.timezone)
        prompted = max(aware(m) for m in (sent or waiting)).astimezone(zone)
        return localize(after.add(prompted.replace(tzinfo=None)), zone).astimezone(UTC)

    def _allowed(
        self, row: OutboxMessage, match: Match, programme: Programme, recipient: Recipient
    ) -> datetime:
        timezone = recipient.timezone
        window = (row.channel.value, match.programme.slug, timezone)
        allowed = self.windows.get(window)
        if allowed is None:
            allowed = self.windows[window] = next_allowed(
                self.now, row.channel.value, programme, ZoneInfo(timezone)
            )
        return allowed

    def _render_job(
        self,
        row: OutboxMessage,
        match: Match,
        programme: Programme,
        recipient: Recipient,
        address: str,
    ) -> Job | None:
        survey_url, secret_parts = self._survey_link(row, match)
        unsubscribe_url, unsubscribe = self._unsubscribe_link(row, match)
        if unsubscribe is not None:
            secret_parts = (*secret_parts, unsubscribe)
        moment = None
        if row.kind == MOMENT:
            moment = self._moment(row, match)
            if moment is None:
                self.stats.cancel(row, N_("the greeting was erased or has nothing left to send"))
                return None
            secret_parts = (*secret_parts, *moment.secrets)
        session_row = None
        session_id = (row.context or {}).get("session_id")
        if session_id:
            session_row = self.session.get(SparringSession, int(session_id))
        context = build_context(
            match,
            programme,
            recipient,
            row,
            session_row=session_row,
            survey_url=survey_url,
            unsubscribe_url=unsubscribe_url,
            now=self.now,
        )
        if moment is not None:
            context["moment"] = moment.context
        try:
            rendered = self.render(row, row.locale.value, context)
            if moment is not None and row.channel == ChannelName.SMS:
                rendered = self._fit_sms(row, context, rendered, moment)
        except Exception as exc:  # a missing or broken template is a bug: never retry it
            self._render_failed(row, exc)
            self.hooks.report(
                self.session,
                match,
                "delivery_failed",
                now=self.now,
                evidence={
                    "outbox_id": row.id,
                    "touchpoint": row.touchpoint_id,
                    "error": "template",
                },
                suggested_action=N_("Tell the administrator: a message template failed to render."),
            )
            return None
        telegram = row.channel == ChannelName.TELEGRAM
        buttons = self.buttons(row, match) if self.buttons and telegram else ()
        attachments = moment.attachments if moment is not None else ()
        return self._outgoing(
            row, address, rendered, unsubscribe_url, secret_parts, buttons, attachments
        )

    def _outgoing(
        self,
        row: OutboxMessage,
        address: str,
        rendered: Rendered,
        unsubscribe_url: str | None,
        secret_parts: tuple[str, ...],
        buttons: tuple[tuple[Button, ...], ...] = (),
        attachments: tuple[Attachment, ...] = (),
    ) -> Job:
        """The message to a family or a parent as rendered (or as a staff member wrote it)."""
        edited = outbox.staff_text(row)
        if edited is not None:
            # A staff member wrote this message's text themselves: sent as written.
            rendered = Rendered(body=edited, subject=rendered.subject, html=None)
        public = self.public_url
        message = OutgoingMessage(
            to=address,
            body=rendered.body,
            subject=rendered.subject,
            html=rendered.html,
            locale=row.locale.value,
            essential=row.essential,
            unsubscribe_url=unsubscribe_url,
            buttons=buttons,
            status_callback=f"{public}/twilio/status" if public else None,
            gather_action=f"{public}/twilio/gather/{row.id}" if public else None,
            reference=str(row.id),
            attachments=attachments,
        )
        return _job(row, message, rendered, secret_parts)

    def _render_failed(self, row: OutboxMessage, exc: Exception) -> None:
        log.exception("outbox %s: rendering %s/%s failed", row.id, row.template, row.channel.value)
        self.stats.fail(row, f"rendering failed: {type(exc).__name__}")

    def _waiting_job(self, row: OutboxMessage) -> Job | None:
        """A note to a volunteer family or a referred child's parent waiting for a match."""
        stats = self.stats
        party = waiting_notes.recipient_for(self.session, row, self.programmes)
        if isinstance(party, str):
            stats.cancel(row, party)
            return None
        recipient = party.recipient
        if recipient.opted_out:
            stats.cancel(row, N_("the recipient opted out"))
            return None
        address = recipient.addresses.get(row.channel.value)
        if address is None:
            channel = recipient.choose(party.channels, exclude=(row.channel.value,))
            if channel is not None:
                due = next_allowed(self.now, channel, party.programme, ZoneInfo(recipient.timezone))
                reason = N_("address no longer usable")
                stats.fallbacks += outbox.queue_fallback(self.session, row, channel, due, reason)
            stats.fail(row, N_("address no longer usable"))
            return None
        allowed = next_allowed(
            self.now, row.channel.value, party.programme, ZoneInfo(recipient.timezone)
        )
        if allowed > self.now:
            outbox.defer(row, allowed)
            stats.deferred += 1
            return None
        unsubscribe_url, unsubscribe = None, None
        if row.channel == ChannelName.EMAIL and party.contact is not None:
            unsubscribe = unsubscribe_token(self.signing_secret(), party.contact)
            if unsubscribe is not None:
                unsubscribe_url = f"{self.public_url or LOCAL_URL}/u/{unsubscribe}"
        context = waiting_notes.note_context(party, self.now, unsubscribe_url)
        try:
            rendered = self.render(row, row.locale.value, context)
        except Exception as exc:  # a broken template is a bug: never retry it
            self._render_failed(row, exc)
            return None
        secrets = (unsubscribe,) if unsubscribe else ()
        return self._outgoing(row, address, rendered, unsubscribe_url, secrets)

    def _staff_job(self, row: OutboxMessage) -> Job | None:
        session, stats = self.session, self.stats
        staff = session.get(Staff, row.recipient_id)
        if staff is None or not staff.active:
            stats.cancel(row, N_("the staff member is no longer active"))
            return None
        address = staff_recipient(staff).addresses.get(row.channel.value)
        if address is None:
            stats.cancel(row, N_("no address for this channel"))
            return None
        secret = self.secret or secret_for(session, None)
        content = self.hooks.staff_content(session, row, staff, self.now, secret)
        if content is None:
            stats.cancel(row, N_("nothing to tell any more"))
            return None
        try:
            rendered = self.render(row, staff.locale.value, content.context)
        except Exception as exc:
            self._render_failed(row, exc)
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
        return _job(row, message, rendered, content.secrets)


def _job(
    row: OutboxMessage, message: OutgoingMessage, rendered: Rendered, secrets: tuple[str, ...]
) -> Job:
    """The job, with the text as stored: without the links' secret parts."""
    stored = rendered.body
    for part in secrets:
        stored = stored.replace(part, "[link]")
    return Job(row.id, row.channel.value, message, stored, rendered.subject, secrets)


def preview(
    session: Session,
    row: OutboxMessage,
    programmes: Mapping[str, Programme],
    hooks: EngineHooks,
    now: datetime,
    public_url: str | None,
) -> OutgoingMessage | None:
    """What the message would say if it were sent now, with its real links (a survey
    invitation's own). It may create the survey invitation the first send would create: the
    caller rolls the session back, so nothing is written. None when it could not go at all."""
    if row.audience == Audience.STAFF:
        return None
    match = batch_matches(session, [row]).get(row.match_id or 0)
    if match is None:
        return None
    programme = programmes.get(match.programme.slug)
    recipient = resolve(match, row.audience.value, row.recipient_id)
    if programme is None or recipient is None:
        return None
    preparer = Preparer(session, now, DispatchStats(), programmes, hooks, public_url=public_url)
    address = recipient.addresses.get(row.channel.value) or ""
    job = preparer._render_job(row, match, programme, recipient, address)
    return job.message if job is not None else None
