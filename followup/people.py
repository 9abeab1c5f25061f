"""Every person's data: export it all, and erase it (GDPR articles 15, 17 and 20).

Kinds of person: ``family`` (a volunteer family), ``contact`` (a parent or institution contact),
``staff`` and ``child``.

:func:`export_person` gathers everything held about one person as plain JSON-able data: their
record, their matches (as summaries), and what belongs to them: visits, check-ins, messages
(with their text), what they wrote to staff (escalation evidence), sparring answers, survey
invitations and answers, SMS survey conversations, the bot's state for their chat, and the audit
entries about them or by them. A child's export holds everything about the child: the visits,
check-ins, notes, greetings, pauses, messages and cases of their matches, their referrals. It
leaves out other people's details (in a child's export, the adults' names and addresses become
``[…]``).

:func:`followup.erasure.erase_person` removes the personal data and keeps what the organisation
needs for its statistics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from followup.person_rows import (
    family_data,
    jsonable,
    match_content,
    match_summary,
    message_data,
    others_in,
    row_data,
    staff_data,
    without,
)
from followup.said import said
from followup.survey_defs import default_surveys
from scheduler.i18n import N_
from store.models import (
    Audience,
    AuditEntry,
    Base,
    BotState,
    Child,
    ContactPerson,
    Escalation,
    HouseholdMember,
    InviteToken,
    Match,
    OutboxMessage,
    Referral,
    Staff,
    SurveyConversation,
    SurveyInvitation,
    SurveyResponse,
    Task,
    VolunteerFamily,
)

KINDS: dict[str, type[Base]] = {
    "family": VolunteerFamily,
    "contact": ContactPerson,
    "staff": Staff,
    "child": Child,
}
ENTITIES = {
    "family": "volunteer_family",
    "contact": "contact_person",
    "staff": "staff",
    "child": "child",
}
AUDIENCES = {
    "family": Audience.VOLUNTEER_FAMILY,
    "contact": Audience.CONTACT_PERSON,
    "staff": Audience.STAFF,
}
ERASED = "erased"
RECIPIENT_ERASED = N_("the recipient was erased")  # an outbox row's reason, shown to staff

# Escalation evidence: string values are kept only under these keys (codes, not free text).
SAFE_EVIDENCE_KEYS = frozenset(
    {"at", "touchpoint", "channel", "audience", "error", "code", "status", "rule", "wave", "kind"}
)


class PersonError(ValueError):
    """No such person, or the person cannot be erased yet; ``said`` says why, in the words of
    the reader's language (``exc.said.text(texts)``)."""

    def __init__(self, message: str, /, **values: Any) -> None:
        self.said = said(message, **values)
        super().__init__(message % values if values else message)


def child_voice_survey_ids() -> list[str]:
    """The surveys that hold a child's own answers (``child_voice: true``)."""
    return [key for key, survey in default_surveys().items() if survey.child_voice]


def surveys_data(session: Session, *where: Any) -> list[dict[str, Any]]:
    """Survey invitations matching ``where``, each with its answers."""
    invitations = list(
        session.scalars(select(SurveyInvitation).where(*where).order_by(SurveyInvitation.id))
    )
    answers: dict[int, list[dict[str, Any]]] = {i.id: [] for i in invitations}
    for answer in session.scalars(
        select(SurveyResponse)
        .where(SurveyResponse.invitation_id.in_(list(answers)))
        .order_by(SurveyResponse.id)
    ):
        answers[answer.invitation_id].append(
            row_data(answer, ("question_id", "value", "created_at"))
        )
    return [
        {
            **row_data(
                i,
                (
                    "id",
                    "match_id",
                    "survey_id",
                    "wave",
                    "sent_at",
                    "opened_at",
                    "completed_at",
                    "expires_at",
                    "reminder_step",
                ),
            ),
            "responses": answers[i.id],
        }
        for i in invitations
    ]


