"""How a case can end, and how long it can wait: the fixed choices staff are offered.

Resolving a case records one of a few outcomes (and an optional note), so colleagues and the
reports can tell a talk with the family from a report of concern or a false alarm. Snoozing
offers a day, three days, a week or two weeks; the email page also takes a date.
"""

from __future__ import annotations

from datetime import timedelta

from scheduler import i18n
from scheduler.i18n import N_
from store.models import ResolutionOutcome

# Each outcome's words, as staff read them (message ids, translated where they are read).
OUTCOMES: dict[ResolutionOutcome, str] = {
    ResolutionOutcome.HANDLED: N_("Handled: we talked with the family"),
    ResolutionOutcome.REPORTED: N_("Report of concern filed with the municipality"),
    ResolutionOutcome.REFERRED: N_("Referred on to other help"),
    ResolutionOutcome.NO_ACTION: N_("No action needed (a false alarm)"),
    ResolutionOutcome.MATCH_ENDED: N_("The match has ended"),
}
# The snooze choices, in days; a date chosen on the email page is at most PAGE_SNOOZE_DAYS ahead.
SNOOZE_DAYS = (1, 3, 7, 14)
PAGE_SNOOZE_DAYS = 60
NOTE_MAX = 2000


def outcome_of(value: object) -> ResolutionOutcome | None:
    """The outcome named by ``value`` (its code, e.g. ``handled``), or None."""
    try:
        return ResolutionOutcome(str(value))
    except ValueError:
        return None


def outcome_label(texts: i18n.Texts, outcome: ResolutionOutcome | None) -> str:
    if outcome is None:
        return texts.pgettext("case outcome", "not recorded")
    return texts.gettext(OUTCOMES[outcome])


def snooze_label(texts: i18n.Texts, days: int) -> str:
    """ "1 dag", "3 dage", "1 uge", "2 uger"."""
    if days % 7 == 0:
        weeks = days // 7
        return texts.ngettext("%(num)d week", "%(num)d weeks", weeks)
    return texts.ngettext("%(num)d day", "%(num)d days", days)


def snooze_span(days: object) -> timedelta | None:
    """One of the offered snoozes, from its number of days (as a button or a form sends it)."""
    try:
        number = int(str(days))
    except ValueError:
        return None
    return timedelta(days=number) if number in SNOOZE_DAYS else None
