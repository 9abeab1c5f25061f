"""Every message a programme can send has a template for each channel and locale, and renders.

The cast is fictional and named by role: the volunteer family "Familien Eksempel" (its contact
adult "Frivillig Eksempel"), the parent "Forælder Eksempel", the child "Barn A" and the case lead
"Procesleder Eksempel". The long cast stretches every name to test SMS length.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import pytest
from jinja2 import meta

from scheduler.programme import AudienceName, Programme, load_all
from scheduler.render import TEMPLATES_DIR, available, environment, render, template_files
from scheduler.sms import MAX_SEGMENTS, non_gsm_characters, segments

CPH = ZoneInfo("Europe/Copenhagen")
PROGRAMMES: dict[str, Programme] = load_all()

# Messages the dispatcher sends outside the programme files' touchpoints.
EXTRA_TEMPLATES = {
    "call_announcement": ("sms", "email", "telegram"),
    "sparring_reminder": ("telegram", "email"),
    "waiting_note": ("telegram", "sms", "email"),
}
EXTRA_LOCALES = ("da", "en")

# The context keys the dispatcher provides (scheduler/render.py's contract).
CONTRACT_KEYS = frozenset(
    {
        "locale",
        "programme",
        "recipient",
        "family",
        "child",
        "staff",
        "match",
        "due",
        "reminder",
        "visit_day",
        "session",
        "short_notice",
        "survey_url",
        "wave",
        "call_at",
        "caller",
        "unsubscribe_url",
        "bot_hint",
        "weeks",
        "holiday",
    }
)

SURVEY_URL = "https://venskab.example.org/s/" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3gH5jK7mN9p"
STAFF: dict[str, Any] = {
    "name": "Procesleder Eksempel",
    "phone": "+45 12 34 56 78",
    "email": "procesleder@example.org",
}
CAST: dict[str, Any] = {
    "volunteer": "Frivillig Eksempel",
    "parent": "Forælder Eksempel",
    "family": "Familien Eksempel",
    "child": "Barn A",
    "staff": STAFF,
}
LONG_CAST: dict[str, Any] = {
    "volunteer": "Frivillig Eksempel-Langtnavn",
    "parent": "Forælder Eksempel-Langtnavn",
    "family": "Familien Eksempel-Langtnavnsen",
    "child": "Barn Aa-Langtnavn",
    "staff": {**STAFF, "name": "Procesleder Eksempel-Langtnavn"},
}


def template_uses() -> list[tuple[str, str, str, str]]:
    """(where, template, channel, locale) for every message any programme can send."""
    uses: list[tuple[str, str, str, str]] = []
    for programme in PROGRAMMES.values():
        for tp in programme.touchpoints:
            if tp.audience == AudienceName.STAFF:
                continue
            # Its own channels plus the channels its reminders switch to (None: the same).
            names = [c.value for c in tp.channels]
            names += [r.channel.value for r in tp.reminders if r.channel is not None]
            for channel in dict.fromkeys(names):
                for locale in programme.locales:
                    uses.append((f"{programme.id}/{tp.id}", tp.template_name, channel, locale))
    for template, extra_channels in EXTRA_TEMPLATES.items():
        for channel in extra_channels:
            for locale in EXTRA_LOCALES:
                uses.append(("dispatcher", template, channel, locale))
    return uses


USES = template_uses()
# Each distinct template file set once.
RENDERINGS = sorted({(template, channel, locale) for _, template, channel, locale in USES})
SMS_RENDERINGS = [r for r in RENDERINGS if r[1] == "sms"]
EMAIL_RENDERINGS = [r for r in RENDERINGS if r[1] == "email"]
WITH_REMINDERS = {
    tp.template_name
    for programme in PROGRAMMES.values()
    for tp in programme.touchpoints
    if tp.reminders and tp.audience != AudienceName.STAFF
}


def rid(rendering: tuple[str, str, str]) -> str:
    return "/".join(rendering)


def context(
    programme: Programme | None = None,
    cast: dict[str, Any] | None = None,
    *,
    kind: str = "volunteer_family",
    reminder: int = 0,
    staff: dict[str, Any] | str | None = "full",
    cadence: str = "weekly",
    wave: str | None = "baseline",
    optional: bool = True,
) -> dict[str, Any]:
    """A realistic dispatcher context. ``optional=False`` sets every optional key to None."""
    programme = programme or PROGRAMMES["hjem-til-os"]
    cast = cast or CAST
    if staff == "full":
        staff = dict(cast["staff"])
    elif staff == "no-phone":
        staff = {**cast["staff"], "phone": None, "email": None}
    session_start = datetime(2026, 3, 3, 19, 30, tzinfo=CPH)
    return {
        "locale": "da",
        "programme": {"name": programme.name, "organisation": programme.organisation},
        "recipient": {
            "name": cast["volunteer"] if kind == "volunteer_family" else cast["parent"],
            "kind": kind,
        },
        "family": {"name": cast["family"], "contact_name": cast["volunteer"]},
        "child": {"first_name": cast["child"]},
        "staff": staff,
        "match": {
            "id": 17,
            "start_date": date(2025, 3, 3),
            "end_date": date(2026, 3, 3),
            "visit_weekday": 2,
            "cadence": cadence,
        },
        "due": session_start - timedelta(days=1, hours=1),
        "reminder": reminder,
        "visit_day": None,
        "session": (
            {
                "starts_at": session_start,
                "meeting_link": "https://meet.example.org/sparring-2026-03-03"
                if optional
                else None,
            }
        ),
        "short_notice": optional,
        "survey_url": SURVEY_URL if optional else None,
        "wave": wave,
        "call_at": datetime(2026, 3, 10, 10, 0, tzinfo=CPH) if optional else None,
        # As the dispatcher does: the staff member, or the organisation when there is none.
        "caller": staff["name"] if isinstance(staff, dict) else programme.organisation,
        "unsubscribe_url": "https://venskab.example.org/u/aB3dE5gH7jK9" if optional else None,
        "bot_hint": "Tryk på en af knapperne herunder." if optional else None,
        "holiday": (
            {"kind": "christmas", "first": date(2026, 12, 19), "last": date(2027, 1, 3)}
            if optional
            else None
        ),
    }


def variants(cast: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every combination of the context's options, spread over the three programmes."""
    programmes = list(PROGRAMMES.values())
    combos = itertools.product(
        (0, 1),  # reminder
        ("full", "no-phone", None),  # staff
        ("weekly", "biweekly", "two_three_monthly"),  # cadence
        ("volunteer_family", "contact_person"),  # kind
        ("baseline", "end", "followup", None),  # wave
        (True, False),  # optional keys present
    )
    for index, (reminder, staff, cadence, kind, wave, optional) in enumerate(combos):
        yield context(
            programmes[index % len(programmes)],
            cast,
            kind=kind,
            reminder=reminder,
            staff=staff,
            cadence=cadence,
            wave=wave,
            optional=optional,
        )
    # A sparring session without any session at all.
    yield {**context(cast=cast), "session": None}