def _surveys_of(session: Session, kind: str, person_id: int, ids: list[int]) -> dict[str, Any]:
    """A contact's own survey answers; the child's voice a family relayed, or a child gave."""
    if kind == "contact":
        return {"surveys": surveys_data(session, SurveyInvitation.contact_person_id == person_id)}
    if kind == "family":
        # The child's voice the family relayed: the child's answers, asked by them.
        relayed = surveys_data(session, SurveyInvitation.volunteer_family_id == person_id)
        return {"child_voice": relayed}
    if kind == "child":
        answers = surveys_data(
            session,
            SurveyInvitation.match_id.in_(ids),
            SurveyInvitation.survey_id.in_(child_voice_survey_ids()),
        )
        return {"child_voice": answers}
    return {}


def get_person(session: Session, kind: str, person_id: int) -> Any:
    model = KINDS.get(kind)
    if model is None:
        raise PersonError(
            N_("unknown kind %(kind)s: one of %(kinds)s"), kind=repr(kind), kinds=", ".join(KINDS)
        )
    person = session.get(model, person_id)
    if person is None:
        raise PersonError(N_("there is no %(kind)s with id %(id)d"), kind=kind, id=person_id)
    return person


def find_by_ref(session: Session, kind: str, ref: str) -> int:
    """The id of the family, contact or staff member with the organisation's ``ref``."""
    model: Any = KINDS.get(kind)
    if model is None or kind == "child":
        raise PersonError(N_("a %(kind)s has no ref: give its id"), kind=kind)
    found = session.scalar(select(model.id).where(model.external_ref == ref))
    if found is None:
        raise PersonError(N_("there is no %(kind)s with ref %(ref)s"), kind=kind, ref=repr(ref))
    return int(found)


# -- export ----------------------------------------------------------------------------------------


def export_person(session: Session, kind: str, person_id: int, *, now: datetime) -> dict[str, Any]:
    """Everything held about one person, as JSON-able data."""
    person = get_person(session, kind, person_id)
    matches = matches_of(session, kind, person)
    data: dict[str, Any] = {
        "exported_at": jsonable(now),
        "kind": kind,
        "record": row_data(person),
        "matches": [match_summary(m) for m in matches],
    }
    ids = [m.id for m in matches]
    if kind in ("family", "child"):
        # What happened in their matches is about the family and the child alike.
        data |= match_content(session, ids)
    if kind == "family":
        data |= family_data(session, person.id)
    if kind in ("family", "staff"):
        data["invites"] = [
            row_data(i, ("id", "created_by", "created_at", "expires_at", "used_at"))
            for i in session.scalars(
                select(InviteToken)
                .where(InviteToken.kind == kind, InviteToken.subject_id == person.id)
                .order_by(InviteToken.id)
            )
        ]
    if kind in ("family", "child"):
        # Staff tasks about their waiting and their certificates name them in the title.
        data["waiting_tasks"] = [
            row_data(t, ("id", "match_id", "kind", "title", "due_at", "status", "completed_at"))
            for t in tasks_about(session, kind, person.id)
        ]
    if kind in ("child", "contact"):
        column = Referral.child_id if kind == "child" else Referral.contact_person_id
        data["referrals"] = [
            row_data(
                r,
                (
                    "id",
                    "programme_id",
                    "child_id",
                    "contact_person_id",
                    "region",
                    "status",
                    "status_since",
                    "match_id",
                    "created_at",
                ),
            )
            for r in session.scalars(
                select(Referral).where(column == person.id).order_by(Referral.id)
            )
        ]
    if kind in AUDIENCES or kind == "child":
        data["messages"] = [message_data(m) for m in _messages_of(session, kind, person.id, ids)]
    data |= _surveys_of(session, kind, person.id, ids)
    if kind in ("family", "contact", "child"):
        data["escalations"] = escalations_about(session, kind, person.id, ids)
    if kind == "contact":
        data["sms_surveys"] = [
            row_data(c, ("invitation_id", "question_id", "started_at", "finished_at", "outcome"))
            for c in session.scalars(
                select(SurveyConversation)
                .where(SurveyConversation.contact_person_id == person.id)
                .order_by(SurveyConversation.id)
            )
        ]
    chat = getattr(person, "telegram_chat_id", None)
    if chat is not None:
        data["bot_state"] = [
            {"namespace": b.namespace, "key": b.key, "data": b.data}
            for b in bot_state_of(session, chat)
        ]
    data["audit"] = [
        row_data(a, ("at", "actor", "action", "entity", "entity_id", "details"))
        for a in session.scalars(
            select(AuditEntry)
            .where(
                or_(
                    (AuditEntry.entity == ENTITIES[kind]) & (AuditEntry.entity_id == person.id),
                    AuditEntry.actor == f"{kind}:{person.id}",
                )
            )
            .order_by(AuditEntry.id)
        )
    ]
    if kind == "staff":
        data |= staff_data(session, person.id)
    if kind == "child":
        # What was written about the child names the adults around them: not theirs to get.
        others = others_in(matches)
        data = {k: v if k in ("record", "matches") else without(v, others) for k, v in data.items()}
    return data


