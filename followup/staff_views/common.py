"""What several staff views share: which outbox and visit states count as sent and done, and who a
match is about."""

from __future__ import annotations

from store.models import Match, OutboxStatus, VisitStatus

DONE_VISITS = {VisitStatus.VISITED, VisitStatus.MOVED}
SENT = {OutboxStatus.SENT, OutboxStatus.DELIVERED}
NOT_SENT = {OutboxStatus.FAILED, OutboxStatus.EXPIRED, OutboxStatus.UNKNOWN}


def who(match: Match | None) -> tuple[str, str]:
    if match is None:
        return "", ""
    return match.child.first_name, match.volunteer_family.name
