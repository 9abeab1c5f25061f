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
    TERM = "term"  # the programme's year ran out as planned: the natural end at the anniversary
    VOLUNTEER_FAMILY = "volunteer_family"
    CHILD_FAMILY = "child_family"  # the parent, the child, or the child's institution
    ORGANISATION = "organisation"
    UNREACHABLE = "unreachable"  # the family stopped answering; staff confirmed it


class EndReason(enum.StrEnum):
    """Why a match ended, as a short list the reports count (free text goes beside it)."""

    COMPLETED = "completed"  # the agreed course ran its time
    NO_TIME = "no_time"  # work, illness or other changes in the volunteer family's life
    MOVED = "moved"  # one of the families moved
    RELATION = "relation"  # the relation between the child and the family did not work
    CHILD_SITUATION = "child_situation"  # placement, illness or other changes in the child's life
    CONCERN = "concern"  # concern for the child (the duty to report)
    NO_CONTACT = "no_contact"  # nobody could be reached
    OTHER = "other"


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


class ResolutionOutcome(enum.StrEnum):
    """How a case ended, as staff record it when they resolve it."""

    HANDLED = "handled"  # talked with the family, and it is settled
    REPORTED = "reported"  # a report of concern was filed with the municipality
    REFERRED = "referred"  # referred on to other help
    NO_ACTION = "no_action"  # a false alarm, or nothing needed doing
    MATCH_ENDED = "match_ended"


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
