"""Reading dates people type, and writing plans and long texts for Telegram."""

from __future__ import annotations

import re
from datetime import date, datetime

from babel.dates import format_date, format_time

from followup.yearplan import BABEL_LOCALES, PlanRow, channel_for, fmt_date, label, year_plan
from scheduler import i18n
from scheduler.channels.telegram import utf16_length
from scheduler.programme import AudienceName, Kind, Programme
from scheduler.recipients import Recipient
from scheduler.timeline import MatchFacts, occurrences

TEXT_MAX = 4096  # Telegram's limit for one message

_MONTHS = {
    "jan": 1,
    "januar": 1,
    "january": 1,
    "feb": 2,
    "februar": 2,
    "february": 2,
    "mar": 3,
    "marts": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "maj": 5,
    "may": 5,
    "jun": 6,
    "juni": 6,
    "june": 6,
    "jul": 7,
    "juli": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "okt": 10,
    "oct": 10,
    "oktober": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}
_DATE = re.compile(
    r"(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
    r"|(?P<nd>\d{1,2})[./](?P<nm>\d{1,2})(?:[./](?P<ny>\d{4}|\d{2}))?"
    r"|(?P<wd>\d{1,2})\.?\s*(?P<wm>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b\.?"
    r"(?:\s*(?P<wy>\d{4}))?",
    re.IGNORECASE,
)

# -- dates people type -------------------------------------------------------------------------


def _dates(text: str) -> list[tuple[int | None, int, int]]:
    """(year or None, month, day) for every date-like part of ``text``, left to right."""
    found: list[tuple[int | None, int, int]] = []
    for m in _DATE.finditer(text[:200]):
        if m["iy"]:
            found.append((int(m["iy"]), int(m["im"]), int(m["id"])))
        elif m["nd"]:
            found.append((_year(m["ny"]), int(m["nm"]), int(m["nd"])))
        else:
            found.append((_year(m["wy"]), _MONTHS[m["wm"].lower()], int(m["wd"])))
    return found


def _year(text: str | None) -> int | None:
    if not text:
        return None
    year = int(text)
    return year + 2000 if year < 100 else year


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_day(text: str, near: date) -> date | None:
    """One date such as ``12/3``, ``12.3.2026``, ``2026-03-12`` or ``12. marts``; without a year,
    the one closest to ``near``."""
    found = _dates(text)
    if len(found) != 1:
        return None
    year, month, day = found[0]
    if year:
        return _make(year, month, day)
    candidates = [_make(near.year + k, month, day) for k in (-1, 0, 1)]
    valid = [c for c in candidates if c is not None]
    return min(valid, key=lambda c: abs((c - near).days)) if valid else None


def parse_period(text: str, today: date) -> tuple[date, date] | None:
    """Two dates, first and last day, e.g. ``1/7-9/8`` or ``1. juli til 9. august``. Without a
    year the first day is the next such date from today, the last the next from the first."""
    found = _dates(text)
    if len(found) != 2:
        return None
    (y1, m1, d1), (y2, m2, d2) = found
    if y1:
        first = _make(y1, m1, d1)
    else:
        first = _make(today.year, m1, d1)
        if first is not None and first < today:
            first = _make(today.year + 1, m1, d1)
    if first is None:
        return None
    if y2:
        last = _make(y2, m2, d2)
    else:
        last = _make(first.year, m2, d2)
        if last is not None and last < first:
            last = _make(first.year + 1, m2, d2)
    if last is None:
        return None
    return first, last


def short_day(day: date, locale: str) -> str:
    """ "tir. 10. mar." / "Tue 10 Mar": fits on a button."""
    pattern = "EEE d. MMM" if locale == "da" else "EEE d MMM"
    return format_date(day, pattern, locale=BABEL_LOCALES.get(locale, locale))


def day_span(first: date, last: date, locale: str) -> str:
    """ "12.–18. oktober" / "12–18 October"; "20. december–4. januar" across months."""
    babel = BABEL_LOCALES.get(locale, "da_DK")
    dot = "." if locale == "da" else ""
    end = format_date(last, f"d{dot} MMMM", locale=babel)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}{dot}–{end}"
    return f"{format_date(first, f'd{dot} MMMM', locale=babel)}–{end}"


