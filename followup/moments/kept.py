"""How long a moment is kept: its rows in a person's data export, erasure, and the expiry of drafts
and photos."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from followup.moments.compose import DRAFT_TTL
from store.models import Moment

# -- people's data ---------------------------------------------------------------------------


def export_rows(session: Session, match_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The moments of these matches, as a family's export shows them: the text, and the photo
    while it is kept (base64, with its type and size)."""
    if not match_ids:
        return []
    return [
        {
            "id": m.id,
            "match_id": m.match_id,
            "text": m.text,
            "had_photo": m.had_photo,
            "photo_type": m.photo_type,
            "photo_size": m.photo_size,
            "photo_base64": base64.b64encode(m.photo).decode() if m.photo is not None else None,
            "photo_until": m.photo_until,
            "created_at": m.created_at,
            "sent_at": m.sent_at,
        }
        for m in session.scalars(
            select(Moment).where(Moment.match_id.in_(list(match_ids))).order_by(Moment.id)
        )
    ]


def erase(session: Session, match_ids: Sequence[int]) -> int:
    """Clear the moments' text and photos (kept: dates and that a photo was shared); drafts go."""
    if not match_ids:
        return 0
    ids = list(match_ids)
    session.execute(
        delete(Moment)
        .where(Moment.match_id.in_(ids), Moment.sent_at.is_(None))
        .execution_options(synchronize_session=False)
    )
    found = list(
        session.scalars(
            select(Moment.id).where(
                Moment.match_id.in_(ids),
                or_(Moment.text.is_not(None), Moment.photo_type.is_not(None)),
            )
        )
    )
    _clear(session, found, text=True)
    return len(found)


def expire(session: Session, now: datetime) -> dict[str, int]:
    """Retention: drafts older than :data:`DRAFT_TTL` go, photos whose link expired go."""
    drafts = list(
        session.scalars(
            select(Moment.id).where(Moment.sent_at.is_(None), Moment.created_at < now - DRAFT_TTL)
        )
    )
    if drafts:
        session.execute(
            delete(Moment).where(Moment.id.in_(drafts)).execution_options(synchronize_session=False)
        )
    photos = list(
        session.scalars(
            select(Moment.id).where(Moment.photo_type.is_not(None), Moment.photo_until <= now)
        )
    )
    _clear(session, photos, text=False)
    return {"moment_drafts": len(drafts), "moment_photos": len(photos)}


def _clear(session: Session, ids: list[int], *, text: bool) -> None:
    """Counted by the caller from the ids: a bulk update's row count is not reliable on every
    driver when the ORM synchronises the session."""
    values: dict[str, Any] = {"photo": None, "photo_type": None, "photo_size": None}
    if text:
        values["text"] = None
    for start in range(0, len(ids), 500):
        session.execute(
            update(Moment)
            .where(Moment.id.in_(ids[start : start + 500]))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if ids:
        session.expire_all()
