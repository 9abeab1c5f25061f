"""What parents send us: SMS replies, email unsubscribes and bounces.

Inbound SMS (:func:`handle_sms`), in this order:

1. STOP, STOPP, AFMELD (and Twilio's standard English opt-out words), in any case, opt the
   number out of non-essential messages and confirm; START, TILMELD (and UNSTOP) opt back in;
   HELP, HJÆLP answer who to contact;
2. a digit while an SMS survey is running answers the question asked (a reply that does not fit
   gets one short correction); JA / YES starts or resumes an SMS survey the parent was invited
   to;
3. from a volunteer family, a number answering the visit prompt or JA / NEJ / MÅSKE answering a
   sparring invitation sent by SMS is recorded (:mod:`followup.family_sms`);
4. anything else goes to the match's staff member as an escalation "message_from_parent": the
   text (CPR numbers redacted) lives only in the escalation's evidence, never in a log;
5. a number we do not know is logged as such, without its content, and gets no reply.

Every opt-out or opt-in bumps ``Match.plan_version`` of the contact's matches, so the planner
re-plans: pending non-essential messages of an opted-out contact are cancelled, and come back
after an opt-in.

Replies are short GSM-7 texts in the contact's language (Danish or English), returned to the
caller to be sent as the webhook's TwiML answer.

The texts, opting out and forwarding are in :mod:`followup.replies`, the SMS survey in
:mod:`followup.sms_survey`, and email unsubscribes and bounces in :mod:`followup.bounces`
(re-exported here).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.bounces import bounced_addresses, contact_for_unsubscribe, mark_bounced
from followup.escalations import raise_escalation
from followup.family_sms import answer_from_family
from followup.redaction import redact
from followup.replies import (
    MAX_TEXT,
    TEXTS,
    InboundResult,
    forward_to_staff,
    keyword,
    organisation_of,
    set_opt_out,
    text,
    who_to_contact,
)
from followup.sms_survey import (
    answer_question,
    ask_or_finish,
    open_invitations,
    running_conversation,
    start_survey,
)
from followup.survey_defs import Survey
from scheduler.i18n import N_
from store.models import (
    ContactPerson,
    MatchStatus,
    VolunteerFamily,
)
from store.validation import InvalidValue, normalise_phone, strip_controls

__all__ = [
    "TEXTS",
    "InboundResult",
    "bounced_addresses",
    "contact_for_unsubscribe",
    "forward_to_staff",
    "handle_sms",
    "mark_bounced",
    "organisation_of",
    "set_opt_out",
]

log = logging.getLogger(__name__)


def handle_sms(
    session: Session,
    from_number: str,
    body: str,
    now: datetime,
    surveys: Mapping[str, Survey],
    *,
    message_sid: str | None = None,
    media: int = 0,
) -> InboundResult:
    """Handle one inbound SMS (already authenticated as coming from Twilio)."""
    try:
        phone = normalise_phone(from_number)
    except InvalidValue:
        phone = None
    contacts = (
        list(
            session.scalars(
                select(ContactPerson).where(ContactPerson.phone == phone).order_by(ContactPerson.id)
            )
        )
        if phone
        else []
    )
    if not contacts:
        return _not_from_a_contact(session, phone, body, now, message_sid)

    contact = contacts[0]
    locale = contact.locale.value
    org = organisation_of(contact)
    word = keyword(body)
    if word in ("stop", "start", "help"):
        return _keyword(session, contacts, word, now)

    survey_reply = _in_survey(session, contacts, word, body, now, surveys, message_sid, media)
    if survey_reply is not None:
        return survey_reply
    if word == "yes":
        started = start_survey(session, contacts, surveys, now)
        if started is not None:
            return started
    staff = forward_to_staff(session, contacts, body, now, message_sid=message_sid, media=media)
    return InboundResult("forwarded", text(locale, "forwarded", staff=staff or org))


def _not_from_a_contact(
    session: Session, phone: str | None, body: str, now: datetime, message_sid: str | None
) -> InboundResult:
    """A volunteer family's SMS goes to staff; a number we do not know gets no reply."""
    family = (
        session.scalars(select(VolunteerFamily).where(VolunteerFamily.phone == phone)).first()
        if phone
        else None
    )
    if family is None:
        log.info("inbound SMS from an unknown number")
        return InboundResult("unknown")
    answered = answer_from_family(session, family, body, now)
    if answered is not None:
        return answered
    for match in [m for m in family.matches if m.status != MatchStatus.ENDED] or family.matches[
        -1:
    ]:
        raise_escalation(
            session,
            match,
            "message_from_family",
            now=now,
            evidence={
                "text": redact(strip_controls(body), family.locale.value)[:MAX_TEXT],
                "channel": "sms",
                "message_sid": message_sid,
            },
            suggested_action=N_("Read the message and answer the family."),
        )
    return InboundResult("forwarded_family")


def _keyword(
    session: Session, contacts: list[ContactPerson], word: str, now: datetime
) -> InboundResult:
    """STOP, START or HELP."""
    contact = contacts[0]
    locale = contact.locale.value
    org = organisation_of(contact)
    if word == "stop":
        for person in contacts:
            set_opt_out(session, person, True, now, source="sms")
        return InboundResult("opted_out", text(locale, "stopped", org=org))
    if word == "start":
        for person in contacts:
            set_opt_out(session, person, False, now, source="sms")
        return InboundResult("opted_in", text(locale, "started", org=org))
    return InboundResult("help", text(locale, "help", org=org, who=who_to_contact(contact, locale)))


def _in_survey(
    session: Session,
    contacts: list[ContactPerson],
    word: str | None,
    body: str,
    now: datetime,
    surveys: Mapping[str, Survey],
    message_sid: str | None,
    media: int,
) -> InboundResult | None:
    """The reply within a running SMS survey, or None when none is running."""
    running = running_conversation(session, open_invitations(session, contacts, now))
    if running is None:
        return None
    conversation, invitation = running
    survey = surveys.get(invitation.survey_id)
    if survey is None:
        return None
    if message_sid and conversation.last_message_sid == message_sid:
        return InboundResult("duplicate")  # Twilio retried a webhook we already handled
    conversation.last_message_sid = message_sid
    if word == "yes":  # "JA" again, e.g. after a reminder: ask the question again
        locale = next(
            (c.locale.value for c in contacts if c.id == invitation.contact_person_id),
            contacts[0].locale.value,
        )
        return ask_or_finish(session, conversation, invitation, survey, locale, now)
    return answer_question(
        session, conversation, invitation, survey, contacts, body, now, message_sid, media
    )
