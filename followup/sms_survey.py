"""A survey answered inside SMS, one question per message (``sms_conversation: true`` in the
survey file): JA / YES starts or resumes it, a digit answers the question asked, a reply that does
not fit gets one short correction, and a second one (or a sentence) goes to staff.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.replies import (
    MESSAGE_WORDS,
    InboundResult,
    forward_to_staff,
    organisation_of,
    text,
)
from followup.survey_defs import Question, Survey, sms_answer, sms_question, sms_range, tr
from followup.survey_results import complete, mark_opened, save_answers, saved_answers
from scheduler import sms
from store.models import (
    ContactPerson,
    SurveyConversation,
    SurveyInvitation,
)


def open_invitations(
    session: Session, contacts: list[ContactPerson], now: datetime
) -> list[SurveyInvitation]:
    return list(
        session.scalars(
            select(SurveyInvitation)
            .where(
                SurveyInvitation.contact_person_id.in_([c.id for c in contacts]),
                SurveyInvitation.completed_at.is_(None),
                SurveyInvitation.sent_at.is_not(None),
                SurveyInvitation.expires_at > now,
            )
            .order_by(SurveyInvitation.sent_at.desc(), SurveyInvitation.id.desc())
        )
    )


def running_conversation(
    session: Session, invitations: list[SurveyInvitation]
) -> tuple[SurveyConversation, SurveyInvitation] | None:
    by_id = {i.id: i for i in invitations}
    if not by_id:
        return None
    conversation = session.scalars(
        select(SurveyConversation)
        .where(
            SurveyConversation.invitation_id.in_(list(by_id)),
            SurveyConversation.finished_at.is_(None),
        )
        .order_by(SurveyConversation.updated_at.desc(), SurveyConversation.id.desc())
    ).first()
    if conversation is None:
        return None
    return conversation, by_id[conversation.invitation_id]


def _next_question(
    session: Session, invitation: SurveyInvitation, survey: Survey, after: str | None = None
) -> tuple[Question, int, int] | None:
    """The next unanswered question (after ``after``, if given), its number and the total."""
    questions = survey.questions_for(invitation.wave)
    answered = saved_answers(session, invitation.id)
    start = 0
    if after is not None:
        ids = [q.id for q in questions]
        start = ids.index(after) + 1 if after in ids else 0
    for position in list(range(start, len(questions))) + list(range(0, start)):
        question = questions[position]
        if question.id not in answered:
            return question, position + 1, len(questions)
    return None


def ask_or_finish(
    session: Session,
    conversation: SurveyConversation,
    invitation: SurveyInvitation,
    survey: Survey,
    locale: str,
    now: datetime,
    after: str | None = None,
) -> InboundResult:
    following = _next_question(session, invitation, survey, after)
    if following is None:
        complete(session, invitation, now, via="sms")
        return InboundResult(
            "completed", sms.normalise(tr(survey.thanks, locale) or text(locale, "thanks"))
        )
    question, number, total = following
    conversation.question_id = question.id
    conversation.misfits = 0
    conversation.updated_at = now
    return InboundResult("asked", sms_question(question, locale, number, total))


def start_survey(
    session: Session, contacts: list[ContactPerson], surveys: Mapping[str, Survey], now: datetime
) -> InboundResult | None:
    """JA / YES: start (or resume) the newest SMS survey the parent was invited to."""
    for invitation in open_invitations(session, contacts, now):
        survey = surveys.get(invitation.survey_id)
        if survey is None or not survey.sms_conversation:
            continue
        contact = next(c for c in contacts if c.id == invitation.contact_person_id)
        locale = contact.locale.value
        if contact.opted_out:
            return InboundResult("opted_out", text(locale, "opted_out"))
        conversation = session.scalars(
            select(SurveyConversation).where(SurveyConversation.invitation_id == invitation.id)
        ).first()
        if conversation is None:
            conversation = SurveyConversation(
                invitation_id=invitation.id, contact_person_id=contact.id, started_at=now
            )
            session.add(conversation)
        conversation.finished_at = None
        conversation.outcome = None
        mark_opened(invitation, now)
        session.flush()
        return ask_or_finish(session, conversation, invitation, survey, locale, now)
    return None


def answer_question(
    session: Session,
    conversation: SurveyConversation,
    invitation: SurveyInvitation,
    survey: Survey,
    contacts: list[ContactPerson],
    body: str,
    now: datetime,
    message_sid: str | None,
    media: int,
) -> InboundResult:
    contact = next((c for c in contacts if c.id == invitation.contact_person_id), contacts[0])
    locale = contact.locale.value
    try:
        question = survey.question(conversation.question_id or "")
    except KeyError:
        return ask_or_finish(session, conversation, invitation, survey, locale, now)
    value = sms_answer(question, body)
    if value is not None:
        save_answers(session, invitation, survey, {question.id: value}, now)
        return ask_or_finish(
            session, conversation, invitation, survey, locale, now, after=question.id
        )
    conversation.updated_at = now
    if conversation.misfits == 0 and len(body.split()) < MESSAGE_WORDS:
        conversation.misfits = 1
        low, high = sms_range(question)
        return InboundResult("corrected", text(locale, "correction", low=str(low), high=str(high)))
    # A second reply that does not fit, or a sentence: a message for a person.
    conversation.misfits += 1
    staff = forward_to_staff(session, contacts, body, now, message_sid=message_sid, media=media)
    return InboundResult(
        "forwarded", text(locale, "forwarded_survey", staff=staff or organisation_of(contact))
    )
