"""A match's and a visit's status as staff read it, in their language (the bot's ``/match``, the
command line's ``match list`` and ``match show``)."""

from __future__ import annotations

from scheduler.i18n import Texts
from store.models import MatchStatus, VisitStatus


def match_status(texts: Texts, status: MatchStatus) -> str:
    if status == MatchStatus.WAITING:
        return texts.pgettext("match status", "waiting")
    if status == MatchStatus.PAUSED:
        return texts.pgettext("match status", "paused")
    if status == MatchStatus.ENDED:
        return texts.pgettext("match status", "ended")
    return texts.pgettext("match status", "active")


def visit_status(texts: Texts, status: VisitStatus) -> str:
    if status == VisitStatus.CANCELLED:
        return texts.pgettext("visit status", "cancelled")
    if status == VisitStatus.MOVED:
        return texts.pgettext("visit status", "moved")
    if status == VisitStatus.MISSED:
        return texts.pgettext("visit status", "not answered")
    return texts.pgettext("visit status", "visited")
