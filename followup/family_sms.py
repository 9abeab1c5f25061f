"""What a volunteer family answers by SMS: the number asked for by the visit prompt or the school
holiday question (1 = visits go on, 2 = a pause), and JA, NEJ or MÅSKE to a sparring invitation.

A family without Telegram gets its visit prompts and invitations by SMS; its reply is read
against the newest such message we sent it in the last week. Anything else it writes (or an
answer that fits no open question) goes to its staff member as before.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup import family_pauses, visits
from followup.replies import InboundResult
from followup.sparring import SparringError, record_rsvp
from scheduler import i18n
from scheduler.i18n import N_
from store.models import (
    RSVP,
    Audience,
    Match,
    OutboxMessage,
    OutboxStatus,
    VisitStatus,
    VolunteerFamily,
)
from store.models import Channel as ChannelName

ASKED_WITHIN = timedelta(days=7)
_NUMBER = re.compile(r"\s*(\d{1,2})\s*[.!]?\s*")
_CHOICES = {1: VisitStatus.VISITED, 2: VisitStatus.CANCELLED, 3: VisitStatus.MOVED}
_RSVP = {
    "ja": RSVP.YES,
    "yes": RSVP.YES,
    "nej": RSVP.NO,
    "no": RSVP.NO,
    "måske": RSVP.MAYBE,
    "maske": RSVP.MAYBE,
    "maybe": RSVP.MAYBE,
}

# What the SMS answers to a volunteer family say, by key (message ids; "times" is a plural).
TEXTS: dict[str, str] = {
    "visited": N_("Thank you! We have noted that %(child)s visited. From %(org)s"),
    "cancelled": N_(
        "Thank you for letting us know. We have noted that the visit was cancelled. From %(org)s"
    ),
    "moved": N_(
        "Thank you for letting us know. We have noted that the visit was moved. From %(org)s"
    ),
    "answered": N_("Thank you. We already have your answer for that day. From %(org)s"),
    "yes": N_(
        "Thank you! We have noted that you will join the sparring. "
        "You will get the link the day before. From %(org)s"
    ),
    "no": N_(
        "Thank you for your answer. We have noted that you cannot come this time. From %(org)s"
    ),
    "maybe": N_(
        "Thank you. We have noted a maybe. Please answer YES or NO when you know. From %(org)s"
    ),
    "past": N_("Thank you. That sparring session has already taken place. From %(org)s"),
}


def answer_from_family(
    session: Session, family: VolunteerFamily, body: str, now: datetime
) -> InboundResult | None:
    """The family's answer to the newest question we asked it by SMS, or None (not an answer)."""
    asked = _newest_question(session, family, now)
    if asked is None:
        return None
    match = session.get(Match, asked.match_id) if asked.match_id else None
    if match is None:
        return None
    if asked.template == "visit_prompt":
        return _visit_answer(session, family, match, asked, body, now)
    if asked.template == "holiday_question":
        return _holiday_answer(session, family, match, asked, body, now)
    return _rsvp(session, family, match, asked, body, now)


def _newest_question(
    session: Session, family: VolunteerFamily, now: datetime
) -> OutboxMessage | None:
    return session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.audience == Audience.VOLUNTEER_FAMILY,
            OutboxMessage.recipient_id == family.id,
            OutboxMessage.channel == ChannelName.SMS,
            OutboxMessage.template.in_(["visit_prompt", "sparring_invite", "holiday_question"]),
            OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.DELIVERED]),
            OutboxMessage.sent_at >= now - ASKED_WITHIN,
        )
        .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
        .limit(1)
    ).first()


def _family_texts(family: VolunteerFamily) -> i18n.Texts:
    try:
        return i18n.texts(family.locale.value)
    except LookupError:
        return i18n.texts("da")


def _reply(family: VolunteerFamily, match: Match, key: str, times: int | None = None) -> str:
    texts = _family_texts(family)
    org = match.programme.organisation or match.programme.name
    child = match.child.first_name
    if key == "times" and times is not None:
        return texts.ngettext(
            "Thank you! We have noted that you saw %(child)s %(num)d time. From %(org)s",
            "Thank you! We have noted that you saw %(child)s %(num)d times. From %(org)s",
            times,
            child=child,
            org=org,
        )
    return texts.gettext(TEXTS[key], child=child, org=org)


