"""What parents send us: SMS replies, email unsubscribes and bounces.

Inbound SMS (:func:`handle_sms`), in this order:

1. STOP, STOPP, AFMELD (and Twilio's standard English opt-out words), in any case, opt the
   number out of non-essential messages and confirm; START, TILMELD (and UNSTOP) opt back in;
   HELP, HJÆLP answer who to contact;
2. a digit while an SMS survey is running answers the question asked (a reply that does not fit
   gets one short correction); JA / YES starts or resumes an SMS survey the parent was invited
   to;
3. anything else goes to the match's staff member as an escalation "message_from_parent": the
   text (CPR numbers redacted) lives only in the escalation's evidence, never in a log;
4. a number we do not know is logged as such, without its content, and gets no reply.

Every opt-out or opt-in bumps ``Match.plan_version`` of the contact's matches, so the planner
re-plans: pending non-essential messages of an opted-out contact are cancelled, and come back
after an opt-in.

Replies are short GSM-7 texts in the contact's language (Danish or English), returned to the
caller to be sent as the webhook's TwiML answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler import sms
from scheduler.escalations import raise_escalation
from scheduler.survey_defs import Question, Survey, sms_answer, sms_question, sms_range, tr
from scheduler.survey_results import complete, mark_opened, save_answers, saved_answers
from store.audit import record
from store.models import (
    ContactPerson,
    Match,
    MatchStatus,
    SurveyConversation,
    SurveyInvitation,
    VolunteerFamily,
)
from store.validation import InvalidValue, normalise_email, normalise_phone, redact_cpr

log = logging.getLogger(__name__)

# Twilio's own opt-out words (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) block the number on
# Twilio's side too, so we record them as well; STOPP and AFMELD are the Danish ones.
STOP_WORDS = frozenset(
    {"stop", "stopp", "afmeld", "stopall", "unsubscribe", "cancel", "end", "quit"}
)
START_WORDS = frozenset({"start", "tilmeld", "unstop"})
HELP_WORDS = frozenset({"help", "hjælp", "hjaelp", "info"})
YES_WORDS = frozenset({"ja", "j", "yes", "y"})
# A reply of this many words is a message to a person, not a mistyped answer.
MESSAGE_WORDS = 4
MAX_TEXT = 1600

TEXTS: dict[str, dict[str, str]] = {
    "da": {
        "stopped": "Du er nu afmeldt beskeder fra {org}, fx spørgeskemaer og påmindelser. "
        "Beskeder om aftaler for dit barn får du stadig. Skriv START for at tilmelde dig igen.",
        "started": "Velkommen tilbage. Du får igen beskeder fra {org}. Skriv STOP for at afmelde.",
        "help": "Det er {org}. Har du spørgsmål, så kontakt {who}. "
        "Skriv STOP for at afmelde beskeder.",
        "forwarded": "Tak for din besked. Den er givet videre til {staff}.",
        "forwarded_survey": "Tak, din besked er givet videre til {staff}. "
        "Du kan fortsætte spørgeskemaet ved at svare med et tal.",
        "correction": "Svar med et tal fra {low} til {high}. Skriv STOP for at stoppe.",
        "opted_out": "Du er afmeldt beskeder. Skriv START, hvis du vil have beskeder igen.",
        "phone": "{name}, tlf. {phone}",
        "thanks": "Tak for dine svar!",
        "us": "os",
    },
    "en": {
        "stopped": "You will no longer get messages from {org} such as questionnaires and "
        "reminders. You will still get messages about your child's arrangements. "
        "Reply START to sign up again.",
        "started": "Welcome back. You will get messages from {org} again. "
        "Reply STOP to unsubscribe.",
        "help": "This is {org}. If you have questions, contact {who}. Reply STOP to unsubscribe.",
        "forwarded": "Thank you for your message. It has been passed on to {staff}.",
        "forwarded_survey": "Thank you, your message has been passed on to {staff}. "
        "You can go on with the questionnaire by replying with a number.",
        "correction": "Please reply with a number from {low} to {high}. Reply STOP to stop.",
        "opted_out": "You have unsubscribed. Reply START if you want messages again.",
        "phone": "{name} on {phone}",
        "thanks": "Thank you for your answers!",
        "us": "us",
    },
}


def text(locale: str, key: str, **values: str) -> str:
    return sms.normalise(TEXTS.get(locale, TEXTS["da"])[key].format(**values))


def keyword(body: str) -> str | None:
    """ "stop", "start", "help" or "yes" when the whole message is one of those words."""
    word = re.sub(r"[\s.!?,;:'\"]+", " ", body or "").strip().casefold()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    if word in YES_WORDS:
        return "yes"
    return None


@dataclass(frozen=True)
class InboundResult:
    """What happened, and the reply to send (None: no reply)."""

    action: str
    reply: str | None = None


# -- opting out and in -------------------------------------------------------------------------


def _live_matches(contact: ContactPerson) -> list[Match]:
    live = [m for m in contact.matches if m.status != MatchStatus.ENDED]
    if live:
        return live
    ended = sorted(contact.matches, key=lambda m: (m.end_date or m.start_date, m.id))
    return ended[-1:]


def set_opt_out(
    session: Session, contact: ContactPerson, opted_out: bool, now: datetime, *, source: str
) -> bool:
    """Opt ``contact`` out of (or back into) non-essential messages. False if nothing changed.

    Bumps the plan version of the contact's matches so the planner cancels (or brings back)
    their pending non-essential messages, writes an audit entry, ends a running SMS survey and,
    on an opt-out, tells the staff member.
    """
    if contact.opted_out == opted_out:
        return False
    contact.opted_out = opted_out
    contact.opted_out_at = now if opted_out else None
    for match in contact.matches:
        match.plan_version = (match.plan_version or 1) + 1
    record(
        session,
        f"contact:{contact.id}",
        "contact.opt_out" if opted_out else "contact.opt_in",
        "contact_person",
        contact.id,
        source=source,
    )
    if opted_out:
        for conversation in session.scalars(
            select(SurveyConversation).where(
                SurveyConversation.contact_person_id == contact.id,
                SurveyConversation.finished_at.is_(None),
            )
        ):
            conversation.finished_at = now
            conversation.outcome = "stopped"
        for match in _live_matches(contact):
            raise_escalation(
                session,
                match,
                "opt_out",
                now=now,
                evidence={"contact_id": contact.id, "source": source},
                suggested_action="The parent gets no surveys or reminders now; talk with them "
                "if needed.",
            )
    session.flush()
    return True


# -- passing a message on to staff -------------------------------------------------------------


def forward_to_staff(
    session: Session,
    contacts: list[ContactPerson],
    body: str,
    now: datetime,
    *,
    message_sid: str | None = None,
    media: int = 0,
) -> str:
    """Raise "message_from_parent" on the contact's matches; returns the staff member's name
    (or the organisation's) for the acknowledgement."""
    evidence = {
        "text": redact_cpr(body)[:MAX_TEXT],
        "channel": "sms",
        "contact_id": contacts[0].id,
        "message_sid": message_sid,
    }
    if media:
        evidence["media"] = media  # pictures are not fetched; staff see that there were some
    matches: dict[int, Match] = {}
    for contact in contacts:
        for match in _live_matches(contact):
            matches[match.id] = match
    if not matches:
        raise_escalation(
            session,
            None,
            "message_from_parent",
            now=now,
            evidence=evidence,
            suggested_action="Find out who wrote and answer them.",
        )
        return ""
    for match in matches.values():
        raise_escalation(
            session,
            match,
            "message_from_parent",
            now=now,
            evidence=evidence,
            suggested_action="Read the message and answer the parent.",
        )
    first = next(iter(matches.values()))
    return first.staff.name if first.staff is not None else first.programme.organisation


# -- the SMS survey ----------------------------------------------------------------------------


def _open_invitations(
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


def _running(
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


def _ask_or_finish(
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


def _start(
    session: Session, contacts: list[ContactPerson], surveys: Mapping[str, Survey], now: datetime
) -> InboundResult | None:
    """JA / YES: start (or resume) the newest SMS survey the parent was invited to."""
    for invitation in _open_invitations(session, contacts, now):
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
        return _ask_or_finish(session, conversation, invitation, survey, locale, now)
    return None


def _answer(
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
        return _ask_or_finish(session, conversation, invitation, survey, locale, now)
    value = sms_answer(question, body)
    if value is not None:
        save_answers(session, invitation, survey, {question.id: value}, now)
        return _ask_or_finish(
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


# -- the entry point ---------------------------------------------------------------------------


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
        family = (
            session.scalars(select(VolunteerFamily).where(VolunteerFamily.phone == phone)).first()
            if phone
            else None
        )
        if family is not None:
            for match in [
                m for m in family.matches if m.status != MatchStatus.ENDED
            ] or family.matches[-1:]:
                raise_escalation(
                    session,
                    match,
                    "message_from_family",
                    now=now,
                    evidence={
                        "text": redact_cpr(body)[:MAX_TEXT],
                        "channel": "sms",
                        "message_sid": message_sid,
                    },
                    suggested_action="Read the message and answer the family.",
                )
            return InboundResult("forwarded_family")
        log.info("inbound SMS from an unknown number")
        return InboundResult("unknown")

    contact = contacts[0]
    locale = contact.locale.value
    org = organisation_of(contact)
    word = keyword(body)
    if word == "stop":
        for person in contacts:
            set_opt_out(session, person, True, now, source="sms")
        return InboundResult("opted_out", text(locale, "stopped", org=org))
    if word == "start":
        for person in contacts:
            set_opt_out(session, person, False, now, source="sms")
        return InboundResult("opted_in", text(locale, "started", org=org))
    if word == "help":
        return InboundResult("help", text(locale, "help", org=org, who=_who(contact, locale)))

    invitations = _open_invitations(session, contacts, now)
    running = _running(session, invitations)
    if running is not None:
        conversation, invitation = running
        survey = surveys.get(invitation.survey_id)
        if survey is not None:
            if message_sid and conversation.last_message_sid == message_sid:
                return InboundResult("duplicate")  # Twilio retried a webhook we already handled
            conversation.last_message_sid = message_sid
            if word == "yes":  # "JA" again, e.g. after a reminder: ask the question again
                locale = next(
                    (c.locale.value for c in contacts if c.id == invitation.contact_person_id),
                    locale,
                )
                return _ask_or_finish(session, conversation, invitation, survey, locale, now)
            return _answer(
                session, conversation, invitation, survey, contacts, body, now, message_sid, media
            )
    if word == "yes":
        started = _start(session, contacts, surveys, now)
        if started is not None:
            return started
    staff = forward_to_staff(session, contacts, body, now, message_sid=message_sid, media=media)
    return InboundResult("forwarded", text(locale, "forwarded", staff=staff or org))


def organisation_of(contact: ContactPerson) -> str:
    for match in _live_matches(contact):
        return match.programme.organisation or match.programme.name
    return text(contact.locale.value, "us")


def _who(contact: ContactPerson, locale: str) -> str:
    for match in _live_matches(contact):
        if match.staff is not None:
            if match.staff.phone:
                return text(locale, "phone", name=match.staff.name, phone=match.staff.phone)
            return match.staff.name
    return organisation_of(contact)


# -- email: unsubscribe links and bounces ------------------------------------------------------


def _mac(secret: str, contact_id: int, email: str) -> str:
    digest = hmac.new(
        secret.encode(), f"unsubscribe:{contact_id}:{email.lower()}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def unsubscribe_token(secret: str, contact: ContactPerson) -> str | None:
    """The token of the contact's unsubscribe link: their id and a 128-bit MAC over the id and
    the address, so a link in an old mail stops working when the address changes."""
    if not contact.email:
        return None
    return f"{contact.id}.{_mac(secret, contact.id, contact.email)}"


def contact_for_unsubscribe(session: Session, secret: str, token: str) -> ContactPerson | None:
    found = re.fullmatch(r"(\d{1,12})\.([A-Za-z0-9_-]{22})", token or "")
    if not found:
        return None
    contact = session.get(ContactPerson, int(found.group(1)))
    if contact is None or not contact.email:
        return None
    if not hmac.compare_digest(_mac(secret, contact.id, contact.email), found.group(2)):
        return None
    return contact


def mark_bounced(session: Session, address: str, now: datetime) -> int:
    """Stop using an email address that bounced: contacts and families with it get
    ``email_failed``, their matches re-plan onto another channel, and staff are told.
    Returns how many people had the address. Raises ``InvalidValue`` for a malformed address."""
    normalised = normalise_email(address)
    people: list[ContactPerson | VolunteerFamily] = [
        *session.scalars(select(ContactPerson).where(ContactPerson.email.is_not(None))),
        *session.scalars(select(VolunteerFamily).where(VolunteerFamily.email.is_not(None))),
    ]
    hits = [p for p in people if (p.email or "").lower() == normalised.lower()]
    for person in hits:
        if person.email_failed:
            continue
        person.email_failed = True
        kind = "contact_person" if isinstance(person, ContactPerson) else "volunteer_family"
        record(session, "system", "email.bounced", kind, person.id)
        for match in person.matches:
            match.plan_version = (match.plan_version or 1) + 1
        live = [m for m in person.matches if m.status != MatchStatus.ENDED]
        for match in live:
            raise_escalation(
                session,
                match,
                "delivery_failed",
                now=now,
                evidence={
                    "channel": "email",
                    "error": "bounce",
                    "audience": kind,
                    "recipient_id": person.id,
                },
                suggested_action="The email address bounced: check it with the person and "
                "correct it.",
            )
    session.flush()
    return len(hits)


def bounced_addresses(raw: bytes) -> list[str]:
    """The failed recipients named in a delivery status notification (RFC 3464)."""
    mail = message_from_bytes(raw, policy=policy.default)
    found: list[str] = []
    for part in mail.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks:
            if not isinstance(block, Message):
                continue
            action = str(block.get("Action", "")).strip().lower()
            recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            if action == "failed" and ";" in recipient:
                found.append(recipient.split(";", 1)[1].strip())
    return list(dict.fromkeys(found))
