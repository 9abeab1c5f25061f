"""Idempotency keys: one per message that must never go out twice.

Keys are stored data: their formats never change, or a database planned before would get
every message twice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

# -- idempotency keys ---------------------------------------------------------------------------


def key_for_touchpoint(
    match_id: int, touchpoint_id: str, occurrence: str, audience: str, recipient_id: int
) -> str:
    """A planned message: match, touchpoint, occurrence (``:r1``, ``:announce``), recipient."""
    return touchpoint_keys(match_id, audience, recipient_id)(touchpoint_id, occurrence)


def touchpoint_keys(match_id: int, audience: str, recipient_id: int) -> Callable[[str, str], str]:
    """:func:`key_for_touchpoint` for one match and recipient, as a function of touchpoint and
    occurrence: for the planner's hot loop (a key per row), which builds the fixed parts once."""
    head, tail = f"m{match_id}:", f":{audience[0]}{recipient_id}"

    def key(touchpoint_id: str, occurrence: str) -> str:
        return f"{head}{touchpoint_id}:{occurrence}{tail}"

    return key


def key_for_fallback(key: str, channel: str) -> str:
    """The same message again on another channel."""
    return f"{key}:fb-{channel}"[:200]


def original_key(key: str) -> str:
    """The key of the message a fallback (or a fallback's fallback) stands in for."""
    return key.split(":fb-", 1)[0]


def fallbacks_in(key: str) -> int:
    return key.count(":fb-")


def key_for_sparring_reminder(session_id: int, family_id: int) -> str:
    return f"{sparring_reminder_prefix(session_id)}v{family_id}"


def sparring_reminder_prefix(session_id: int) -> str:
    """What every reminder key of one sparring session starts with."""
    return f"sparring:s{session_id}:reminder:"


def family_of_sparring_reminder(key: str) -> int:
    return int(key.rsplit(":v", 1)[1])


def key_for_waiting_note(party: str, since: date, number: int) -> str:
    """The ``number``th note to a party on the waiting list (``f12``: volunteer family 12;
    ``r3c7``: referral 3's contact person 7) in the spell of waiting that began on ``since``."""
    return f"wait:{party}:{since.isoformat()}:{number}"


def key_for_call_back(outbox_id: int) -> str:
    """The call task an automated call asks for (unanswered, or "please call me"): one per call."""
    return f"voice:{outbox_id}"


def key_for_digest(staff_id: int, day: date, channel: str) -> str:
    return f"digest:{staff_id}:{day.isoformat()}:{channel}"


def key_for_login_link(staff_id: int, nonce: str) -> str:
    return f"login:{staff_id}:{nonce}"


def key_for_moment(moment_id: int, contact_id: int) -> str:
    """A volunteer family's moment (greeting, photo) to one contact person."""
    return f"moment:{moment_id}:c{contact_id}"


def key_for_alert(escalation_id: int, level: int, staff_id: int, channel: str) -> str:
    return f"esc{escalation_id}:l{level}:s{staff_id}:{channel}"


def key_for_alert_group(
    escalation_ids: Sequence[int], staff_id: int, channel: str, reminder: int = 0
) -> str:
    """The key of one message about several cases (at most ten ids: under 200 characters); a
    group of reminders (``reminder`` > 0) has its own."""
    again = f":r{reminder}" if reminder else ""
    return f"grp{'-'.join(str(i) for i in escalation_ids)}{again}:s{staff_id}:{channel}"


def alert_group_occurrence(escalation_ids: Sequence[int]) -> str:
    return f"g{escalation_ids[0]}+{len(escalation_ids) - 1}"


def alert_occurrence(escalation_id: int, level: int) -> str:
    """An alert row's occurrence key (found again by :func:`cancel_pending_alerts`)."""
    return f"{escalation_id}:{level}"