def own_evidence(item: Any, kind: str, person_id: int) -> bool:
    """Whether an item of escalation evidence came from (or, for a child, is about) this person:
    a contact's messages carry their ``contact_id``; what the family wrote carries none; every
    case of a child's match is about the child."""
    if not isinstance(item, dict):
        return False
    if kind == "child":
        return True
    if kind == "contact":
        return bool(item.get("contact_id") == person_id)
    return "contact_id" not in item


def escalations_about(
    session: Session, kind: str, person_id: int, match_ids: list[int]
) -> list[dict[str, Any]]:
    """The cases on the person's matches, with the evidence that came from them (what a family
    or a parent wrote to staff is held there)."""
    found = []
    for e in session.scalars(
        select(Escalation).where(Escalation.match_id.in_(match_ids)).order_by(Escalation.id)
    ):
        evidence = [item for item in e.evidence or [] if own_evidence(item, kind, person_id)]
        if kind == "contact" and not evidence:
            continue
        found.append(
            {
                **row_data(e, ("id", "match_id", "rule", "status", "created_at", "resolved_at")),
                "evidence": evidence,
            }
        )
    return found


def bot_state_of(session: Session, chat_id: int) -> list[BotState]:
    """What the bot remembers for this chat: its chat data and its conversations' state."""
    rows = session.scalars(
        select(BotState).where(
            or_(
                (BotState.namespace == "chat") & (BotState.key == str(chat_id)),
                BotState.namespace.startswith("conversation:"),
            )
        )
    )
    return [
        row
        for row in rows
        if row.namespace == "chat" or str(chat_id) in row.key.strip("[]").split(", ")
    ]


def matches_of(session: Session, kind: str, person: Any) -> list[Match]:
    query = select(Match).order_by(Match.id)
    if kind == "family":
        query = query.where(Match.volunteer_family_id == person.id)
    elif kind == "child":
        query = query.where(Match.child_id == person.id)
    elif kind == "staff":
        query = query.where(Match.staff_id == person.id)
    else:
        query = query.where(Match.contacts.any(ContactPerson.id == person.id))
    return list(session.scalars(query))


def tasks_about(session: Session, kind: str, person_id: int) -> list[Task]:
    """The waiting-list and certificate tasks about a family (or its household) or a child
    (their keys: ``followup.waiting``)."""
    if kind == "family":
        members = [
            m
            for m in session.scalars(
                select(HouseholdMember.id).where(HouseholdMember.volunteer_family_id == person_id)
            )
        ]
        prefixes = [f"wait:f{person_id}:", *(f"cert:h{m}:" for m in members)]
    else:
        referrals = session.scalars(select(Referral.id).where(Referral.child_id == person_id))
        prefixes = [f"wait:r{r}:" for r in referrals]
    if not prefixes:
        return []
    return list(
        session.scalars(
            select(Task)
            .where(or_(*(Task.idempotency_key.startswith(p) for p in prefixes)))
            .order_by(Task.id)
        )
    )


def _messages_of(
    session: Session, kind: str, person_id: int, ids: list[int]
) -> list[OutboxMessage]:
    """The messages sent to the person; for a child, every message of the child's matches (they
    are about the child, whoever they were sent to)."""
    if kind != "child":
        return messages_to(session, kind, person_id)
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.match_id.in_(ids))
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
        )
    )


def messages_to(session: Session, kind: str, person_id: int) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.audience == AUDIENCES[kind], OutboxMessage.recipient_id == person_id
            )
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
        )
    )