def describe(ctx: dict[str, Any]) -> str:
    keys = ("reminder", "wave")
    shown = {k: ctx[k] for k in keys}
    shown["cadence"] = ctx["match"]["cadence"]
    shown["kind"] = ctx["recipient"]["kind"]
    shown["staff"] = None if ctx["staff"] is None else ctx["staff"]["phone"]
    shown["optional"] = ctx["survey_url"] is not None
    shown["programme"] = ctx["programme"]["name"]
    return repr(shown)


@pytest.mark.parametrize(
    ("template", "channel", "locale"),
    [use[1:] for use in USES],
    ids=[f"{use[0]}:{use[2]}.{use[3]}" for use in USES],
)
def test_it_has_a_template_for_every_channel_and_locale_a_touchpoint_can_use(
    template: str, channel: str, locale: str
) -> None:
    missing = [
        str(TEMPLATES_DIR / name)
        for name in template_files(template, channel, locale).values()
        if not (TEMPLATES_DIR / name).is_file()
    ]
    assert not missing, f"missing template files: {missing}"
    assert available(template, channel, locale)


@pytest.mark.parametrize(("template", "channel", "locale"), RENDERINGS, ids=map(rid, RENDERINGS))
def test_it_renders_every_variant_of_the_context(template: str, channel: str, locale: str) -> None:
    problems: list[str] = []
    for ctx in variants(CAST):
        try:
            result = render(template, channel, locale, ctx)
        except jinja2.UndefinedError as exc:
            problems.append(f"{describe(ctx)}: {exc}")
            continue
        # A None or a missing optional value shows as "None", " ." or a double space.
        for part, leaks in (
            (result.body, ("None", "{{", "{%", " .", " ,", "  ")),
            (result.subject or "", ("None", "{{", "{%", " .", " ,", "  ")),
            (result.html or "", ("None", "{{", "{%")),
        ):
            problems.extend(
                f"{describe(ctx)}: {leak!r} in {part!r}" for leak in leaks if leak in part
            )
        if not result.body:
            problems.append(f"{describe(ctx)}: empty body")
        if channel == "telegram" and not 1 <= len(result.body) <= 4096:
            problems.append(f"{describe(ctx)}: Telegram text of {len(result.body)} characters")
        if channel == "email":
            if not (result.subject and result.html) or "\n" in result.subject:
                problems.append(f"{describe(ctx)}: subject {result.subject!r}, html present")
        else:
            assert result.subject is None and result.html is None
    assert not problems, "\n".join(problems[:10])


