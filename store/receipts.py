"""Webhooks recorded once per provider id, however often the provider delivers them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import WebhookReceipt


def first_delivery(session: Session, provider: str, key: str | None, now: datetime) -> bool:
    """Record the delivery ``key`` from ``provider``; False when it was recorded before.

    Without a key (a provider that sent none) every delivery counts as the first. The receipt
    belongs to the caller's transaction: if the handling fails and rolls back, a retry is
    handled again. Two deliveries at the same moment: one inserts, the other finds it.
    """
    if not key:
        return True
    key = key[:80]
    if session.get(WebhookReceipt, (provider, key)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(WebhookReceipt(provider=provider, key=key, received_at=now))
    except IntegrityError:
        return False
    return True
