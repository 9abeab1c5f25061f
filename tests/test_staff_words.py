"""Every word a staff page picks by a stored value (a role, a status, an outcome) has a message
in every catalog, and the Danish pages read Danish."""

from __future__ import annotations

import pytest

from scheduler import i18n
from store.models import (
    Audience,
    EndedBy,
    EscalationStatus,
    MatchStatus,
    OutboxStatus,
    StaffRole,
    TaskStatus,
    VisitStatus,
)
from web.staff_render import NAV
from web.staff_words import labels, word

MADE = {
    "role_": [r.value for r in StaffRole],
    "status_": [s.value for s in MatchStatus],
    "status_msg_": [s.value for s in OutboxStatus],
    "outcome_": [
        *(s.value for s in TaskStatus),
        *(s.value for s in VisitStatus),
        *(s.value for s in OutboxStatus),
        *(s.value for s in EscalationStatus),
    ],
    "ended_by_": [e.value for e in EndedBy],
    "strip_": ["visited", "missed", "none", "paused", "before"],
    "health_": ["red", "amber", "green"],
    "survey_": ["sent", "opened", "completed"],
    "log_": ["visit", "message_out", "message_in", "call", "note"],
    "state_": ["done", "missed", "upcoming"],
    "recipient_": [a.value for a in Audience if a != Audience.STAFF],
    "wave_": ["baseline", "end", "followup"],
    "sort_": ["health", "child", "last_visit", "contact"],
    "mode_": ["sandbox", "live"],
    "contact_": ["family", "parent", "call", "visit", "meeting"],
    "reports_scope_": [r.value for r in StaffRole],
}
WANTED = sorted(
    {prefix + value for prefix, values in MADE.items() for value in values}
    | {key for _path, key, _role in NAV}
)


@pytest.mark.parametrize("code", [lang.code for lang in i18n.languages()])
def test_every_stored_value_a_page_shows_has_a_word(code: str) -> None:
    words = labels(i18n.texts(code))
    missing = [key for key in WANTED if not words.get(key)]
    assert missing == [], (code, missing)


def test_the_danish_words_are_danish() -> None:
    da, en = labels(i18n.texts("da")), labels(i18n.texts("en"))
    same = sorted(key for key in da if da[key] == en[key])
    # Only words that are the same in both languages.
    assert set(same) <= {
        "nav_sparring",
        "nav_import",
        "role_admin",
        "log_note",
        "sparring_title",
        "channel_sms",
        "channel_telegram",
    }, same
    assert da["status_msg_cancelled"] == "annulleret" and da["outcome_cancelled"] == "aflyst"
    assert en["role_procesleder"] == "case lead" and da["role_procesleder"] == "procesleder"


def test_a_forged_key_gives_no_text_and_values_are_filled_in() -> None:
    assert word("da", "no_such_key") == ""
    assert word("da", "done_snooze", until="fredag") == "Sagen er udsat til fredag."
    assert word("en", "done_snooze", until="Friday") == "The case is snoozed until Friday."
