"""Every message template, in every language with a catalog and every channel it has, reads as
that language: no English words in Danish (and the reverse), no "None", nothing unrendered.

The templates are rendered with realistic data: the three programmes, a volunteer family, a
parent, a staff member with a Danish phone number, every case rule for the staff alerts, a
digest with every section. A text that falls back to its English id because a catalog lacks
it, a fragment left in a template outside ``_()`` or a ``%(name)s`` a translation forgot shows
here as the reader would see it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from followup.escalations import NEXT_STEPS, RULES, UNKNOWN_NEXT_STEP, UNKNOWN_RULE, rule_title
from scheduler import i18n
from scheduler.programme import load_all
from scheduler.render import CHANNELS, TEMPLATES_DIR, available, render

CPH = ZoneInfo("Europe/Copenhagen")
PROGRAMMES = load_all()
LANGUAGES = [lang.code for lang in i18n.languages()]

# Words that give away the other language. Matched as whole words, case-insensitively, except
# the greetings, which are matched as written at the start of a sentence.
ENGLISH = (r"\bthe\b", r"\byour\b", r"\byou\b", r"\bplease\b", r"\bvisit\b", r"\band\b", r"\bHi ")
ENGLISH_CASED = (r"\bThank",)
DANISH = (r"\bog\b", r"\bjeres\b", r"\bbesøg", r"\bHej ", r"\btak\b", r"venlig")
UNRENDERED = ("None", "{{", "{%", "%(", "%)s")

# Names and places are data, not text: they may hold any word ("Familien Holm" is Danish in an
# English message). Each is replaced before the words are checked.
CAST = {
    "volunteer": "Mette Holm",
    "parent": "Sara Jensen",
    "family": "Familien Holm",
    "child": "Ali",
}
STAFF = {"name": "Lene Bak", "phone": "+4520123401", "email": "lene.bak@example.org"}
BOT_HINT = {
    "da": "Tryk på en af knapperne herunder.",
    "en": "Tap one of the buttons below.",
    "ar": "اضغطوا على أحد الأزرار أدناه.",
}


def message_templates() -> list[tuple[str, str]]:
    """(template, channel) for every message template in templates/."""
    found = []
    for folder in sorted(p for p in TEMPLATES_DIR.iterdir() if p.is_dir()):
        for channel in CHANNELS:
            if available(folder.name, channel, "en"):
                found.append((folder.name, channel))
    return found


TEMPLATES = message_templates()
PERSON = [
    t
    for t in TEMPLATES
    if t[0] not in {"daily_digest", "escalation_alert", "escalation_group", "login_link"}
]


def person_contexts(locale: str) -> Iterator[dict[str, Any]]:
    """A volunteer family and a parent, in each programme, with and without the optional parts."""
    session_start = datetime(2026, 3, 3, 19, 30, tzinfo=CPH)
    for index, programme in enumerate(PROGRAMMES.values()):
        for kind in ("volunteer_family", "contact_person"):
            for full in (True, False):
                staff: dict[str, Any] | None = dict(STAFF) if full else None
                if not full and index == 0:
                    staff = {**STAFF, "phone": None, "email": None}
                yield {
                    "locale": locale,
                    "programme": {
                        "name": programme.name,
                        "organisation": programme.organisation,
                        "staff_title": programme.staff_title.value,
                    },
                    "recipient": {
                        "name": CAST["volunteer"] if kind == "volunteer_family" else CAST["parent"],
                        "kind": kind,
                    },
                    "family": {"name": CAST["family"], "contact_name": CAST["volunteer"]},
                    "child": {"first_name": CAST["child"]},
                    "staff": staff,
                    "match": {
                        "id": 7,
                        "start_date": date(2025, 3, 3),
                        "end_date": date(2026, 3, 3),
                        "visit_weekday": 2,
                        "cadence": ("weekly", "biweekly", "two_three_monthly")[index % 3],
                    },
                    "due": session_start - timedelta(days=1, hours=1),
                    "reminder": int(not full),
                    "visit_day": date(2026, 3, 2) if full else None,
                    "session": {
                        "starts_at": session_start,
                        "meeting_link": "https://meet.example.org/s1" if full else None,
                    }
                    if full or index
                    else None,
                    "short_notice": full,
                    "survey_url": "https://venskab.example.org/s/abc" if full else None,
                    "wave": ("baseline", "end", "followup")[index % 3],
                    "call_at": datetime(2026, 3, 10, 10, 0, tzinfo=CPH) if full else None,
                    "caller": staff["name"] if staff else programme.organisation,
                    "unsubscribe_url": "https://venskab.example.org/u/abc" if full else None,
                    "bot_hint": BOT_HINT.get(locale, BOT_HINT["en"]) if full else None,
                    # The school holiday a holiday question is about (none: no calendar entry).
                    "holiday": {
                        "kind": ("winter", "autumn", "christmas")[index % 3],
                        "first": date(2026, 10, 12),
                        "last": date(2026, 10, 18),
                    }
                    if full
                    else None,
                    # A family's greeting (the family's own words: no language of ours).
                    "moment": {
                        "text": "⚽ 🍪 Ali",
                        "excerpt": "⚽ 🍪 Ali",
                        "photo": full,
                        "url": "https://venskab.example.org/m/abc" if full or index else None,
                        "cut": full,
                    },
                }


def _escalation(rule: str, index: int, urgent: bool) -> dict[str, Any]:
    since = datetime(2026, 3, 2, 9, 15, tzinfo=CPH)
    return {
        "id": 40 + index,
        "rule": rule,
        "urgent": urgent,
        "since": since,
        "push": 1 + index % 3,
        "last_push": index % 4 == 3,
        "title": RULES.get(rule, UNKNOWN_RULE),
        "next_step": NEXT_STEPS.get(rule, UNKNOWN_NEXT_STEP),
        "count": 1 + index % 3,
        "latest_at": since + timedelta(hours=5),
        "text": "Det gik fint i dag." if rule.startswith("message") or rule == "worry" else None,
        "media": index % 2,
        "visits": [date(2026, 2, 23), date(2026, 3, 2)] if index % 2 else [],
        "prompts": 3 if index % 2 else 0,
        "first_prompt": date(2026, 2, 16) if index % 2 else None,
        "days": 24 if index % 2 else None,
        "last_visit": date(2026, 2, 6) if index % 2 else None,
        "moods": [2, 1] if index % 2 else [],
        "task": "Opfølgende opkald" if index % 2 else None,
        "due": date(2026, 2, 27) if index % 2 else None,
        "channel": "sms",
        "audience": ("contact_person", "volunteer_family", None)[index % 3],
        "behind": [{"party": "volunteer_family", "due": date(2026, 2, 20)}]
        + ([{"party": "contact_person", "due": date(2026, 2, 25)}] if index % 2 else []),
        "child": CAST["child"] if index % 2 else None,
    }


def staff_contexts(template: str, locale: str) -> Iterator[dict[str, Any]]:
    base = {
        "locale": locale,
        "recipient": {"name": STAFF["name"], "kind": "staff"},
        "now": datetime(2026, 3, 3, 7, 30, tzinfo=CPH),
    }
    match = {"id": 7, "child": CAST["child"], "family": CAST["family"], "programme": "Hjem til Os"}
    if template == "login_link":
        for minutes in (1, 15):
            yield {**base, "login_url": "https://venskab.example.org/login/abc", "minutes": minutes}
        return
    if template == "daily_digest":
        lines = [
            f"#{i} {rule_title(rule, locale)} – {CAST['child']}" for i, rule in enumerate(RULES)
        ]
        yield {
            **base,
            "sections": {
                "tasks": lines[:2],
                "escalations": lines,
                "missed_visits": lines[:1],
                "surveys": lines[:1],
                "sparring": lines[:1],
            },
        }
        return
    for index, rule in enumerate([*RULES, "a_rule_not_known"]):
        for with_match in (True, False):
            case = {
                "escalation": _escalation(rule, index, urgent=index % 5 == 0),
                "match": match if with_match else None,
                "ack_url": f"https://venskab.example.org/ack/{index}",
            }
            yield {**base, **case}
            if template == "escalation_group":
                for reminders in (False, True):
                    cases = [case, {**case, "match": None}]
                    yield {**base, "cases": cases, "reminders": reminders}


def _words_left(text: str) -> str:
    for name in (*CAST.values(), STAFF["name"], *(p.name for p in PROGRAMMES.values())):
        text = text.replace(name, "·")
    return text


def _leaks(text: str, locale: str) -> list[str]:
    found = [bad for bad in UNRENDERED if bad in text]
    plain = _words_left(text)
    if locale == i18n.SOURCE_LANGUAGE:
        found += [w for w in DANISH if re.search(w, plain, re.IGNORECASE)]
    else:
        found += [w for w in ENGLISH if re.search(w, plain, re.IGNORECASE)]
        found += [w for w in ENGLISH_CASED if re.search(w, plain)]
    return found


def _check(template: str, channel: str, locale: str, contexts: Iterator[dict[str, Any]]) -> None:
    problems = []
    count = 0
    for ctx in contexts:
        result = render(template, channel, locale, ctx)
        count += 1
        for part in (result.body, result.subject or "", result.html or ""):
            for leak in _leaks(part, locale):
                problems.append(f"{leak!r} in {part!r}")
    assert count > 0
    assert not problems, f"{template}/{channel} in {locale}:\n" + "\n".join(problems[:5])


@pytest.mark.parametrize("locale", LANGUAGES)
@pytest.mark.parametrize(("template", "channel"), PERSON, ids=["/".join(t) for t in PERSON])
def test_a_message_to_a_family_or_parent_reads_in_its_own_language(
    template: str, channel: str, locale: str
) -> None:
    _check(template, channel, locale, person_contexts(locale))


STAFF_TEMPLATES = [t for t in TEMPLATES if t not in PERSON]


@pytest.mark.parametrize("locale", LANGUAGES)
@pytest.mark.parametrize(
    ("template", "channel"), STAFF_TEMPLATES, ids=["/".join(t) for t in STAFF_TEMPLATES]
)
def test_a_message_to_staff_reads_in_their_language_for_every_case_rule(
    template: str, channel: str, locale: str
) -> None:
    _check(template, channel, locale, staff_contexts(template, locale))


def test_it_finds_every_message_template_and_channel() -> None:
    assert ("visit_prompt", "sms") in TEMPLATES
    assert ("escalation_alert", "email") in TEMPLATES
    assert ("voice_checkin", "voice") in TEMPLATES
    assert len(TEMPLATES) >= 30
    # No template is kept per language any more: one file per channel serves every language.
    assert not [
        p for p in TEMPLATES_DIR.rglob("*.j2") if re.search(r"\.[a-z]{2}(\.html)?\.j2$", p.name)
    ]


def test_the_word_lists_catch_a_leak() -> None:
    assert _leaks("Hej Mette. Thank you for the visit", "da")
    assert _leaks("Hi Mette. Tak for besøget og hilsen", "en")
    assert _leaks("Kære None", "da") == ["None"]
    assert not _leaks("Hej Mette Holm. Familien Holm kommer på besøg.", "da")
    assert not _leaks("Hi Mette Holm. Familien Holm will visit you.", "en")


def test_a_danish_message_shows_a_danish_phone_number_the_way_people_write_it() -> None:
    ctx = next(person_contexts("da"))
    body = render("welcome", "sms", "da", ctx).body
    assert "20 12 34 01" in body
    assert "+4520123401" not in body


@pytest.mark.parametrize(
    ("slug", "family_word", "parent_word"),
    [
        ("hjem-til-os", "jeres kontaktperson i Red Barnet", "din kontaktperson i Red Barnet"),
        ("mentorbarn", "jeres procesleder", "din procesleder"),
        ("familien-i-fokus", "jeres aktivitetsleder", "din aktivitetsleder"),
    ],
)
def test_a_message_names_the_staff_member_in_the_programmes_own_words(
    slug: str, family_word: str, parent_word: str
) -> None:
    programme = PROGRAMMES[slug]
    ctx = next(person_contexts("da"))
    ctx["programme"] = {
        "name": programme.name,
        "organisation": programme.organisation,
        "staff_title": programme.staff_title.value,
    }
    welcome = render("welcome", "email", "da", ctx).body
    assert f"Lene Bak er {family_word}" in welcome
    parent = {**ctx, "recipient": {"name": CAST["parent"], "kind": "contact_person"}}
    farewell = render("farewell_parent", "email", "da", parent).body
    assert f"kontakt {parent_word}, Lene Bak" in farewell
    if slug != "mentorbarn":
        assert "procesleder" not in welcome + farewell


def test_the_html_part_of_an_email_says_its_language_and_direction() -> None:
    ctx = next(person_contexts("da"))
    html = render("welcome", "email", "da", ctx).html or ""
    assert '<html lang="da" dir="ltr">' in html


# Words people type that the code reads (answer keywords, weekday names in a CSV file, the GSM
# alphabet, holiday names in the calendar): input, not text anyone reads from us.
READ_NOT_WRITTEN = {
    "followup/family_sms.py": {"måske"},
    "followup/replies.py": {"hjælp"},
    "followup/import_values.py": {
        "lørdag",
        "søndag",
        "ø",
        "a weekday: monday..sunday, mandag..søndag or 0-6",
    },
    "followup/import_rows.py": {"ansøgt"},  # a waiting list status as Danish staff write it
    # Stand-ins that size an organisation's own SMS text (venskab texts check), never sent.
    "followup/wording.py": {"jeres kontaktperson i Red Barnet"},
    "scheduler/sms.py": None,  # the GSM-7 alphabet
    "scheduler/working_days.py": {"Nytårsaftensdag"},
}
# Tables keyed by language whose values are codes, not words (Babel locales, Twilio voices).
LANGUAGE_CODES = {"followup/yearplan.py", "scheduler/render.py", "scheduler/channels/voice.py"}
_DANISH_TEXT = re.compile(r"[æøåÆØÅ]|\b(og|jeres|Hej|Tak|venlig|besøg\w*)\b")


def _literals(path: Any) -> Iterator[tuple[int, str]]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if {"da", "en"} <= keys:
                yield node.lineno, "a table with a text per language"
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and _DANISH_TEXT.search(node.value)
        ):
            yield node.lineno, node.value


def test_the_domain_layer_and_the_scheduler_keep_no_text_of_their_own() -> None:
    """Words a person reads are message ids (English) read through the catalogs: no Danish
    sentence and no per-language table in followup/ or scheduler/."""
    root = TEMPLATES_DIR.parent
    problems = []
    for folder in ("followup", "scheduler"):
        for path in sorted((root / folder).rglob("*.py")):
            name = path.relative_to(root).as_posix()
            allowed = READ_NOT_WRITTEN.get(name, set())
            if allowed is None:
                continue
            for line, text in _literals(path):
                if text == "a table with a text per language" and name in LANGUAGE_CODES:
                    continue
                if text not in allowed:
                    problems.append(f"{name}:{line}: {text[:70]!r}")
    assert not problems, "text outside the catalogs:\n" + "\n".join(problems)
