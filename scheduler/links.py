"""Signed links in messages: survey links and unsubscribe links.

Survey invitations: one per match, survey, wave and contact person, each with a personal link.

The link token is an HMAC of a random 128-bit nonce under the application secret, so a reminder
can repeat the same link without the token itself being stored; the database keeps only its
sha256 for lookup.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import secrets as app_secrets
from store.models import ContactPerson, SurveyInvitation

LINK_LIFETIME = timedelta(days=90)


def _token(secret: str, invitation_id: int, nonce: str) -> str:
    digest = hmac.new(
        secret.encode(), f"survey:{invitation_id}:{nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def secret_for(session: Session, override: str | None = None) -> str:
    return override or app_secrets.get_or_create(session, "links")


def invitation_for(
    session: Session,
    match_id: int,
    contact_id: int | None,
    survey: str,
    wave: str,
    now: datetime,
    secret: str,
    *,
    family_id: int | None = None,
) -> tuple[SurveyInvitation, str]:
    """The invitation and its link token, created on first use. The respondent is a contact
    person, or with ``family_id`` the volunteer family (the child's voice relayed by them)."""
    respondent = (
        SurveyInvitation.volunteer_family_id == family_id
        if family_id is not None
        else SurveyInvitation.contact_person_id == contact_id
    )
    invitation = session.scalars(
        select(SurveyInvitation).where(
            SurveyInvitation.match_id == match_id,
            respondent,
            SurveyInvitation.survey_id == survey,
            SurveyInvitation.wave == wave,
        )
    ).first()
    if invitation is None:
        invitation = SurveyInvitation(
            match_id=match_id,
            contact_person_id=None if family_id is not None else contact_id,
            volunteer_family_id=family_id,
            survey_id=survey,
            wave=wave,
            nonce=secrets.token_hex(16),
            token_hash=f"pending-{secrets.token_hex(16)}",
            expires_at=now + LINK_LIFETIME,
        )
        session.add(invitation)
        session.flush()
        invitation.token_hash = token_hash(_token(secret, invitation.id, invitation.nonce))
    return invitation, _token(secret, invitation.id, invitation.nonce)


def find_by_token(session: Session, token: str) -> SurveyInvitation | None:
    if not token or len(token) > 100:
        return None
    return session.scalars(
        select(SurveyInvitation).where(SurveyInvitation.token_hash == token_hash(token))
    ).first()


# -- email: unsubscribe links ----------------------------------------------------------------


def unsubscribe_mac(secret: str, contact_id: int, email: str) -> str:
    digest = hmac.new(
        secret.encode(), f"unsubscribe:{contact_id}:{email.lower()}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def unsubscribe_token(secret: str, contact: ContactPerson) -> str | None:
    """The token of the contact's unsubscribe link: their id and a 128-bit MAC over the id and
    the address, so a link in an old mail stops working when the address changes."""
    if not contact.email:
        return None
    return f"{contact.id}.{unsubscribe_mac(secret, contact.id, contact.email)}"


# -- moments shared with the parent: the page that shows a greeting and its photo -------------


def moment_mac(secret: str, moment_id: int, contact_id: int) -> str:
    digest = hmac.new(
        secret.encode(), f"moment:{moment_id}:{contact_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def moment_token(secret: str, moment_id: int, contact_id: int) -> str:
    """The token of one parent's link to one moment: the ids and a 192-bit MAC over them. It is
    never stored; the page checks the MAC and the moment's expiry (``photo_until``)."""
    return f"{moment_id}.{contact_id}.{moment_mac(secret, moment_id, contact_id)}"
