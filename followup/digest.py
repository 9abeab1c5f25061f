"""The daily digest: at 08:00 local on working days, each staff member gets one message with
today's tasks, open escalations, matches with missed visits, outstanding surveys and the coming
sparring sessions. Empty sections are left out; with nothing to say, nothing is sent. Without
tasks or open cases, the slower sections alone come once a week (on its first working day)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.alert_rows import cases_told_to
from followup.escalations import rule_title
from followup.yearplan import LABELS
from scheduler import i18n, outbox
from scheduler.programme import Programme
from scheduler.school_calendar import shipped_calendar
from scheduler.timeline import localize
from scheduler.working_days import is_working_day
from store.models import (
    Audience,
    AuditEntry,
    Channel,
    EscalationStatus,
    Match,
    MatchStatus,
    Severity,
    SparringSession,
    Staff,
    SurveyInvitation,
    Task,
    TaskStatus,
    Visit,
    VisitStatus,
)

DIGEST_AT = time(8, 0)


def plan_digests(session: Session, now: datetime) -> int:
    """Queue today's digest for every active staff member whose 08:00 has come (working days)."""
    rows: list[dict[str, Any]] = []
    for staff in session.scalars(select(Staff).where(Staff.active.is_(True))):
        zone = ZoneInfo(staff.timezone)
        local = now.astimezone(zone)
        if not is_working_day(local.date()) or local.time() < DIGEST_AT:
            continue
        channels = [
            c
            for c, on in ((Channel.TELEGRAM, staff.telegram_chat_id), (Channel.EMAIL, staff.email))
            if on
        ]
        for channel in channels:
            rows.append(
                {
                    "idempotency_key": outbox.key_for_digest(staff.id, local.date(), channel.value),
                    "match_id": None,
                    "touchpoint_id": "daily-digest",
                    "occurrence_key": local.date().isoformat(),
                    "kind": "digest",
                    "template": "daily_digest",
                    "audience": Audience.STAFF,
                    "recipient_id": staff.id,
                    "channel": channel,
                    "locale": staff.locale,
                    "essential": True,
                    "due_at": now,
                    "expires_at": localize(datetime.combine(local.date(), time(17, 0)), zone),
                    "plan_version": 0,
                    "context": {},
                }
            )
    return outbox.insert(session, [outbox.new_row(row) for row in rows])


def _age(days: int, texts: i18n.Texts) -> str:
    """How long a case has been open: "open 3 days", or "today"."""
    if days == 0:
        return texts.gettext("today")
    return texts.ngettext("open %(num)d day", "open %(num)d days", days)


def _case_lines(
    session: Session,
    staff: Staff,
    now: datetime,
    label: Mapping[int, str],
    programmes: Mapping[str, Programme],
) -> list[str]:
    """Each case not yet resolved, once, urgent first, with its age and how often it happened;
    acknowledged and snoozed ones are marked as such."""
    locale = staff.locale.value
    texts = i18n.texts(locale)
    statuses = (EscalationStatus.OPEN, EscalationStatus.ACKNOWLEDGED)
    cases = cases_told_to(session, staff, programmes, statuses)
    cases = sorted(cases, key=lambda e: e.severity != Severity.URGENT)
    lines = []
    for e in cases:
        title = rule_title(e.rule, locale)
        if e.severity == Severity.URGENT:
            title = texts.gettext("URGENT: %(what)s", what=title)
        mine = label.get(e.match_id) if e.match_id is not None else None
        who = f" – {mine}" if mine else _pair(session, e.match_id)
        zone = ZoneInfo(staff.timezone)
        days = (now.astimezone(zone).date() - e.created_at.astimezone(zone).date()).days
        notes = [_age(max(days, 0), texts)]
        if (e.evidence_count or 1) > 1:
            notes.append(texts.ngettext("%(num)d time", "%(num)d times", e.evidence_count))
        if e.status == EscalationStatus.ACKNOWLEDGED:
            notes.append(texts.gettext("acknowledged"))
        elif e.snoozed_until is not None and e.snoozed_until > now:
            until = e.snoozed_until.astimezone(ZoneInfo(staff.timezone))
            notes.append(texts.gettext("snoozed until %(date)s", date=f"{until:%d.%m}"))
        lines.append(f"#{e.id} {title}{who} ({', '.join(notes)})")
    return lines


