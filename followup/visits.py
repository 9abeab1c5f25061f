"""What a volunteer family reports: visits, check-ins, worries, messages, the wish to stop.

Every answer is a row: a :class:`~store.models.Visit` per prompted visit day, a
:class:`~store.models.CheckIn` per check-in or worry. Free text of any length or script is
accepted and stored cleaned by :func:`clean_text`: control characters removed, anything shaped
like a CPR number redacted, and cut to :data:`TEXT_LIMIT` characters.

These functions take the match the caller has already checked the person may act on; they
check that the answer fits the match's state and raise :class:`VisitError` when it does not
(already answered, never asked, wrong step).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from followup import matches as match_ops
from followup.escalations import raise_escalation
from followup.redaction import redact
from scheduler.i18n import N_
from store.audit import record
from store.models import (
    CancelledBy,
    CheckIn,
    EndedBy,
    Escalation,
    Match,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    Severity,
    Visit,
    VisitStatus,
)
from store.validation import strip_controls

# Free text is kept up to this many characters (about a page). Longer text is cut and marked
# with an ellipsis; nothing is refused, so a family never loses what it wrote to a limit.
TEXT_LIMIT = 2000
# A visit prompt can be answered for this long after its day (the prompt itself expires after
# three days; a late answer from the reminder still counts).
ANSWER_WINDOW = timedelta(days=14)
# How far a visit can be moved, and how long a pause may be asked for in the bot (that it lies
# within two years from today is the domain's rule for every pause: followup.matches.check_near).
MOVE_WINDOW = (timedelta(days=-7), timedelta(days=28))

WORRY_ACTION = N_("Call the volunteer family today; consider the duty to report (underretning).")
STOP_ACTION = N_("Call the volunteer family; plan the extra child visit and ask about a re-match.")


class VisitError(ValueError):
    """The answer does not fit: ``reason`` says why ("answered", "not_asked", "state", ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _lang(match: Match) -> str:
    return match.volunteer_family.locale.value


def clean_text(text: str | None, limit: int = TEXT_LIMIT, locale: str = "da") -> str:
    """Text as we store it: no control characters (PostgreSQL refuses NUL), no lone surrogates,
    CPR numbers replaced by a marker in ``locale``, at most ``limit`` characters."""
    if not text:
        return ""
    kept = strip_controls(text)
    cleaned = redact(kept.strip(), locale)
    if len(cleaned) > limit:
        # Cut before any digits at the end, so the cut cannot leave a new CPR-shaped number.
        cleaned = cleaned[: limit - 1].rstrip("0123456789- \n\t") + "…"
    return cleaned


# -- visits ------------------------------------------------------------------------------------


def was_prompted(session: Session, match_id: int, day: date) -> bool:
    """Whether a visit prompt (or its reminder) for ``day`` actually went out to the family."""
    found = session.scalars(
        select(OutboxMessage.id).where(
            OutboxMessage.match_id == match_id,
            OutboxMessage.kind == "visit_prompt",
            OutboxMessage.occurrence_key.like(f"{day.isoformat()}%"),
            OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.DELIVERED]),
        )
    ).first()
    return found is not None


def visit_on(session: Session, match_id: int, day: date) -> Visit | None:
    return session.scalars(
        select(Visit).where(Visit.match_id == match_id, Visit.planned_date == day)
    ).first()


def answer_visit(
    session: Session,
    match: Match,
    day: date,
    status: VisitStatus,
    *,
    today: date,
    now: datetime,
    actor: str,
    times: int | None = None,
) -> Visit:
    """Record the answer to the visit prompt for ``day``: visited, cancelled or moved, or for a
    "2-3 times a month" programme how many times they met (0 is recorded as cancelled).

    Only a prompt that was sent can be answered, once, within :data:`ANSWER_WINDOW`. After a
    :class:`VisitError` the caller must roll its transaction back.
    """
    if status == VisitStatus.MISSED:
        raise VisitError("state")
    if day > today or today - day > ANSWER_WINDOW or day < match.start_date:
        raise VisitError("not_asked")
    if not was_prompted(session, match.id, day):
        raise VisitError("not_asked")
    if times is not None:
        times = max(0, min(int(times), 31))
        status = VisitStatus.VISITED if times > 0 else VisitStatus.CANCELLED
    visit = Visit(match_id=match.id, planned_date=day, status=status, times=times, reported_at=now)
    session.add(visit)
    try:
        session.flush()
    except IntegrityError as exc:
        # Answered already (or by a second press racing this one): the unique index on
        # (match, day) decides, without a read first. The caller's transaction is rolled back
        # when this error leaves it.
        raise VisitError("answered") from exc
    record(session, actor, "visit.answer", "visit", visit.id, match=match.id, status=status.value)
    return visit


def set_cancelled_by(
    session: Session, match: Match, day: date, who: CancelledBy, actor: str
) -> Visit:
    visit = visit_on(session, match.id, day)
    if visit is None or visit.status != VisitStatus.CANCELLED or visit.cancelled_by is not None:
        raise VisitError("state")
    visit.cancelled_by = who
    record(session, actor, "visit.cancelled_by", "visit", visit.id, who=who.value)
    return visit


def set_moved_to(session: Session, match: Match, day: date, new_day: date, actor: str) -> Visit:
    visit = visit_on(session, match.id, day)
    if visit is None or visit.status != VisitStatus.MOVED or visit.moved_to is not None:
        raise VisitError("state")
    low, high = MOVE_WINDOW
    if new_day == day or not day + low <= new_day <= day + high:
        raise VisitError("date")
    visit.moved_to = new_day
    record(session, actor, "visit.moved", "visit", visit.id, to=new_day.isoformat())
    return visit


