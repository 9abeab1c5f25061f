"""A volunteer family's calendar: visit days, sparring sessions (with their link) and the
anniversary, as an iCalendar feed a phone's calendar app subscribes to.

The family gets the feed's address with ``/calendar`` in the bot. The address holds a token of
43 characters (256 bits) of which only the sha256 is stored; it works until it is revoked (a new
``/calendar new``, ``/calendar stop``, or ``venskab calendar revoke REF``), and then answers 404.

Times are written with the family's time zone (a ``VTIMEZONE`` is included), so a visit at 15:30
stays at 15:30 in the calendar across a change to or from daylight saving time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from scheduler import i18n
from scheduler.facts import facts_for, local_today
from scheduler.i18n import N_
from scheduler.programme import Kind, Programme
from scheduler.timeline import occurrences, planned_end
from store.audit import record
from store.models import (
    Cadence,
    CalendarFeed,
    Match,
    MatchStatus,
    SparringSession,
    VolunteerFamily,
)

TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}", re.ASCII)
PATH = "/calendar/{token}.ics"
# What the feed shows: from a few weeks back to a year ahead.
PAST = timedelta(days=28)
AHEAD = timedelta(days=400)
VISIT_LENGTH = timedelta(hours=2)
SPARRING_LENGTH = timedelta(hours=1, minutes=30)

# What the feed's events say (message ids, read in the family's language by :func:`_say`).
WORDS = {
    "visit": N_("Visit: %(child)s"),
    "visit_note": N_(
        "%(child)s visits %(family)s. Cancelled or moved? Answer the visit message in Telegram."
    ),
    "sparring": N_("Group sparring (%(programme)s)"),
    "sparring_link": N_("Link to the meeting: %(url)s"),
    "sparring_nolink": N_("The link to the meeting comes the day before."),
    "anniversary": N_("Anniversary: %(child)s and %(family)s"),
    "anniversary_note": N_(
        "A year as a volunteer family. We say goodbye and thank you, and ask how the year went."
    ),
    "name": N_("%(family)s: visits and dates"),
}


def _say(key: str, locale: str, **values: str) -> str:
    try:
        texts = i18n.texts(locale)
    except LookupError:
        texts = i18n.texts("da")
    return texts.gettext(WORDS[key], **values)


class LinkSettings(Protocol):
    @property
    def public_url(self) -> str | None: ...
    @property
    def http_host(self) -> str: ...
    @property
    def http_port(self) -> int: ...


def base_url(settings: LinkSettings) -> str:
    """Where the web side is reached: ``VENSKAB_PUBLIC_URL``, else the configured host and port."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return f"http://{settings.http_host}:{settings.http_port}"


def feed_url(base: str, token: str) -> str:
    return base.rstrip("/") + PATH.format(token=token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- the feed's address ----------------------------------------------------------------------


def active_feed(session: Session, family_id: int) -> CalendarFeed | None:
    return session.scalars(
        select(CalendarFeed)
        .where(CalendarFeed.volunteer_family_id == family_id, CalendarFeed.revoked_at.is_(None))
        .order_by(CalendarFeed.id.desc())
    ).first()


def issue_feed(session: Session, family_id: int, now: datetime, actor: str) -> str:
    """A new address for the family's calendar; any earlier one stops working. Returns the
    token (shown once, never stored)."""
    revoke_feeds(session, family_id, now, actor)
    token = secrets.token_urlsafe(32)
    row = CalendarFeed(
        token_hash=token_hash(token),
        volunteer_family_id=family_id,
        created_by=actor[:64],
        created_at=now,
    )
    session.add(row)
    session.flush()
    record(session, actor, "calendar.issue", "volunteer_family", family_id, feed=row.id)
    return token


def revoke_feeds(session: Session, family_id: int, now: datetime, actor: str) -> int:
    """Stop every address of the family's calendar; returns how many were active."""
    result = session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.volunteer_family_id == family_id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        record(session, actor, "calendar.revoke", "volunteer_family", family_id, feeds=count)
    return count


def family_for_token(session: Session, token: str) -> VolunteerFamily | None:
    """The family whose active feed ``token`` opens; None for anything else (reads only)."""
    if not TOKEN_SHAPE.fullmatch(token or ""):
        return None
    feed = session.scalars(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == token_hash(token), CalendarFeed.revoked_at.is_(None)
        )
    ).first()
    if feed is None:
        return None
    return session.get(VolunteerFamily, feed.volunteer_family_id)