@pytest.mark.parametrize(
    ("template", "channel", "locale"), SMS_RENDERINGS, ids=map(rid, SMS_RENDERINGS)
)
def test_it_keeps_every_sms_within_two_gsm7_segments_with_long_names(
    template: str, channel: str, locale: str
) -> None:
    worst = 0
    for ctx in variants(LONG_CAST):
        body = render(template, channel, locale, ctx).body
        info = segments(body)
        worst = max(worst, info.units)
        assert info.encoding == "GSM-7", f"{non_gsm_characters(body)} in {body!r}"
        assert info.segments <= MAX_SEGMENTS, (
            f"{info.units} septets ({info.segments} segments) for {describe(ctx)}:\n{body}"
        )
    assert worst > 0


@pytest.mark.parametrize(
    ("template", "channel", "locale"), EMAIL_RENDERINGS, ids=map(rid, EMAIL_RENDERINGS)
)
def test_it_escapes_names_in_the_html_part_only(template: str, channel: str, locale: str) -> None:
    hostile = "<b>Barn & Co</b>"
    escaped = "&lt;b&gt;Barn &amp; Co&lt;/b&gt;"
    cast = {**CAST, "child": hostile, "volunteer": hostile, "parent": hostile}
    for kind in ("volunteer_family", "contact_person"):
        result = render(template, channel, locale, context(cast=cast, kind=kind))
        assert result.html is not None and result.subject is not None
        assert escaped in result.html
        assert "<b>Barn" not in result.html
        assert hostile in result.body
        assert "&amp;" not in result.body and "&amp;" not in result.subject


@pytest.mark.parametrize(("template", "channel", "locale"), RENDERINGS, ids=map(rid, RENDERINGS))
def test_it_uses_only_the_context_keys_the_dispatcher_provides(
    template: str, channel: str, locale: str
) -> None:
    env = environment()
    for name in template_files(template, channel, locale).values():
        source = (TEMPLATES_DIR / name).read_text(encoding="utf-8")
        used = meta.find_undeclared_variables(env.parse(source))
        unknown = used - CONTRACT_KEYS - set(env.globals)
        assert not unknown, f"{name} uses {sorted(unknown)}, which the dispatcher does not provide"


@pytest.mark.parametrize(
    ("template", "channel", "locale"),
    [r for r in RENDERINGS if r[0] in WITH_REMINDERS],
    ids=map(rid, [r for r in RENDERINGS if r[0] in WITH_REMINDERS]),
)
def test_it_words_a_reminder_differently_from_the_first_message(
    template: str, channel: str, locale: str
) -> None:
    word = {"da": "påmindelse", "en": "reminder"}[locale]
    for kind in ("volunteer_family", "contact_person"):
        first = render(template, channel, locale, context(kind=kind, reminder=0))
        again = render(template, channel, locale, context(kind=kind, reminder=1))
        assert first.body != again.body
        assert word not in first.body.lower()
        assert word in again.body.lower() or word in (again.subject or "").lower()


@pytest.mark.parametrize(
    ("locale", "cadence", "expected"),
    [
        ("da", "weekly", "Kom Barn A på besøg i dag?"),
        ("da", "biweekly", "Kom Barn A på besøg i dag?"),
        ("da", "two_three_monthly", "Hvor mange gange har I set Barn A i denne uge?"),
        ("en", "weekly", "Did Barn A visit you today?"),
        ("en", "two_three_monthly", "How many times did you see Barn A this week?"),
    ],
)
def test_it_asks_about_the_visit_according_to_the_cadence(
    locale: str, cadence: str, expected: str
) -> None:
    for channel in ("telegram", "sms"):
        assert expected in render("visit_prompt", channel, locale, context(cadence=cadence)).body