def add_visit_note(session: Session, match: Match, day: date, text: str, actor: str) -> Visit:
    visit = visit_on(session, match.id, day)
    if visit is None:
        raise VisitError("state")
    cleaned = clean_text(text, locale=_lang(match))
    if cleaned:
        visit.note = clean_text(
            f"{visit.note}\n{cleaned}" if visit.note else cleaned, locale=_lang(match)
        )
        record(session, actor, "visit.note", "visit", visit.id)
    return visit


# -- check-ins ---------------------------------------------------------------------------------


def checkin_for_visit(session: Session, visit: Visit) -> CheckIn | None:
    return session.scalars(
        select(CheckIn).where(CheckIn.visit_id == visit.id, CheckIn.mood.is_not(None))
    ).first()


def checked_in_since(session: Session, match_id: int, since: datetime) -> bool:
    return (
        session.scalars(
            select(CheckIn.id).where(
                CheckIn.match_id == match_id,
                CheckIn.mood.is_not(None),
                CheckIn.created_at >= since,
            )
        ).first()
        is not None
    )


def record_checkin(
    session: Session,
    match: Match,
    mood: int,
    *,
    now: datetime,
    actor: str,
    visit: Visit | None = None,
) -> CheckIn:
    """How the visit went, 1 (badly) to 5 (very well); one per visit."""
    if not 1 <= mood <= 5:
        raise VisitError("mood")
    if visit is not None and checkin_for_visit(session, visit) is not None:
        raise VisitError("answered")
    checkin = CheckIn(
        match_id=match.id,
        visit_id=visit.id if visit else None,
        mood=mood,
        created_at=now,
        updated_at=now,
    )
    session.add(checkin)
    session.flush()
    record(session, actor, "checkin.create", "checkin", checkin.id, match=match.id, mood=mood)
    return checkin


def add_checkin_text(
    session: Session, checkin_id: int, match: Match, text: str, actor: str
) -> CheckIn:
    checkin = session.get(CheckIn, checkin_id)
    if checkin is None or checkin.match_id != match.id:
        raise VisitError("state")
    cleaned = clean_text(text, locale=_lang(match))
    if cleaned:
        checkin.text = clean_text(
            f"{checkin.text}\n{cleaned}" if checkin.text else cleaned, locale=_lang(match)
        )
        record(session, actor, "checkin.text", "checkin", checkin.id)
    return checkin


# -- worries, messages, stopping ---------------------------------------------------------------


def raise_worry(
    session: Session, match: Match, *, now: datetime, actor: str, text: str | None = None
) -> tuple[CheckIn, Escalation]:
    """The family is worried about something: an urgent escalation to the match's staff member,
    at once, before the family has said what (they may never get to write it)."""
    cleaned = clean_text(text, locale=_lang(match)) or None
    checkin = CheckIn(match_id=match.id, worried=True, text=cleaned, created_at=now, updated_at=now)
    session.add(checkin)
    session.flush()
    escalation = raise_escalation(
        session,
        match,
        "worry",
        now=now,
        severity=Severity.URGENT,
        evidence={
            "source": "telegram",
            "checkin": checkin.id,
            **({"text": cleaned} if cleaned else {}),
        },
        suggested_action=WORRY_ACTION,
    )
    record(session, actor, "worry.raise", "checkin", checkin.id, match=match.id)
    return checkin, escalation


def add_worry_text(
    session: Session, checkin_id: int, match: Match, text: str, *, now: datetime, actor: str
) -> Escalation:
    """What the family is worried about, added to the worry and to the staff escalation."""
    checkin = add_checkin_text(session, checkin_id, match, text, actor)
    return raise_escalation(
        session,
        match,
        "worry",
        now=now,
        severity=Severity.URGENT,
        evidence={
            "source": "telegram",
            "checkin": checkin.id,
            "text": clean_text(text, locale=_lang(match)),
        },
        suggested_action=WORRY_ACTION,
    )


def message_from_family(
    session: Session, match: Match, text: str, *, now: datetime, actor: str
) -> Escalation:
    """A plain message from the family: it goes to the match's staff member."""
    escalation = raise_escalation(
        session,
        match,
        "message_from_family",
        now=now,
        evidence={"source": "telegram", "text": clean_text(text, locale=_lang(match))},
        suggested_action=N_("Read the message and answer the family."),
    )
    record(session, actor, "family.message", "match", match.id, escalation=escalation.id)
    return escalation


def family_wants_to_stop(
    session: Session, match: Match, *, today: date, now: datetime, actor: str
) -> Escalation:
    """The volunteer family confirmed that it wants to end: the match ends today (the programme's
    early-end touchpoints follow at the next planning pass) and staff are alerted."""
    if match.status == MatchStatus.ENDED:
        raise VisitError("state")
    match_ops.end(session, match, max(today, match.start_date), EndedBy.VOLUNTEER_FAMILY, "", actor)
    return raise_escalation(
        session,
        match,
        "wants_to_stop",
        now=now,
        evidence={
            "source": "telegram",
            "ended_on": match.end_date.isoformat() if match.end_date else None,
        },
        suggested_action=STOP_ACTION,
    )


def add_stop_reason(
    session: Session, match: Match, text: str, *, now: datetime, actor: str
) -> Escalation:
    cleaned = clean_text(text, limit=500, locale=_lang(match))
    if match.ended_by != EndedBy.VOLUNTEER_FAMILY:
        raise VisitError("state")
    match.end_reason = cleaned or match.end_reason
    record(session, actor, "match.end_reason", "match", match.id)
    return raise_escalation(
        session,
        match,
        "wants_to_stop",
        now=now,
        evidence={"source": "telegram", "reason": clean_text(text, locale=_lang(match))},
        suggested_action=STOP_ACTION,
    )
