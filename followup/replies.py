"""What parents send by SMS, the parts every reply needs: the keywords, the reply texts in
Danish and English, opting out and in, and passing a message on to the match's staff member.

See :mod:`followup.inbound` for the order in which an inbound SMS is handled.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.escalations import raise_escalation
from followup.redaction import redact
from scheduler import i18n, sms
from scheduler.i18n import N_
from store.audit import record
from store.models import (
    ContactPerson,
    Match,
    MatchStatus,
    Severity,
    SurveyConversation,
)
from store.validation import strip_controls

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

# What the SMS answers say, by key: message ids, read in the person's language by :func:`text`.
TEXTS: dict[str, str] = {
    "stopped": N_(
        "You will no longer get messages from %(org)s such as questionnaires and reminders. "
        "You will still get messages about your child's arrangements. "
        "Reply START to sign up again."
    ),
    "started": N_(
        "Welcome back. You will get messages from %(org)s again. Reply STOP to unsubscribe."
    ),
    "help": N_(
        "This is %(org)s. If you have questions, contact %(who)s. Reply STOP to unsubscribe."
    ),
    "forwarded": N_("Thank you for your message. It has been passed on to %(staff)s."),
    "forwarded_survey": N_(
        "Thank you, your message has been passed on to %(staff)s. "
        "You can go on with the questionnaire by replying with a number."
    ),
    "correction": N_("Please reply with a number from %(low)s to %(high)s. Reply STOP to stop."),
    "opted_out": N_("You have unsubscribed. Reply START if you want messages again."),
    "phone": N_("%(name)s, phone %(phone)s"),
    "thanks": N_("Thank you for your answers!"),
    "us": N_("us"),
}


def text(locale: str, key: str, **values: str) -> str:
    """The answer ``key`` in ``locale`` (Danish for a language without a catalog), as an SMS."""
    try:
        texts = i18n.texts(locale)
    except LookupError:
        texts = i18n.texts("da")
    return sms.normalise(texts.gettext(TEXTS[key], **values))


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


def live_matches(contact: ContactPerson) -> list[Match]:
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
        for match in live_matches(contact):
            raise_escalation(
                session,
                match,
                "opt_out",
                now=now,
                evidence={"contact_id": contact.id, "source": source},
                suggested_action=N_(
                    "The parent gets no surveys or reminders now; talk with them if needed."
                ),
            )
    session.flush()
    return True


# -- passing a message on to staff -------------------------------------------------------------


# A parent who writes that they are worried ("Jeg er bekymret", "I am worried") is urgent news.
WORRIED = re.compile(r"\b(bekymr\w*|worr(y|ied|ies|ying)|concerned)\b", re.IGNORECASE)


def sounds_worried(body: str) -> bool:
    """Whether a parent's message says they are worried, in Danish or English."""
    return WORRIED.search(body) is not None


def forward_to_staff(
    session: Session,
    contacts: list[ContactPerson],
    body: str,
    now: datetime,
    *,
    message_sid: str | None = None,
    media: int = 0,
) -> str:
    """Raise "message_from_parent" on the contact's matches (urgent when the parent says they
    are worried); returns the staff member's name (or the organisation's) for the
    acknowledgement."""
    severity = Severity.URGENT if sounds_worried(body) else Severity.NORMAL
    evidence = {
        "text": redact(strip_controls(body), contacts[0].locale.value)[:MAX_TEXT],
        "channel": "sms",
        "contact_id": contacts[0].id,
        "message_sid": message_sid,
    }
    if media:
        evidence["media"] = media  # pictures are not fetched; staff see that there were some
    matches: dict[int, Match] = {}
    for contact in contacts:
        for match in live_matches(contact):
            matches[match.id] = match
    if not matches:
        raise_escalation(
            session,
            None,
            "message_from_parent",
            now=now,
            evidence=evidence,
            severity=severity,
            suggested_action=N_("Find out who wrote and answer them."),
        )
        return ""
    for match in matches.values():
        raise_escalation(
            session,
            match,
            "message_from_parent",
            now=now,
            evidence=evidence,
            severity=severity,
            suggested_action=N_("Read the message and answer the parent."),
        )
    first = next(iter(matches.values()))
    return first.staff.name if first.staff is not None else first.programme.organisation


def organisation_of(contact: ContactPerson) -> str:
    for match in live_matches(contact):
        return match.programme.organisation or match.programme.name
    return text(contact.locale.value, "us")


def who_to_contact(contact: ContactPerson, locale: str) -> str:
    for match in live_matches(contact):
        if match.staff is not None:
            if match.staff.phone:
                return text(
                    locale, "phone", name=match.staff.name, phone=i18n.phone(match.staff.phone)
                )
            return match.staff.name
    return organisation_of(contact)
