"""What a staff alert or digest says: one readable case, its evidence summarised.

An alert names what happened (in the template, per rule and language), the match (the child's
first name and the volunteer family), since when, how many times, what to do next and a link.
The evidence is summarised: counts, dates and the newest message cut to about 300 characters;
internal references (ids, keys) never reach the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from followup.alerts import ack_button, ack_token, policy_steps, resolve_button, snooze_button
from followup.escalations import NEXT_STEPS, RULES, UNKNOWN_NEXT_STEP, UNKNOWN_RULE
from scheduler.channels.base import Button
from scheduler.hooks import StaffContent
from scheduler.programme import Programme
from store.models import Escalation, EscalationStatus, Match, OutboxMessage, Severity, Staff

TEXT_LIMIT = 300


def shorten(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` on one line, cut at a word to at most ``limit`` characters with "…"."""
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…"


def _day(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def summarise(escalation: Escalation, zone: ZoneInfo) -> dict[str, Any]:
    """The case's evidence as a few plain facts for the templates."""
    items = list(escalation.evidence or [])
    newest = items[-1] if items else {}
    text = next(
        (
            str(e.get("text") or e.get("reason"))
            for e in reversed(items)
            if e.get("text") or e.get("reason")
        ),
        None,
    )
    latest = newest.get("at")
    visits = [d for d in (_day(v) for v in newest.get("visits") or []) if d]
    prompts = [d for d in (_day(v) for v in newest.get("prompts") or []) if d]
    return {
        "count": max(escalation.evidence_count or len(items), 1),
        "latest_at": datetime.fromisoformat(latest).astimezone(zone) if latest else None,
        "text": shorten(text) if text else None,
        "media": sum(int(e.get("media") or 0) for e in items),
        "visits": visits,
        "prompts": len(prompts),
        "first_prompt": prompts[0] if prompts else None,
        "days": newest.get("days"),
        "last_visit": _day(newest.get("last_visit")),
        "moods": [int(m) for m in newest.get("moods") or [] if isinstance(m, int)],
        "task": shorten(newest["task"], 120) if newest.get("task") else None,
        "due": _day(newest.get("due")),
        "channel": newest.get("channel"),
        "audience": newest.get("audience"),
        "behind": [
            {"party": b.get("party"), "due": _day(b.get("due"))}
            for b in newest.get("behind") or []
            if isinstance(b, dict) and _day(b.get("due"))
        ],
        "child": newest.get("child"),  # a grouped case (expired messages) names its newest child
    }


def _match_summary(
    match: Match | None, programmes: Mapping[str, Programme]
) -> dict[str, Any] | None:
    if match is None:
        return None
    programme = programmes.get(match.programme.slug)
    return {
        "id": match.id,
        "child": match.child.first_name,
        "family": match.volunteer_family.name,
        "programme": programme.name if programme else match.programme.name,
    }


def _still_news(escalation: Escalation | None, now: datetime) -> bool:
    """Open and not snoozed: an alert about it still has something to say."""
    if escalation is None or escalation.status != EscalationStatus.OPEN:
        return False
    return escalation.snoozed_until is None or escalation.snoozed_until <= now


def _case(
    session: Session,
    escalation: Escalation,
    staff: Staff,
    push: int,
    public_url: str | None,
    secret: str,
    programmes: Mapping[str, Programme],
) -> tuple[dict[str, Any], str]:
    """One case as the templates see it (``escalation``, ``match``, ``ack_url``), and the
    token in its link (kept out of the stored body)."""
    zone = ZoneInfo(staff.timezone)
    match = session.get(Match, escalation.match_id) if escalation.match_id else None
    programme = programmes.get(match.programme.slug) if match is not None else None
    token = ack_token(secret, escalation.id, staff.id)
    context = {
        "escalation": {
            "id": escalation.id,
            "rule": escalation.rule,
            "urgent": escalation.severity == Severity.URGENT,
            "since": escalation.created_at.astimezone(zone),
            "push": push,
            "last_push": escalation.level >= len(policy_steps(escalation, programme)),
            # Message ids: the template reads them in its own language.
            "title": RULES.get(escalation.rule, UNKNOWN_RULE),
            "next_step": NEXT_STEPS.get(escalation.rule, UNKNOWN_NEXT_STEP),
            **summarise(escalation, zone),
        },
        "match": _match_summary(match, programmes),
        "ack_url": f"{public_url or 'http://127.0.0.1:8000'}/ack/{token}",
    }
    return context, token


def _group_content(
    session: Session,
    row: OutboxMessage,
    staff: Staff,
    now: datetime,
    public_url: str | None,
    secret: str,
    programmes: Mapping[str, Programme],
    base: dict[str, Any],
) -> StaffContent | None:
    """Several new cases in one message: one line each, a button and a link each. Cases
    acknowledged or snoozed since are left out; a single one left reads as a single alert."""
    ids = [int(i) for i in (row.context or {}).get("escalation_ids", [])]
    # How many pushes each case had before this one (0: a group of new cases).
    before = dict(zip(ids, (row.context or {}).get("pushes") or [0] * len(ids), strict=False))
    found = [session.get(Escalation, i) for i in ids]
    open_ones = [e for e in found if e is not None and _still_news(e, now)]
    if not open_ones:
        return None
    cases, tokens = [], []
    for escalation in open_ones:
        push = int(before.get(escalation.id, 0)) + 1
        case, token = _case(session, escalation, staff, push, public_url, secret, programmes)
        cases.append(case)
        tokens.append(token)
    locale = staff.locale.value
    if len(cases) == 1:
        single = _buttons(open_ones[0].id, locale)
        return StaffContent({**base, **cases[0]}, single, tuple(tokens))
    buttons = tuple(
        (
            ack_button(e.id, locale, numbered=True),
            snooze_button(e.id, locale, numbered=True),
            resolve_button(e.id, locale, numbered=True),
        )
        for e in open_ones
    )
    reminders = all(c["escalation"]["push"] > 1 for c in cases)
    return StaffContent({**base, "cases": cases, "reminders": reminders}, buttons, tuple(tokens))


def _buttons(escalation_id: int, locale: str) -> tuple[tuple[Button, ...], ...]:
    """A single case's buttons: acknowledge; snooze and resolve (each then offers choices)."""
    return (
        (ack_button(escalation_id, locale),),
        (snooze_button(escalation_id, locale), resolve_button(escalation_id, locale)),
    )


def staff_content(
    session: Session,
    row: OutboxMessage,
    staff: Staff,
    now: datetime,
    public_url: str | None,
    secret: str,
    programmes: Mapping[str, Programme],
) -> StaffContent | None:
    """Template variables for an alert or a digest, or None when there is nothing to say."""
    zone = ZoneInfo(staff.timezone)
    base = {
        "locale": staff.locale.value,
        "recipient": {"name": staff.name, "kind": "staff"},
        "now": now.astimezone(zone),
    }
    if row.kind == "alert" and "escalation_ids" in (row.context or {}):
        return _group_content(session, row, staff, now, public_url, secret, programmes, base)
    if row.kind == "alert":
        escalation = session.get(Escalation, int((row.context or {}).get("escalation_id", 0)))
        if not _still_news(escalation, now):
            return None
        assert escalation is not None
        push = int((row.context or {}).get("level", 0)) + 1
        case, token = _case(session, escalation, staff, push, public_url, secret, programmes)
        buttons = _buttons(escalation.id, staff.locale.value)
        return StaffContent({**base, **case}, buttons, (token,))
    if row.kind == "login_link":
        from followup.login_links import link_token

        if row.expires_at is not None and now >= row.expires_at:
            return None
        token = link_token(secret, row)
        url = f"{public_url or 'http://127.0.0.1:8000'}/login/link/{token}"
        return StaffContent({**base, "login_url": url, "minutes": 15}, (), (token,))
    if row.kind == "digest":
        from followup.digest import digest_sections

        sections = digest_sections(session, staff, now, programmes)
        if not sections:
            return None
        return StaffContent({**base, "sections": sections})
    return None
