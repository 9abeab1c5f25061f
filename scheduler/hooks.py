"""What the engine needs from the layer above it, as plain callables handed in.

The planner and the dispatcher meet problems (nobody can be reached, a message failed or may
have been sent) and send staff messages whose content is casework (an alert, a digest). The
engine knows neither cases nor digests: the composition root hands it the domain's functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from scheduler.channels.base import Button
from store.models import Match, OutboxMessage, Severity, Staff


class ReportProblem(Protocol):
    """Tell staff about a problem with a match: opens a case, or adds to the open one."""

    def __call__(
        self,
        session: Session,
        match: Match | None,
        rule: str,
        *,
        now: datetime,
        evidence: dict[str, Any],
        severity: Severity = ...,
        suggested_action: str = ...,
    ) -> object: ...


@dataclass(frozen=True)
class StaffContent:
    """What a staff message says: template variables, Telegram buttons, parts not to store."""

    context: dict[str, Any]
    buttons: tuple[tuple[Button, ...], ...] = ()
    secrets: tuple[str, ...] = field(default=())


class StaffContentFor(Protocol):
    """The content of a staff message at send time, or None when there is nothing to say."""

    def __call__(
        self, session: Session, row: OutboxMessage, staff: Staff, now: datetime, secret: str
    ) -> StaffContent | None: ...


@dataclass(frozen=True)
class EngineHooks:
    report: ReportProblem
    staff_content: StaffContentFor
