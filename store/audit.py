"""The audit trail: who did what to which record. Never phone numbers, emails or free text."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from store.models import AuditEntry


def record(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    **details: Any,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor, action=action, entity=entity, entity_id=entity_id, details=details
    )
    session.add(entry)
    return entry
