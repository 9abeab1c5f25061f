"""Validation of the personal contact data we store: phone numbers, emails, names.

Raised errors are :class:`InvalidValue` with a message fit to show the person who typed it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.dk import cpr as dk_cpr

# A Danish CPR number: DDMMYY-SSSS or DDMMYYSSSS. We never store one; free text is redacted.
# The pattern finds candidates; python-stdnum confirms that the digits form a real birth date
# (with the century the seventh digit gives), so most other 10-digit numbers are left alone.
CPR_PATTERN = re.compile(r"(?<!\d)([0-3]\d[01]\d\d\d)[- ]?(\d{4})(?!\d)")


class InvalidValue(ValueError):
    """A value a person entered is not acceptable; the message says why (in English, for
    developers), and ``problem`` names what is wrong for the layers that say it to a person."""

    def __init__(self, message: str, problem: str = "") -> None:
        super().__init__(message)
        self.problem = problem


def normalise_phone(raw: str, region: str = "DK") -> str:
    """Return the number in E.164 (+4512345678) or raise :class:`InvalidValue`."""
    text = (raw or "").strip()
    if not text:
        raise InvalidValue("phone number is empty")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue("not a valid phone number (check the digits and the country code)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    """Return the normalised address or raise :class:`InvalidValue`."""
    text = (raw or "").strip()
    if not text:
        raise InvalidValue("email address is empty")
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidValue(f"not a valid email address: {exc}") from exc


def ascii_digits(text: str) -> bool:
    """``text`` is a whole number in ASCII digits. ``str.isdigit`` alone also says yes to "²"
    and "١٢", which ``int`` refuses or reads unexpectedly: check with this before ``int()``."""
    return text.isascii() and text.isdigit()


def is_control(ch: str) -> bool:
    """A control character (NUL, BEL, ESC, ...) or a lone surrogate: never a letter in any
    script. Tab and newline are not counted: free text may hold them."""
    return ch not in "\t\n" and unicodedata.category(ch) in ("Cc", "Cs")


def has_control(text: str) -> bool:
    return any(is_control(ch) for ch in text or "")


def strip_controls(text: str) -> str:
    """``text`` without control characters (and without lone surrogates); letters, marks and
    symbols of every script are kept."""
    return "".join(ch for ch in text if not is_control(ch))


# OWASP's CSV-injection rule: a cell starting with one of these is read as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object, *, lines: bool = False) -> str:
    """A value made safe for a CSV cell that a spreadsheet will open: control characters
    (tabs and line breaks included) become spaces or go, and a cell that would start a formula
    is prefixed with an apostrophe, which spreadsheets show as text.

    With ``lines``, tabs and line breaks inside the text are kept (a message's own lines, in a
    file that is read back): CSV quotes them, and only at the start could they begin a formula.
    """
    if value is None:
        return ""
    text = str(value)
    if not lines:
        text = "".join(" " if ch in "\t\n\r" else ch for ch in text)
    text = strip_controls(text)
    if text.lstrip().startswith(_FORMULA_START):
        text = "'" + text
    return text


# The days a person means: a match's dates within two years of today (a pause, an end), a start
# date not before 2000, a report's period within the years 2000-2100. A date outside is a typo in
# the year (9999), and would break every page the match is on.
FIRST_YEAR, LAST_YEAR = 2000, 2100
HORIZON = timedelta(days=731)


def within_years(day: date) -> bool:
    """``day`` lies in the years this system plans for (2000-2100)."""
    return FIRST_YEAR <= day.year <= LAST_YEAR


def near_today(day: date, today: date) -> bool:
    """``day`` is at most two years before or after ``today``."""
    return abs(day - today) <= HORIZON


def plausible_start(day: date, today: date) -> bool:
    """A match's start date: not before 2000 and not more than two years after ``today``."""
    return day.year >= FIRST_YEAR and day <= today + HORIZON


CPR_MARKER = {"da": "[CPR-nummer fjernet]", "en": "[CPR number removed]"}


def _is_cpr(found: re.Match[str]) -> bool:
    return bool(dk_cpr.is_valid(found.group(1) + found.group(2)))


def contains_cpr(text: str) -> bool:
    return any(_is_cpr(found) for found in CPR_PATTERN.finditer(text or ""))


def redact_cpr(text: str, locale: str = "da", *, marker: str | None = None) -> str:
    """Replace every CPR number with a marker in the person's language.

    ``marker`` is the text put in its place; the domain layer passes it from the message
    catalogs (``followup.visits.redact``), since this layer reads no catalog. Without it, the
    built-in Danish or English marker.
    """
    if marker is None:
        marker = CPR_MARKER.get(locale, CPR_MARKER["da"])
    return CPR_PATTERN.sub(lambda found: marker if _is_cpr(found) else found.group(0), text)


def check_child_name(raw: str) -> str:
    """A child is stored by first name or pseudonym only: one or two short words, no digits."""
    return _first_name(
        raw,
        "the child's first name or pseudonym",
        "the child's name",
        "the child's first name or a pseudonym",
    )


def check_member_name(raw: str) -> str:
    """A volunteer family's household member: a first name only, like a child's."""
    return _first_name(raw, "the first name", "the first name", "the first name")


def _first_name(raw: str, whose: str, name: str, only: str) -> str:
    text = " ".join((raw or "").split())
    if not text:
        raise InvalidValue(f"{whose} is empty", "empty")
    if has_control(text):
        raise InvalidValue(f"{name} contains a control character (such as NUL or ESC)", "control")
    if contains_cpr(text) or any(ch.isdigit() for ch in text):
        raise InvalidValue(f"{name} must not contain digits (never a CPR number)", "digits")
    if len(text) > 40 or len(text.split()) > 2:
        raise InvalidValue(f"give {only} only (at most two words)", "words")
    return text
