"""The renderer: strict variables, missing templates, locale-aware dates, tidy text."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import pytest

from scheduler.render import (
    TEMPLATES_DIR,
    Rendered,
    TemplateMissing,
    available,
    environment,
    render,
)

CPH = ZoneInfo("Europe/Copenhagen")
CONTEXT: dict[str, Any] = {
    "programme": {"name": "Hjem til Os", "organisation": "Red Barnet"},
    "recipient": {"name": "Frivillig Eksempel", "kind": "volunteer_family"},
    "child": {"first_name": "Barn A"},
    "when": datetime(2025, 12, 24, 19, 0, tzinfo=CPH),
}


def write(directory: Path, name: str, text: str) -> None:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


_probes = itertools.count()


def render_text(tmp_path: Path, source: str, locale: str = "da", **values: Any) -> str:
    """Render ``source`` as a Telegram text. A fresh name each time: the environment caches."""
    name = f"probe{next(_probes)}"
    write(tmp_path, f"{name}/telegram.{locale}.j2", source)
    return render(name, "telegram", locale, {**CONTEXT, **values}, directory=tmp_path).body


def test_it_raises_on_a_misspelt_variable(tmp_path: Path) -> None:
    write(tmp_path, "typo/sms.da.j2", "Hej {{ recipent.name }}")
    with pytest.raises(jinja2.UndefinedError, match="recipent"):
        render("typo", "sms", "da", CONTEXT, directory=tmp_path)


def test_it_raises_on_a_misspelt_attribute(tmp_path: Path) -> None:
    write(tmp_path, "typo/sms.da.j2", "Kom {{ child.frist_name }} på besøg?")
    with pytest.raises(jinja2.UndefinedError, match="frist_name"):
        render("typo", "sms", "da", CONTEXT, directory=tmp_path)


def test_it_lets_an_optional_value_be_none(tmp_path: Path) -> None:
    source = "Hej{% if staff %} fra {{ staff.name }}{% endif %}."
    assert render_text(tmp_path, source, staff=None) == "Hej."


def test_it_raises_template_missing_naming_the_path() -> None:
    with pytest.raises(TemplateMissing) as caught:
        render("no_such_template", "sms", "da", CONTEXT)
    assert isinstance(caught.value, LookupError)
    assert caught.value.path == TEMPLATES_DIR / "no_such_template" / "sms.da.j2"
    assert str(TEMPLATES_DIR / "no_such_template" / "sms.da.j2") in str(caught.value)


def test_it_raises_template_missing_for_a_missing_email_part(tmp_path: Path) -> None:
    write(tmp_path, "half/email.subject.da.j2", "Emne")
    write(tmp_path, "half/email.da.j2", "Tekst")
    assert not available("half", "email", "da", directory=tmp_path)
    with pytest.raises(TemplateMissing, match=r"half/email\.da\.html\.j2"):
        render("half", "email", "da", CONTEXT, directory=tmp_path)
    write(tmp_path, "half/email.da.html.j2", "<p>Tekst</p>")
    assert available("half", "email", "da", directory=tmp_path)


@pytest.mark.parametrize(
    ("template", "channel", "locale"),
    [("../secrets", "sms", "da"), ("welcome", "fax", "da"), ("welcome", "sms", "../da")],
    ids=["a path as template", "an unknown channel", "a path as locale"],
)
def test_it_rejects_names_that_are_not_template_names(
    template: str, channel: str, locale: str
) -> None:
    assert not available(template, channel, locale)
    with pytest.raises(ValueError):
        render(template, channel, locale, CONTEXT)


DATE_CASES = [
    # label, locale, expression, expected
    ("Danish full date", "da", '{{ date(d, "full") }}', "onsdag den 24. december 2025"),
    ("Danish full date as a filter", "da", '{{ d|date("full") }}', "onsdag den 24. december 2025"),
    ("Danish long date is the default", "da", "{{ d|date }}", "24. december 2025"),
    ("Danish day without the year", "da", '{{ d|date("day") }}', "onsdag den 24. december"),
    ("Danish short date", "da", '{{ d|date("short") }}', "24.12.2025"),
    ("English full date", "en", '{{ d|date("full") }}', "Wednesday, 24 December 2025"),
    ("English day without the year", "en", '{{ d|date("day") }}', "Wednesday 24 December"),
    (
        "a datetime gives its local date",
        "da",
        '{{ when|date("full") }}',
        "onsdag den 24. december 2025",
    ),
    ("a Babel pattern", "da", '{{ d|date("d. MMM") }}', "24. dec."),
]


@pytest.mark.parametrize(
    ("locale", "source", "expected"),
    [case[1:] for case in DATE_CASES],
    ids=[case[0] for case in DATE_CASES],
)
def test_it_formats_dates_for_the_locale(
    tmp_path: Path, locale: str, source: str, expected: str
) -> None:
    assert render_text(tmp_path, source, locale, d=date(2025, 12, 24)) == expected


def test_it_formats_times_as_hours_and_minutes_in_the_recipients_zone(tmp_path: Path) -> None:
    assert render_text(tmp_path, "kl. {{ when|time }}") == "kl. 19:00"
    assert render_text(tmp_path, "at {{ time(when) }}", "en") == "at 19:00"
    assert render_text(tmp_path, "{{ t|time }}", t=time(9, 5)) == "09:05"
    # 23:30 UTC on 31 March is 01:30 the next day in Copenhagen (summer time).
    late = datetime(2026, 3, 31, 23, 30, tzinfo=ZoneInfo("UTC")).astimezone(CPH)
    assert render_text(tmp_path, '{{ d|date("day") }} {{ d|time }}', d=late) == (
        "onsdag den 1. april 01:30"
    )


WEEKDAY_CASES = [
    ("da", 0, "mandag"),
    ("da", 2, "onsdag"),
    ("da", 6, "søndag"),
    ("en", 0, "Monday"),
    ("en", 4, "Friday"),
    ("en", 6, "Sunday"),
]


@pytest.mark.parametrize(("locale", "number", "expected"), WEEKDAY_CASES)
def test_it_names_weekdays_from_monday_as_zero(
    tmp_path: Path, locale: str, number: int, expected: str
) -> None:
    assert render_text(tmp_path, "{{ weekday(n) }}", locale, n=number) == expected
    assert render_text(tmp_path, "{{ n|weekday }}", locale, n=number) == expected


def test_it_refuses_a_weekday_outside_the_week(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="0 \\(Monday\\) to 6"):
        render_text(tmp_path, "{{ weekday(7) }}")


@pytest.mark.parametrize(
    ("locale", "name", "expected"),
    [
        ("da", "Barn A", "Barn As"),
        ("da", "Barn S", "Barn S'"),
        ("en", "Barn A", "Barn A's"),
        ("en", "Barn S", "Barn S'"),
    ],
)
def test_it_forms_the_possessive_of_a_name(
    tmp_path: Path, locale: str, name: str, expected: str
) -> None:
    assert render_text(tmp_path, "{{ possessive(n) }}", locale, n=name) == expected


def test_it_takes_the_locale_from_the_argument_not_the_context(tmp_path: Path) -> None:
    write(tmp_path, "which/sms.en.j2", "{{ weekday(0) }} {{ locale }}")
    values = {**CONTEXT, "locale": "da"}
    assert render("which", "sms", "en", values, directory=tmp_path).body == "Monday en"


def test_it_normalises_sms_bodies_to_gsm7(tmp_path: Path) -> None:
    source = "“Kom {{ child.first_name }} på besøg?”\xa0Svar 1 – ja…"
    write(tmp_path, "quotes/sms.da.j2", source)
    write(tmp_path, "quotes/telegram.da.j2", source)
    sms = render("quotes", "sms", "da", CONTEXT, directory=tmp_path)
    telegram = render("quotes", "telegram", "da", CONTEXT, directory=tmp_path)
    assert sms.body == '"Kom Barn A på besøg?" Svar 1 - ja...'
    assert telegram.body == "“Kom Barn A på besøg?”\xa0Svar 1 – ja…"


def test_it_trims_the_text_and_collapses_blank_lines(tmp_path: Path) -> None:
    source = "\n\n  Hej   \n\n\n\n{% if false %}x{% endif %}\n\n\nTak\n\n"
    assert render_text(tmp_path, source) == "Hej\n\nTak"


def test_it_escapes_html_only_in_html_templates(tmp_path: Path) -> None:
    write(tmp_path, "mail/email.subject.da.j2", "Til\n{{ child.first_name }}")
    write(tmp_path, "mail/email.da.j2", "Hej {{ child.first_name }}")
    write(tmp_path, "mail/email.da.html.j2", "<p>Hej {{ child.first_name }}</p>")
    values = {**CONTEXT, "child": {"first_name": "<b>Barn & Co</b>"}}
    result = render("mail", "email", "da", values, directory=tmp_path)
    assert result == Rendered(
        body="Hej <b>Barn & Co</b>",
        subject="Til <b>Barn & Co</b>",
        html="<p>Hej &lt;b&gt;Barn &amp; Co&lt;/b&gt;</p>",
    )


def test_it_keeps_non_email_channels_free_of_subject_and_html(tmp_path: Path) -> None:
    write(tmp_path, "plain/voice.en.j2", "Hello from {{ programme.organisation }}.")
    result = render("plain", "voice", "en", CONTEXT, directory=tmp_path)
    assert result == Rendered(body="Hello from Red Barnet.")


def test_it_builds_the_environment_once() -> None:
    env = environment()
    assert environment() is env
    assert env.undefined is jinja2.StrictUndefined
    assert {"date", "time", "weekday", "possessive"} <= set(env.filters) & set(env.globals)
