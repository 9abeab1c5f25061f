"""Who receives a touchpoint, and on which channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scheduler.programme import AudienceName
from store.models import Channel, ContactPerson, Match, Staff, VolunteerFamily


@dataclass(frozen=True)
class Recipient:
    audience: AudienceName
    id: int
    name: str
    locale: str
    timezone: str
    addresses: dict[str, str]  # channel -> address, only the usable ones
    preferred: str | None = None
    opted_out: bool = False

    def choose(
        self, channels: Sequence[str], exclude: tuple[str, ...] = (), *, in_order: bool = False
    ) -> str | None:
        """The first usable channel: the person's own preference if the touchpoint allows it,
        unless ``in_order`` (the touchpoint's order holds)."""
        allowed = [str(c) for c in channels if str(c) not in exclude]
        if not in_order and self.preferred in allowed and self.preferred in self.addresses:
            return self.preferred
        for channel in allowed:
            if channel in self.addresses:
                return channel
        return None


def family_recipient(family: VolunteerFamily) -> Recipient:
    addresses: dict[str, str] = {}
    if family.telegram_chat_id and not family.telegram_blocked:
        addresses[Channel.TELEGRAM] = str(family.telegram_chat_id)
    if family.phone and not family.phone_failed:
        addresses[Channel.SMS] = family.phone
        addresses[Channel.VOICE] = family.phone
    if family.email and not family.email_failed:
        addresses[Channel.EMAIL] = family.email
    return Recipient(
        AudienceName.VOLUNTEER_FAMILY,
        family.id,
        family.contact_name,
        family.locale.value,
        family.timezone,
        addresses,
    )


def contact_recipient(contact: ContactPerson) -> Recipient:
    addresses: dict[str, str] = {}
    if contact.phone and not contact.phone_failed:
        addresses[Channel.SMS] = contact.phone
        addresses[Channel.VOICE] = contact.phone
    if contact.email and not contact.email_failed:
        addresses[Channel.EMAIL] = contact.email
    return Recipient(
        AudienceName.CONTACT_PERSON,
        contact.id,
        contact.name,
        contact.locale.value,
        contact.timezone,
        addresses,
        preferred=contact.preferred_channel.value,
        opted_out=contact.opted_out,
    )


def staff_recipient(staff: Staff) -> Recipient:
    addresses: dict[str, str] = {}
    if staff.telegram_chat_id:
        addresses[Channel.TELEGRAM] = str(staff.telegram_chat_id)
    if staff.email:
        addresses[Channel.EMAIL] = staff.email
    return Recipient(
        AudienceName.STAFF, staff.id, staff.name, staff.locale.value, staff.timezone, addresses
    )


def recipients_for(match: Match, audience: AudienceName) -> list[Recipient]:
    if audience == AudienceName.VOLUNTEER_FAMILY:
        return [family_recipient(match.volunteer_family)]
    if audience == AudienceName.CONTACT_PERSON:
        return [contact_recipient(c) for c in match.contacts]
    return [staff_recipient(match.staff)] if match.staff else []


def resolve(match: Match, audience: str, recipient_id: int) -> Recipient | None:
    """The recipient as they are now (addresses may have changed since planning)."""
    for recipient in recipients_for(match, AudienceName(audience)):
        if recipient.id == recipient_id:
            return recipient
    return None
