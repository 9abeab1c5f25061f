"""Application secrets kept in the database, so that every replica signs links alike."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from store.models import AppSecret
from store.queries import insert_ignore


def get_or_create(session: Session, name: str) -> str:
    """The named secret, created (race-free across replicas) on first use."""
    existing = session.get(AppSecret, name)
    if existing is not None:
        return existing.value
    insert_ignore(session, AppSecret, [{"name": name, "value": secrets.token_urlsafe(48)}], "name")
    row = session.get(AppSecret, name, populate_existing=True)
    assert row is not None
    return row.value
