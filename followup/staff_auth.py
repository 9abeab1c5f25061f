"""Staff sign-in for the web app: passwords (argon2id), sessions, and who may see which match.

A password is stored only as its argon2id hash, with OWASP's recommended parameters (19 MiB of
memory, 2 passes, 1 lane: about 20 ms here, so a burst of logins cannot exhaust the server's
memory); a hash made with other parameters is re-made at the next login. A session is a random
token in the browser's cookie; the database keeps its sha256, the staff member and the
session's CSRF token. A new password ends every session of that staff member.

Who sees what: a procesleder the matches she follows, a coordinator every match of the
programmes she coordinates (those of her region's matches, or every one when she has no
region), an admin everything.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import ColumnElement, delete, false, func, select, true
from sqlalchemy.orm import Session

from followup.refused import Refused
from followup.said import said
from store.audit import record
from store.models import Match, Staff, StaffCredential, StaffRole, StaffSession

HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# A hash to verify against when the account does not exist, so the answer takes as long.
_DUMMY = HASHER.hash("no such account")
MIN_LENGTH = 10
MAX_LENGTH = 256
SESSION_LIFETIME = timedelta(hours=12)
IDLE_LIFETIME = timedelta(hours=2)


class PasswordError(Refused):
    """The password is not acceptable; the message says why."""


def check_new_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise PasswordError(said("the password must have at least %(n)d characters", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        raise PasswordError(said("the password must have at most %(n)d characters", n=MAX_LENGTH))
    if password.strip() != password or any(ord(c) < 32 for c in password):
        raise PasswordError(
            said("the password must not start or end with spaces or hold control keys")
        )
    return password


def set_password(session: Session, staff: Staff, password: str, now: datetime, actor: str) -> None:
    """Set (or replace) the staff member's password; their sessions end."""
    hashed = HASHER.hash(check_new_password(password))
    credential = session.get(StaffCredential, staff.id)
    if credential is None:
        session.add(StaffCredential(staff_id=staff.id, password_hash=hashed, changed_at=now))
    else:
        credential.password_hash = hashed
        credential.changed_at = now
    session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
    session.flush()
    record(session, actor, "staff.password", "staff", staff.id)


def find_staff(session: Session, login: str) -> Staff | None:
    """The active staff member with this email address (any case) or ref."""
    login = login.strip()
    if not login or len(login) > 254 or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in login):
        return None  # no account has a name like that (and PostgreSQL refuses NUL in text)
    if "@" in login:
        query = select(Staff).where(func.lower(Staff.email) == login.lower())
    else:
        query = select(Staff).where(func.lower(Staff.external_ref) == login.lower())
    staff = session.scalars(query.where(Staff.active.is_(True))).first()
    return staff


def verify(session: Session, login: str, password: str) -> Staff | None:
    """The staff member when the password is theirs, else None (in about the same time)."""
    staff = find_staff(session, login)
    credential = session.get(StaffCredential, staff.id) if staff is not None else None
    if staff is None or credential is None:
        with contextlib.suppress(VerificationError):
            HASHER.verify(_DUMMY, password[:MAX_LENGTH])
        return None
    try:
        HASHER.verify(credential.password_hash, password[:MAX_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if HASHER.check_needs_rehash(credential.password_hash):
        credential.password_hash = HASHER.hash(password)
    return staff


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, staff: Staff, now: datetime) -> str:
    """A new session for ``staff``; returns the cookie's token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=_digest(token),
            staff_id=staff.id,
            csrf=secrets.token_urlsafe(24),
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    # Forget this staff member's expired sessions while we are here.
    session.execute(
        delete(StaffSession).where(StaffSession.staff_id == staff.id, StaffSession.expires_at < now)
    )
    session.flush()
    record(session, f"staff:{staff.id}", "staff.login", "staff", staff.id)
    return token


def session_for(session: Session, token: str, now: datetime) -> tuple[Staff, StaffSession] | None:
    """The signed-in staff member and the session for a cookie's token, if it is still valid
    (neither past its lifetime nor idle too long); seeing it renews the idle time."""
    if not token or len(token) > 100:
        return None
    row = session.scalars(
        select(StaffSession).where(StaffSession.token_hash == _digest(token))
    ).first()
    if row is None or row.expires_at <= now or row.last_seen_at + IDLE_LIFETIME <= now:
        return None
    staff = session.get(Staff, row.staff_id)
    if staff is None or not staff.active:
        return None
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
    return staff, row


def end_session(session: Session, token: str) -> None:
    row = session.scalars(
        select(StaffSession).where(StaffSession.token_hash == _digest(token))
    ).first()
    if row is not None:
        record(session, f"staff:{row.staff_id}", "staff.logout", "staff", row.staff_id)
        session.delete(row)


# -- who sees which match -------------------------------------------------------------------------


def visible(staff: Staff) -> ColumnElement[bool]:
    """The matches ``staff`` may see, as a condition on :class:`Match`."""
    if staff.role == StaffRole.ADMIN:
        return true()
    if staff.role == StaffRole.COORDINATOR:
        if not staff.region:
            return true()
        return (Match.region == staff.region) | (Match.staff_id == staff.id)
    if staff.role == StaffRole.PROCESLEDER:
        return Match.staff_id == staff.id
    return false()


def may_see(staff: Staff, match: Match) -> bool:
    if staff.role == StaffRole.ADMIN:
        return True
    if staff.role == StaffRole.COORDINATOR:
        return not staff.region or match.region == staff.region or match.staff_id == staff.id
    return match.staff_id == staff.id