def long_day(day: date | datetime, locale: str) -> str:
    """ "mandag den 9. marts 2026" / "Monday, 9 March 2026"."""
    return fmt_date(day, locale, "full")


# -- plans -------------------------------------------------------------------------------------


def _for_family(programme: Programme, row: PlanRow) -> bool:
    """Rows a volunteer family should see: what is sent to them or done with them, plus the
    start and the end. Staff-internal steps (invoices, calls to the parent) are left out."""
    if row.touchpoint_id is None:
        return True
    try:
        tp = programme.touchpoint(row.touchpoint_id)
    except KeyError:
        return False
    return AudienceName.VOLUNTEER_FAMILY in (tp.audience, tp.counterpart)


def plan_text(
    programme: Programme,
    facts: MatchFacts,
    now: datetime,
    locale: str,
    title: str,
    legend: str,
    family: Recipient | None = None,
) -> str:
    """The family's plan; with ``family``, each message names the channel it comes by."""
    rows = [r for r in year_plan(programme, facts, now, locale) if _for_family(programme, r)]
    lines = [title, ""]
    for row in rows:
        mark = "✓" if row.past else "•"
        how = ""
        if family is not None and row.touchpoint_id is not None:
            tp = programme.touchpoint(row.touchpoint_id)
            if tp.audience == AudienceName.VOLUNTEER_FAMILY and tp.channels:
                how = f" ({channel_name(i18n.texts(locale), channel_for(tp, family))})"
        lines.append(f"{mark} {fmt_date(row.day, locale, 'medium')}: {row.what}{how}")
    lines += ["", legend]
    return "\n".join(lines)


def channel_name(texts: i18n.Texts, channel: str | None) -> str:
    """How a message comes, as a family reads it in its plan."""
    if channel == "telegram":
        return texts.pgettext("channel", "Telegram")
    if channel == "sms":
        return texts.pgettext("channel", "SMS")
    if channel == "email":
        return texts.pgettext("channel", "email")
    if channel == "voice":
        return texts.pgettext("channel", "call")
    return texts.pgettext("channel", "no channel")


def next_things(
    programme: Programme, facts: MatchFacts, now: datetime, locale: str
) -> tuple[date | None, tuple[str, date] | None]:
    """The next visit day, and the next other thing the family will notice (what, when)."""
    visit = None
    event = None
    for occ in occurrences(programme, facts, now):
        if occ.due <= now:
            continue
        tp = occ.touchpoint
        if tp.kind == Kind.VISIT_PROMPT:
            visit = visit or occ.day
        elif tp.kind == Kind.HOLIDAY_QUESTION:
            continue  # a question about the visits, not an event of its own
        elif event is None and AudienceName.VOLUNTEER_FAMILY in (tp.audience, tp.counterpart):
            what = label(tp, locale)
            if occ.session is not None:
                starts = occ.session.starts_at
                what = i18n.texts(locale).gettext(
                    "%(what)s (sparring %(date)s at %(time)s)",
                    what=what,
                    date=fmt_date(starts, locale, "long"),
                    time=format_time(starts, "HH:mm"),
                )
            event = (what, occ.day)
        if visit is not None and event is not None:
            break
    return visit, event


# -- long texts --------------------------------------------------------------------------------


def chunks(text: str, limit: int = TEXT_MAX) -> list[str]:
    """Split ``text`` into messages Telegram accepts (``limit`` UTF-16 units each), at line
    breaks where possible."""
    text = text if text.strip() else "…"
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while utf16_length(line) > limit:
            if current:
                parts.append(current)
                current = ""
            head = _head(line, limit)
            parts.append(head)
            line = line[len(head) :]
        candidate = f"{current}\n{line}" if current else line
        if utf16_length(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        parts.append(current)
    return [p for p in parts if p.strip()] or ["…"]


def _head(line: str, limit: int) -> str:
    """The longest start of ``line`` within ``limit`` UTF-16 units, never half an emoji."""
    return line.encode("utf-16-le")[: limit * 2].decode("utf-16-le", errors="ignore")