def _pair(session: Session, match_id: int | None) -> str:
    """ " – Barn A & Familien Eksempel" for another staff member's match, or ""."""
    match = session.get(Match, match_id) if match_id is not None else None
    return f" – {match.child.first_name} & {match.volunteer_family.name}" if match else ""


# What makes a digest worth sending on any working day; the rest (missed visits, surveys still
# unanswered, coming sparring) changes slowly, so alone it comes once a week, on its first
# working day.
DAILY = ("tasks", "escalations")


def _first_working_day_of_week(day: date) -> bool:
    return not any(is_working_day(day - timedelta(days=n)) for n in range(1, day.weekday() + 1))


def _survey_name(wave: str, locale: str) -> str:
    """ "Spørgeskema ved start", as the year plan names it; never the survey's internal id."""
    names = LABELS.get(f"survey:{wave}")
    return names[locale] if names is not None else i18n.texts(locale).gettext("Survey")


HOLIDAY_AHEAD = timedelta(days=14)


def _holiday_name(texts: i18n.Texts, kind: str) -> str:
    """The holiday as a digest line names it: "efterårsferie" (indefinite, unlike the family's
    messages, which say "efterårsferien")."""
    names = {
        "winter": texts.pgettext("digest line", "winter holiday"),
        "easter": texts.pgettext("digest line", "Easter holiday"),
        "summer": texts.pgettext("digest line", "summer holiday"),
        "autumn": texts.pgettext("digest line", "autumn holiday"),
        "christmas": texts.pgettext("digest line", "Christmas holiday"),
    }
    return names.get(kind, kind)


def _holiday_lines(
    session: Session, matches: list[Match], label: Mapping[int, str], today: date, locale: str
) -> list[str]:
    """Each match (of a programme that asks families about school holidays) whose municipality
    has a school holiday starting within two weeks: the family's answer (a pause, visits as
    usual, or none yet) and the staff tasks that fall in it, so staff can move them ahead."""
    calendar = shipped_calendar()
    coming = []
    for match in matches:
        holiday = calendar.next_holiday(match.municipality or match.region, today)
        if holiday is not None and holiday.first <= today + HOLIDAY_AHEAD:
            coming.append((match, holiday))
    if not coming:
        return []
    ids = [m.id for m, _ in coming]
    going_on = {
        (a.entity_id, str((a.details or {}).get("holiday")))
        for a in session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "match.holiday_visits", AuditEntry.entity_id.in_(ids)
            )
        )
    }
    first_day = min(h.first for _, h in coming)
    last_day = max(h.last for _, h in coming)
    tasks = session.scalars(
        select(Task)
        .where(
            Task.match_id.in_(ids),
            Task.status == TaskStatus.OPEN,
            Task.due_at >= datetime.combine(first_day - timedelta(days=1), time(0), UTC),
            Task.due_at <= datetime.combine(last_day + timedelta(days=1), time(23, 59), UTC),
        )
        .order_by(Task.due_at)
    ).all()
    texts = i18n.texts(locale)
    lines = []
    for match, holiday in coming:
        zone = ZoneInfo(match.volunteer_family.timezone)
        if any(
            p.start_date <= holiday.first and (p.end_date is None or p.end_date > holiday.first)
            for p in match.pauses
        ):
            answer = texts.pgettext("school holiday answer", "a pause")
        elif (match.id, holiday.key) in going_on:
            answer = texts.pgettext("school holiday answer", "visits go on")
        else:
            answer = texts.pgettext("school holiday answer", "no answer yet")
        name = _holiday_name(texts, holiday.kind)
        line = f"{label[match.id]}: {name} {holiday.first:%d.%m}-{holiday.last:%d.%m}, {answer}"
        for task in tasks:
            due = task.due_at.astimezone(zone)
            if task.match_id == match.id and holiday.covers(due.date()):
                line += "; " + texts.gettext(
                    "task in the holiday: %(day)s %(title)s", day=f"{due:%d.%m}", title=task.title
                )
        lines.append(line)
    return lines


