"""A volunteer family's pauses: one they ask for in the bot (a holiday), and their answer to
"do visits go on in the school holiday?". Within the domain's date range, never in the past."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from followup import matches as match_ops

# Free text is kept up to this many characters (about a page). Longer text is cut and marked
# with an ellipsis; nothing is refused, so a family never loses what it wrote to a limit.
from followup.visits import VisitError
from scheduler.i18n import N_
from store.audit import record
from store.models import (
    Match,
    MatchPause,
    MatchStatus,
)
from store.validation import HORIZON

PAUSE_MAX = timedelta(days=366)
PAUSE_HORIZON = HORIZON  # how far ahead the bot offers a school holiday's pause
# A pause for a school holiday is named so (a pause's reason, shown to staff), then the holiday.
HOLIDAY_PAUSE = N_("school holiday")


def family_pause(
    session: Session,
    match: Match,
    first_day: date,
    last_day: date,
    *,
    today: date,
    actor: str,
    reason: str = "telegram",
) -> MatchPause:
    """Pause visit prompts and missed-visit rules from ``first_day`` to ``last_day`` inclusive.

    Raises :class:`VisitError` ("date") for a pause in the past, more than two years ahead,
    backwards or over a year, and
    ("overlap") when it overlaps a pause already there.
    """
    if match.status == MatchStatus.ENDED:
        raise VisitError("state")
    if first_day < today or last_day < first_day or last_day - first_day > PAUSE_MAX:
        raise VisitError("date")
    try:
        match_ops.check_near(first_day, last_day)  # the domain's range, before a day is added
        return match_ops.pause(
            session, match, first_day, last_day + timedelta(days=1), reason, actor
        )
    except match_ops.FarDate as exc:
        raise VisitError("date") from exc
    except match_ops.MatchError as exc:
        raise VisitError("overlap") from exc


def holiday_answer(
    session: Session,
    match: Match,
    kind: str,
    first_day: date,
    last_day: date,
    *,
    goes_on: bool,
    today: date,
    actor: str,
) -> MatchPause | None:
    """The family's answer to "do visits go on in the school holiday?".

    No: the visit prompts and missed-visit rules pause from ``first_day`` (or today, when the
    holiday has begun) to ``last_day``, with the holiday as the pause's reason. Yes: noted in
    the audit trail, nothing changes. Raises :class:`VisitError` ("date") once the holiday is
    over, and ("overlap") when a pause covers part of it already.
    """
    if last_day < today:
        raise VisitError("date")
    if goes_on:
        if match.status == MatchStatus.ENDED:
            raise VisitError("state")
        record(
            session,
            actor,
            "match.holiday_visits",
            "match",
            match.id,
            holiday=f"{kind}-{first_day.year}",
        )
        return None
    return family_pause(
        session,
        match,
        max(first_day, today),
        last_day,
        today=today,
        actor=actor,
        reason=f"{HOLIDAY_PAUSE} {kind}-{first_day.year}",
    )
