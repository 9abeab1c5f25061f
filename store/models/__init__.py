"""The data model, in one namespace: ``from store.models import Match`` whatever module a
model is defined in.

People: staff, volunteer families, children (first name or pseudonym and birth year only; no
CPR number anywhere), contact persons (parents or institution contacts). A match joins a child
with a volunteer family under a programme and a staff member. Everything that happens to a
match is recorded: visits, check-ins, outbox messages, escalations, tasks, surveys, sparring.

All timestamps are aware UTC (:class:`store.types.UTCDateTime`). Calendar facts that belong to a
person's day (a visit date, a visit time) are stored as dates and local times, and interpreted in
that person's time zone.

The models are split by what they hold: ``base`` (the declarative base and mixins), ``enums``,
``people`` (people and matches), ``messages`` (what follow-up produces: the outbox, cases,
tasks, surveys and sparring) and ``system`` (the application's own records). Importing this
package registers every table on ``Base.metadata`` (which Alembic's env uses).
"""

from store.models.base import (
    NAMING,
    Base,
    PhoneEmailMixin,
    TimestampMixin,
    _enum,
    utcnow,
)
from store.models.calendar import CalendarFeed
from store.models.contacts import StaffContact
from store.models.enums import (
    RSVP,
    Audience,
    Cadence,
    CancelledBy,
    Channel,
    EndedBy,
    EndReason,
    EscalationStatus,
    Locale,
    MatchStatus,
    OutboxStatus,
    ResolutionOutcome,
    Severity,
    StaffRole,
    TaskStatus,
    VisitStatus,
    WaitStatus,
)
from store.models.messages import (
    Escalation,
    OutboxMessage,
    SparringRSVP,
    SparringSession,
    SurveyInvitation,
    SurveyResponse,
    Task,
)
from store.models.moments import Moment
from store.models.people import (
    CheckIn,
    Child,
    ContactPerson,
    Match,
    MatchNote,
    MatchPause,
    Programme,
    Staff,
    Visit,
    VolunteerFamily,
    match_contact,
)
from store.models.system import (
    AppSecret,
    AuditEntry,
    BotState,
    InviteToken,
    StaffCredential,
    StaffSession,
    SurveyConversation,
    WebhookReceipt,
)
from store.models.waiting import HouseholdMember, Referral

__all__ = [
    "NAMING",
    "RSVP",
    "AppSecret",
    "Audience",
    "AuditEntry",
    "Base",
    "BotState",
    "Cadence",
    "CalendarFeed",
    "CancelledBy",
    "Channel",
    "CheckIn",
    "Child",
    "ContactPerson",
    "EndReason",
    "EndedBy",
    "Escalation",
    "EscalationStatus",
    "HouseholdMember",
    "InviteToken",
    "Locale",
    "Match",
    "MatchNote",
    "MatchPause",
    "MatchStatus",
    "Moment",
    "OutboxMessage",
    "OutboxStatus",
    "PhoneEmailMixin",
    "Programme",
    "Referral",
    "ResolutionOutcome",
    "Severity",
    "SparringRSVP",
    "SparringSession",
    "Staff",
    "StaffContact",
    "StaffCredential",
    "StaffRole",
    "StaffSession",
    "SurveyConversation",
    "SurveyInvitation",
    "SurveyResponse",
    "Task",
    "TaskStatus",
    "TimestampMixin",
    "Visit",
    "VisitStatus",
    "VolunteerFamily",
    "WaitStatus",
    "WebhookReceipt",
    "_enum",
    "match_contact",
    "utcnow",
]