def _visit_answer(
    session: Session,
    family: VolunteerFamily,
    match: Match,
    asked: OutboxMessage,
    body: str,
    now: datetime,
) -> InboundResult | None:
    found = _NUMBER.fullmatch(body)
    if found is None:
        return None
    number = int(found.group(1))
    counted = match.cadence is not None and match.cadence.value == "two_three_monthly"
    if not counted and number not in _CHOICES:
        return None
    day = date.fromisoformat(asked.occurrence_key.split(":")[0])
    today = now.astimezone(ZoneInfo(family.timezone)).date()
    status = VisitStatus.VISITED if counted else _CHOICES[number]
    try:
        with session.begin_nested():
            visits.answer_visit(
                session,
                match,
                day,
                status,
                today=today,
                now=now,
                actor=f"family:{family.id}",
                times=number if counted else None,
            )
    except visits.VisitError as exc:
        if exc.reason == "answered":
            return InboundResult("visit_answered", _reply(family, match, "answered"))
        return None
    if counted:
        return InboundResult("visit", _reply(family, match, "times", times=number))
    return InboundResult("visit", _reply(family, match, status.value))


def _rsvp(
    session: Session,
    family: VolunteerFamily,
    match: Match,
    asked: OutboxMessage,
    body: str,
    now: datetime,
) -> InboundResult | None:
    answer = _RSVP.get(body.strip().strip(".!").casefold())
    session_id = (asked.context or {}).get("session_id")
    if answer is None or session_id is None:
        return None
    try:
        with session.begin_nested():
            record_rsvp(
                session, match, int(session_id), answer, now=now, actor=f"family:{family.id}"
            )
    except SparringError as exc:
        if exc.reason == "past":
            return InboundResult("rsvp_past", _reply(family, match, "past"))
        return None
    return InboundResult("rsvp", _reply(family, match, answer.value))


def _holiday_answer(
    session: Session,
    family: VolunteerFamily,
    match: Match,
    asked: OutboxMessage,
    body: str,
    now: datetime,
) -> InboundResult | None:
    found = _NUMBER.fullmatch(body)
    context = asked.context or {}
    if found is None or found.group(1) not in {"1", "2"}:
        return None
    try:
        kind = str(context["holiday_kind"])
        first = date.fromisoformat(context["holiday_first"])
        last = date.fromisoformat(context["holiday_last"])
    except (KeyError, TypeError, ValueError):
        return None
    today = now.astimezone(ZoneInfo(family.timezone)).date()
    goes_on = found.group(1) == "1"
    try:
        with session.begin_nested():
            pause = family_pauses.holiday_answer(
                session,
                match,
                kind,
                first,
                last,
                goes_on=goes_on,
                today=today,
                actor=f"family:{family.id}",
            )
    except visits.VisitError as exc:
        if exc.reason == "overlap":
            text = _holiday_reply(
                family, match, N_("Thank you. There is already a pause in the holiday.")
            )
            return InboundResult("holiday_answered", text)
        return None
    if pause is None:
        text = _holiday_reply(
            family, match, N_("Wonderful! We will ask about the visits as usual in the holiday.")
        )
        return InboundResult("holiday_visits", text)
    text = _holiday_reply(
        family,
        match,
        N_("Thanks for letting us know. We won't ask about visits from %(first)s to %(last)s."),
        first=f"{pause.start_date.day}/{pause.start_date.month}",
        last=f"{last.day}/{last.month}",
    )
    return InboundResult("holiday_pause", text)


def _holiday_reply(family: VolunteerFamily, match: Match, message: str, **values: str) -> str:
    words = _family_texts(family)
    org = match.programme.organisation or match.programme.name
    sign = words.gettext("From %(organisation)s", organisation=org)
    return f"{words.gettext(message, **values)} {sign}"
