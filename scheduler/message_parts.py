"""What every prepared message may be made of beyond its template, for :mod:`scheduler.prepare`:
the batch's state (session, clock, templates found once, sending windows), a greeting's photo
and text, an SMS fitted to its segments, and the survey and unsubscribe links."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler import sms
from scheduler.channels.base import Attachment, Button
from scheduler.hooks import EngineHooks
from scheduler.links import invitation_for, moment_token, secret_for, unsubscribe_token
from scheduler.outcomes import DispatchStats
from scheduler.programme import Programme
from scheduler.render import Rendered, Templates, load, render_loaded
from store.models import (
    Audience,
    Match,
    Moment,
    OutboxMessage,
)
from store.models import (
    Channel as ChannelName,
)

log = logging.getLogger(__name__)


NEVER = datetime.min.replace(tzinfo=UTC)


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


ButtonsHook = Callable[[OutboxMessage, Match], tuple[tuple[Button, ...], ...]]
LOCAL_URL = "http://127.0.0.1:8000"
MOMENT = "moment"  # a volunteer family's greeting to the parent (followup.moments)


@dataclass(frozen=True)
class MomentParts:
    """What a greeting adds to its message: the template's ``moment``, the photo as an email
    attachment, and the link's token (stored as ``[link]``)."""

    text: str
    url: str | None
    context: dict[str, Any]
    secrets: tuple[str, ...]
    attachments: tuple[Attachment, ...]

    @classmethod
    def of(
        cls,
        text: str,
        photo: bool,
        url: str | None,
        secrets: tuple[str, ...],
        attachments: tuple[Attachment, ...],
    ) -> MomentParts:
        shown = {"text": text, "excerpt": text, "photo": photo, "url": url if photo else None}
        return cls(text, url, {**shown, "cut": False}, secrets, attachments)


@dataclass
class PreparingBatch:
    """One claimed batch being prepared in one session; ``now`` is the same for the whole batch.
    :class:`scheduler.prepare.Preparer` turns its rows into jobs."""

    session: Session
    now: datetime
    stats: DispatchStats
    programmes: Mapping[str, Programme]
    hooks: EngineHooks
    public_url: str | None = None
    secret: str | None = None
    buttons: ButtonsHook | None = None
    templates: dict[tuple[str, str, str], Templates] = field(default_factory=dict)
    # The sending window depends only on the channel, the programme and the time zone.
    windows: dict[tuple[str, str, str], datetime] = field(default_factory=dict)
    # The prompts the batch's reminders follow (scheduler.prepare_batch.prompts_of).
    prompts: dict[Any, list[Any]] = field(default_factory=dict)
    _signing: str | None = None

    def render(self, row: OutboxMessage, locale: str, context: Mapping[str, Any]) -> Rendered:
        """Render with the templates found once per batch (a lookup that fails is not cached)."""
        key = (row.template, row.channel.value, locale)
        found = self.templates.get(key)
        if found is None:
            found = self.templates[key] = load(*key)
        return render_loaded(found, context)

    def signing_secret(self) -> str:
        if self._signing is None:
            self._signing = secret_for(self.session, self.secret)
        return self._signing

    def _moment(self, row: OutboxMessage, match: Match) -> MomentParts | None:
        """A volunteer family's greeting as this recipient gets it now: the photo only while
        it is kept and the contact's consent stands; None when nothing is left to send."""
        extra = row.context or {}
        try:
            moment = self.session.get(Moment, int(extra.get("moment_id") or 0))
        except (TypeError, ValueError):
            return None
        if moment is None or moment.match_id != match.id or moment.sent_at is None:
            return None
        contact = next((c for c in match.contacts if c.id == row.recipient_id), None)
        photo = (
            bool(extra.get("photo"))
            and moment.photo_type is not None
            and contact is not None
            and contact.photo_consent_on is not None
        )
        text = moment.text or ""
        if not photo and not text:
            return None
        url: str | None = None
        secrets: tuple[str, ...] = ()
        if row.channel == ChannelName.SMS:
            token = moment_token(self.signing_secret(), moment.id, row.recipient_id)
            url, secrets = f"{self.public_url or LOCAL_URL}/m/{token}", (token,)
        attachments: tuple[Attachment, ...] = ()
        if photo and row.channel == ChannelName.EMAIL and moment.photo_type is not None:
            data = self.session.scalar(select(Moment.photo).where(Moment.id == moment.id))
            if data is None:
                return None if not text else MomentParts.of(text, False, None, (), ())
            ending = "png" if moment.photo_type == "image/png" else "jpg"
            attachments = (Attachment(f"hilsen-{moment.id}.{ending}", moment.photo_type, data),)
        return MomentParts.of(text, photo, url, secrets, attachments)

    def _fit_sms(
        self, row: OutboxMessage, context: dict[str, Any], rendered: Rendered, parts: MomentParts
    ) -> Rendered:
        """A greeting by SMS stays within two segments: the family's text is cut (at a word
        where it can be) and the link to the whole greeting is added."""
        if sms.segments(rendered.body).segments <= sms.MAX_SEGMENTS:
            return rendered
        shown = context["moment"]
        shown.update(url=parts.url, cut=True)
        size = len(parts.text)
        while size > 0:
            size = size * 4 // 5
            cut = parts.text[:size]
            if " " in cut[size // 2 :]:
                cut = cut.rsplit(" ", 1)[0]
            shown["excerpt"] = cut.rstrip() + "…" if cut.strip() else ""
            rendered = self.render(row, row.locale.value, context)
            if sms.segments(rendered.body).segments <= sms.MAX_SEGMENTS:
                return rendered
        shown["excerpt"] = ""
        return self.render(row, row.locale.value, context)

    def _survey_link(self, row: OutboxMessage, match: Match) -> tuple[str | None, tuple[str, ...]]:
        if row.kind != "survey" or row.audience not in (
            Audience.CONTACT_PERSON,
            Audience.VOLUNTEER_FAMILY,
        ):
            return None, ()
        context = row.context or {}
        family = row.audience == Audience.VOLUNTEER_FAMILY
        invitation, token = invitation_for(
            self.session,
            match.id,
            None if family else row.recipient_id,
            str(context.get("survey")),
            str(context.get("wave")),
            self.now,
            self.signing_secret(),
            family_id=row.recipient_id if family else None,
        )
        if invitation.sent_at is None:
            invitation.sent_at = self.now
        return f"{self.public_url or LOCAL_URL}/s/{token}", (token,)

    def _unsubscribe_link(self, row: OutboxMessage, match: Match) -> tuple[str | None, str | None]:
        """Non-essential mail to a parent carries a signed unsubscribe link (also as the RFC 8058
        List-Unsubscribe header); see web.inbound."""
        if (
            row.channel != ChannelName.EMAIL
            or row.essential
            or row.audience != Audience.CONTACT_PERSON
        ):
            return None, None
        contact = next((c for c in match.contacts if c.id == row.recipient_id), None)
        secret = self.signing_secret()
        unsubscribe = unsubscribe_token(secret, contact) if contact is not None else None
        if unsubscribe is None:
            return None, None
        return f"{self.public_url or LOCAL_URL}/u/{unsubscribe}", unsubscribe
