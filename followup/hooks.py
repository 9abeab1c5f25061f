"""The domain's answers to what the engine asks (:mod:`scheduler.hooks`): problems become cases,
and staff messages say what the case or the digest says."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from followup.alert_content import staff_content
from followup.escalations import raise_escalation
from scheduler.hooks import EngineHooks, StaffContent
from scheduler.programme import Programme
from store.models import OutboxMessage, Staff


def engine_hooks(programmes: Mapping[str, Programme], public_url: str | None) -> EngineHooks:
    """The hooks the planner and the dispatcher are built with."""

    def content(
        session: Session, row: OutboxMessage, staff: Staff, now: datetime, secret: str
    ) -> StaffContent | None:
        return staff_content(session, row, staff, now, public_url, secret, programmes)

    return EngineHooks(report=raise_escalation, staff_content=content)