def digest_sections(
    session: Session, staff: Staff, now: datetime, programmes: Mapping[str, Programme]
) -> dict[str, list[str]]:
    """The digest's sections for one staff member, each a list of short lines; empty ones left out."""
    zone = ZoneInfo(staff.timezone)
    today = now.astimezone(zone).date()
    end_of_day = localize(datetime.combine(today, time(23, 59)), zone)
    matches = {
        m.id: m
        for m in session.scalars(
            select(Match).where(Match.staff_id == staff.id, Match.status != MatchStatus.ENDED)
        )
    }
    label = {
        mid: f"#{mid} {m.child.first_name} & {m.volunteer_family.name}"
        for mid, m in matches.items()
    }
    sections: dict[str, list[str]] = {}

    tasks = session.scalars(
        select(Task)
        .where(Task.owner_id == staff.id, Task.status == TaskStatus.OPEN, Task.due_at <= end_of_day)
        .order_by(Task.due_at)
    ).all()
    sections["tasks"] = [
        f"{'(!) ' if t.due_at.astimezone(zone).date() < today else ''}{t.due_at.astimezone(zone):%d.%m %H:%M} "
        f"{t.title}" + (f" – {label[t.match_id]}" if t.match_id in label else "")
        for t in tasks
    ]
    sections["escalations"] = _case_lines(session, staff, now, label, programmes)
    since = today - timedelta(days=14)
    missed = session.scalars(
        select(Visit).where(
            Visit.match_id.in_(list(matches)),
            Visit.planned_date >= since,
            Visit.planned_date <= today,  # a visit called off ahead has not been missed yet
            Visit.status.in_([VisitStatus.CANCELLED, VisitStatus.MISSED]),
        )
    ).all()
    counts: dict[int, int] = {}
    for visit in missed:
        counts[visit.match_id] = counts.get(visit.match_id, 0) + 1
    sections["missed_visits"] = [f"{label[mid]}: {n}" for mid, n in sorted(counts.items())]
    surveys = session.scalars(
        select(SurveyInvitation).where(
            SurveyInvitation.match_id.in_(list(matches)),
            SurveyInvitation.sent_at.is_not(None),
            SurveyInvitation.completed_at.is_(None),
            SurveyInvitation.expires_at > now,
        )
    ).all()
    locale = staff.locale.value
    texts = i18n.texts(locale)
    sections["surveys"] = [
        f"{label[s.match_id]}: "
        + (
            texts.gettext(
                "%(survey)s, sent %(date)s",
                survey=_survey_name(s.wave, locale),
                date=f"{s.sent_at.astimezone(zone):%d.%m}",
            )
            if s.sent_at
            else _survey_name(s.wave, locale)
        )
        for s in surveys
    ]
    programme_ids = {m.programme_id for m in matches.values()}
    sessions = session.scalars(
        select(SparringSession)
        .where(
            SparringSession.programme_id.in_(list(programme_ids)),
            SparringSession.starts_at >= now,
            SparringSession.starts_at <= now + timedelta(days=14),
        )
        .order_by(SparringSession.starts_at)
    ).all()
    sections["sparring"] = [
        f"{s.starts_at.astimezone(zone):%d.%m %H:%M} {s.programme.name}" for s in sessions
    ]
    asking = [
        m
        for m in matches.values()
        if (p := programmes.get(m.programme.slug)) is not None and p.asks_about_school_holidays
    ]
    sections["holidays"] = _holiday_lines(session, asking, label, today, locale)
    found = {key: items for key, items in sections.items() if items}
    if not any(key in found for key in DAILY) and not _first_working_day_of_week(today):
        return {}  # only the round-up sections: they come once a week, not every day
    return found
