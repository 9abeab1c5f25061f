"""Every word a staff page shows exists in Danish and in English: the literal keys in the
templates, and the keys made from stored values (roles, statuses, outcomes)."""

from __future__ import annotations

import re
from pathlib import Path

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
from web.staff_words import WORDS

TEMPLATES = Path(__file__).parent.parent / "web" / "templates" / "staff"


def test_danish_and_english_have_the_same_words() -> None:
    assert set(WORDS["da"]) == set(WORDS["en"])
    same = [k for k in WORDS["da"] if WORDS["da"][k] == WORDS["en"][k] and len(k) > 0]
    # Only words that are the same in both languages (names, "Region", "Sparring").
    assert set(same) <= {
        "nav_sparring",
        "nav_import",
        "role_procesleder",
        "role_admin",
        "sparring_title",
        "region",
        "task_note",
        "log_note",
        "status",
        "match",
    }, same


def test_every_key_a_template_asks_for_exists() -> None:
    wanted: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        wanted |= set(re.findall(r"\bt\('([a-z_]+)'[,)]", template.read_text()))
    made = {
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
    }
    wanted |= {prefix + value for prefix, values in made.items() for value in values}
    for locale in ("da", "en"):
        missing = sorted(wanted - set(WORDS[locale]))
        assert missing == [], (locale, missing)