# -- the calendar ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    uid: str
    summary: str
    start: datetime | date
    end: datetime | date
    description: str = ""
    url: str | None = None


def entries(
    session: Session,
    family: VolunteerFamily,
    programmes: Mapping[str, Programme],
    now: datetime,
) -> list[Entry]:
    """What the family's calendar shows, from a few weeks back to a year ahead."""
    locale = family.locale.value
    zone = ZoneInfo(family.timezone)
    today = local_today(now, family.timezone)
    first, last = today - PAST, today + AHEAD
    found: list[Entry] = []
    matches = session.scalars(
        select(Match)
        .where(Match.volunteer_family_id == family.id, Match.status != MatchStatus.ENDED)
        .order_by(Match.id)
    ).all()
    for match in matches:
        programme = programmes.get(match.programme.slug)
        if programme is None:
            continue
        facts = facts_for(session, match, programme)
        child = match.child.first_name
        names = {"child": child, "family": family.name, "programme": programme.name}
        seen_sessions: set[str] = set()
        for occ in occurrences(programme, facts, now):
            if not first <= occ.day <= last:
                continue
            tp = occ.touchpoint
            if tp.kind == Kind.VISIT_PROMPT and match.cadence != Cadence.TWO_THREE_MONTHLY:
                start: datetime | date = occ.day
                end: datetime | date = occ.day + timedelta(days=1)
                if match.visit_time is not None:
                    start = datetime.combine(occ.day, match.visit_time, tzinfo=zone)
                    end = start + VISIT_LENGTH
                found.append(
                    Entry(
                        f"visit-{match.id}-{occ.day.isoformat()}@venskab",
                        _say("visit", locale, **names),
                        start,
                        end,
                        _say("visit_note", locale, **names),
                    )
                )
            elif occ.session is not None and occ.session.key not in seen_sessions:
                seen_sessions.add(occ.session.key)
                starts = occ.session.starts_at.astimezone(zone)
                link = None
                if occ.session.session_id is not None:
                    row = session.get(SparringSession, occ.session.session_id)
                    link = row.meeting_link if row is not None else None
                note = (
                    _say("sparring_link", locale, url=link)
                    if link
                    else _say("sparring_nolink", locale)
                )
                found.append(
                    Entry(
                        f"sparring-{match.programme_id}-{occ.session.key}-{match.id}@venskab",
                        _say("sparring", locale, **names),
                        starts,
                        starts + SPARRING_LENGTH,
                        note,
                        link,
                    )
                )
        end_day = planned_end(programme, facts)
        if end_day is not None and first <= end_day <= last:
            found.append(
                Entry(
                    f"anniversary-{match.id}@venskab",
                    _say("anniversary", locale, **names),
                    end_day,
                    end_day + timedelta(days=1),
                    _say("anniversary_note", locale, **names),
                )
            )
    return sorted(found, key=lambda e: (_sort_key(e.start, zone), e.uid))


def _sort_key(value: datetime | date, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, datetime.min.time(), tzinfo=zone)


def calendar_bytes(
    session: Session,
    family: VolunteerFamily,
    programmes: Mapping[str, Programme],
    now: datetime,
) -> bytes:
    """The family's calendar as an iCalendar (RFC 5545) document."""
    locale = family.locale.value
    calendar = Calendar()
    calendar.add("prodid", "-//venskab//calendar feed//DA")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _say("name", locale, family=family.name))
    calendar.add("x-wr-timezone", family.timezone)
    calendar.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT6H")
    stamp = now.replace(microsecond=0)
    for entry in entries(session, family, programmes, now):
        event = Event()
        event.add("uid", entry.uid)
        event.add("dtstamp", stamp)
        event.add("summary", entry.summary)
        event.add("dtstart", entry.start)
        event.add("dtend", entry.end)
        if entry.description:
            event.add("description", entry.description)
        if entry.url:
            event.add("url", entry.url)
        event.add("transp", "OPAQUE" if isinstance(entry.start, datetime) else "TRANSPARENT")
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
