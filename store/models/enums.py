"""The enumerations stored in the database, as plain strings (see ``base._enum``)."""

from __future__ import annotations

import enum
import re
import threading

_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
_LOCK = threading.Lock()


class StaffRole(enum.StrEnum):
    PROCESLEDER = "procesleder"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class Locale(enum.StrEnum):
    """A person's language: a language code such as "da".

    Danish and English are members; any other well-formed code ("ar") becomes a member on
    first use, so that adding a language is a message catalog and a setting, not a code change.
    Which languages may be given to a person (a catalog, reviewed or turned on) is checked where
    it is chosen (the import, the bot's /language), not here.
    """

    DA = "da"
    EN = "en"

    @classmethod
    def _missing_(cls, value: object) -> Locale | None:
        if not isinstance(value, str) or not _LANGUAGE_CODE.match(value):
            return None
        with _LOCK:
            found = cls._value2member_map_.get(value)
            if found is None:
                member = str.__new__(cls, value)
                member._name_ = value.upper()
                member._value_ = value
                found = cls._value2member_map_.setdefault(value, member)
        return found  # type: ignore[return-value]


class Channel(enum.StrEnum):
    TELEGRAM = "telegram"
    SMS = "sms"
    EMAIL = "email"
    VOICE = "voice"


class MatchStatus(enum.StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


class EndedBy(enum.StrEnum):
    TERM = "term"  # the programme's year ran out as planned
    VOLUNTEER_FAMILY = "volunteer_family"
    CHILD_FAMILY = "child_family"
    ORGANISATION = "organisation"


class Cadence(enum.StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    TWO_THREE_MONTHLY = "two_three_monthly"


class VisitStatus(enum.StrEnum):
    VISITED = "visited"
    CANCELLED = "cancelled"
    MOVED = "moved"
    MISSED = "missed"  # nobody answered the prompt


class CancelledBy(enum.StrEnum):
    CHILD_FAMILY = "child_family"
    VOLUNTEER_FAMILY = "volunteer_family"
    ILLNESS = "illness"
    OTHER = "other"


class OutboxStatus(enum.StrEnum):
    PLANNED = "planned"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


class Audience(enum.StrEnum):
    VOLUNTEER_FAMILY = "volunteer_family"
    CONTACT_PERSON = "contact_person"
    STAFF = "staff"


class Severity(enum.StrEnum):
    URGENT = "urgent"
    NORMAL = "normal"


class EscalationStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    NOT_REACHED = "not_reached"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"


class RSVP(enum.StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


class WaitStatus(enum.StrEnum):
    """Where a volunteer family or a referred child is on the way to a match."""

    APPLIED = "applied"
    SCREENING = "screening"
    WAITING = "waiting"  # approved, and waiting for a match
    MATCHED = "matched"
    PAUSED = "paused"
    LEFT = "left"