@pytest.mark.parametrize(
    ("locale", "answers"),
    [
        ("da", ["1 = ja", "2 = nej, aflyst", "3 = flyttet"]),
        ("en", ["1 = yes", "2 = no, cancelled", "3 = moved"]),
    ],
)
def test_it_tells_sms_users_how_to_answer_a_visit_prompt(locale: str, answers: list[str]) -> None:
    body = render("visit_prompt", "sms", locale, context()).body
    for answer in answers:
        assert answer in body
    telegram = render("visit_prompt", "telegram", locale, context()).body
    assert "1 = " not in telegram  # the bot adds buttons instead


def test_it_asks_about_last_visit_day_in_a_visit_prompt_reminder() -> None:
    body = render("visit_prompt", "sms", "da", context(reminder=1)).body
    assert body.startswith("Påmindelse: Kom Barn A på besøg i onsdags?")


def test_it_says_the_organisation_no_longer_follows_along_in_the_farewell() -> None:
    ctx = context()
    text = render("farewell_family", "email", "da", ctx)
    # The leaflet's own words ("Red Barnet følger ikke længere med"), not "ude af forløbet",
    # which reads as if the organisation quit.
    assert (
        "Red Barnet følger ikke længere med, og besøgene kan fortsætte helt privat "
        "(hvis alle ønsker det)." in text.body
    )
    assert "Nu er jeres venskabsfamilieforløb i Hjem til Os slut." in text.body
    assert "ude af forløbet" not in text.body
    parent = render("farewell_parent", "sms", "da", context(kind="contact_person"))
    assert "Red Barnet følger ikke længere med." in parent.body


def test_it_gives_the_meeting_link_the_day_before_a_sparring_session() -> None:
    ctx = context()
    for channel in ("telegram", "email"):
        body = render("sparring_reminder", channel, "da", ctx).body
        assert "i morgen, tirsdag den 3. marts" in body
        assert "kl. 19:30" in body
        assert "https://meet.example.org/sparring-2026-03-03" in body
    without_link = render("sparring_reminder", "telegram", "da", context(optional=False)).body
    assert "Linket til mødet sender Procesleder Eksempel inden mødet." in without_link


def test_it_announces_who_calls_and_when() -> None:
    body = render("call_announcement", "sms", "da", context(kind="contact_person")).body
    assert body.startswith(
        "Hej Forælder Eksempel. Procesleder Eksempel fra Red Barnet ringer til dig "
        "tirsdag den 10. marts kl. 10:00"
    )
    assert "besøgene hos Familien Eksempel" in body
    english = render("call_announcement", "email", "en", context(kind="contact_person"))
    assert english.subject == "Red Barnet will call you on Tuesday 10 March at 10:00"


def test_it_does_not_name_the_organisation_twice_when_no_staff_member_calls() -> None:
    ctx = context(kind="contact_person", staff=None)
    assert ctx["caller"] == "Red Barnet"
    body = render("call_announcement", "sms", "da", ctx).body
    assert "Hej Forælder Eksempel. Red Barnet ringer til dig tirsdag den 10. marts" in body
    assert "Passer det ikke, så svar på denne sms." in body


def test_it_invites_to_a_survey_with_the_link() -> None:
    for channel in ("sms", "email"):
        result = render("survey_invitation", channel, "da", context(kind="contact_person"))
        assert SURVEY_URL in result.body
    html = render("survey_invitation", "email", "en", context(kind="contact_person")).html
    assert html is not None and f'href="{SURVEY_URL}"' in html


def test_it_adds_an_unsubscribe_link_only_when_there_is_one() -> None:
    with_link = render("sparring_invite", "email", "da", context())
    assert "https://venskab.example.org/u/aB3dE5gH7jK9" in with_link.body
    assert 'href="https://venskab.example.org/u/aB3dE5gH7jK9"' in (with_link.html or "")
    without = render("sparring_invite", "email", "da", {**context(), "unsubscribe_url": None})
    assert "Afmeld" not in without.body and "Afmeld" not in (without.html or "")
