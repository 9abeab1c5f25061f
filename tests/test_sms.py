"""SMS encoding: GSM-7 normalisation and segment counting (what a message costs)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.sms import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SegmentInfo,
    is_gsm7,
    non_gsm_characters,
    normalise,
    segments,
)

SEGMENT_CASES = [
    # label, text, encoding, segments, units
    ("empty", "", "GSM-7", 0, 0),
    ("one GSM character", "a", "GSM-7", 1, 1),
    ("160 GSM characters fit one segment", "a" * 160, "GSM-7", 1, 160),
    ("161 GSM characters need two segments", "a" * 161, "GSM-7", 2, 161),
    ("306 GSM characters fit two segments", "a" * 306, "GSM-7", 2, 306),
    ("307 GSM characters need three segments", "a" * 307, "GSM-7", 3, 307),
    ("Danish æøå stay GSM-7", "Hej æøå ÆØÅ, kom på besøg!" * 5, "GSM-7", 1, 130),
    ("the euro sign counts as two septets", "€" * 80, "GSM-7", 1, 160),
    ("81 euro signs need two segments", "€" * 81, "GSM-7", 2, 162),
    ("the extension table counts double", "^{}\\[~]|", "GSM-7", 1, 16),
    ("an escape pair is not split across segments", "a" * 152 + "€" + "a" * 152, "GSM-7", 3, 306),
    ("70 UCS-2 characters fit one segment", "ę" * 70, "UCS-2", 1, 70),
    ("71 UCS-2 characters need two segments", "ę" * 71, "UCS-2", 2, 71),
    ("134 UCS-2 characters fit two segments", "ę" * 134, "UCS-2", 2, 134),
    ("135 UCS-2 characters need three segments", "ę" * 135, "UCS-2", 3, 135),
    ("a curly quote forces UCS-2", "Hej ”Barn A”", "UCS-2", 1, 12),
    ("a non-breaking space forces UCS-2", "kl.\xa019", "UCS-2", 1, 6),
    ("an emoji counts as two UTF-16 units", "Tak 🙂", "UCS-2", 1, 6),
    ("35 emoji fill one segment", "🙂" * 35, "UCS-2", 1, 70),
    ("36 emoji need two segments", "🙂" * 36, "UCS-2", 2, 72),
    ("a surrogate pair is not split across segments", "ę" * 66 + "🙂" + "ę" * 66, "UCS-2", 3, 134),
]


@pytest.mark.parametrize(
    ("text", "encoding", "count", "units"),
    [case[1:] for case in SEGMENT_CASES],
    ids=[case[0] for case in SEGMENT_CASES],
)
def test_it_counts_segments_and_units(text: str, encoding: str, count: int, units: int) -> None:
    assert segments(text) == SegmentInfo(encoding, count, units)  # type: ignore[arg-type]


NORMALISE_CASES = [
    # label, text, expected
    ("curly double quotes", "“Hej”", '"Hej"'),
    ("curly single quotes", "Barn A’s ‘dag’", "Barn A's 'dag'"),
    ("low-9 quotes and guillemets", "„Hej“ «ja» ‹nej›", '"Hej" "ja" \'nej\''),
    ("en and em dashes", "10–12 — ja", "10-12 - ja"),
    ("ellipsis", "Vent…", "Vent..."),
    ("non-breaking space", "kl.\xa019", "kl. 19"),
    ("narrow no-break and thin spaces", "10\u202f000\u2009kr", "10 000 kr"),
    ("invisible characters are dropped", "ven\u00adskabs\u200bfamilie\ufeff", "venskabsfamilie"),
    ("a tab becomes a space", "a\tb", "a b"),
    ("bullets become dashes", "• ja", "- ja"),
    ("Danish letters are kept", "æøå ÆØÅ", "æøå ÆØÅ"),
    ("accented letters in GSM-7 are kept", "é É Ä ö ü Ñ à", "é É Ä ö ü Ñ à"),
    ("accented letters outside GSM-7 are folded", "façade naïve Łódź", "facade naive Lodz"),
    ("a decomposed å is composed", "a\u030a", "å"),
    ("ligatures are expanded", "ﬁne", "fine"),
    ("Windows line ends become newlines", "a\r\nb", "a\nb"),
    ("the euro sign is kept", "50 €", "50 €"),
    ("emoji are kept", "Tak 🙂", "Tak 🙂"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [case[1:] for case in NORMALISE_CASES],
    ids=[case[0] for case in NORMALISE_CASES],
)
def test_it_normalises_typography_to_gsm7(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_it_turns_a_curly_quoted_danish_text_into_one_gsm7_segment() -> None:
    text = "Hej. Kom “Barn A” på besøg i dag?\xa0Svar 1 = ja – 2 = aflyst…"
    assert segments(text).encoding == "UCS-2"
    assert normalise(text) == 'Hej. Kom "Barn A" på besøg i dag? Svar 1 = ja - 2 = aflyst...'
    assert segments(normalise(text)) == SegmentInfo("GSM-7", 1, 61)


def test_it_names_the_characters_that_force_ucs2() -> None:
    assert non_gsm_characters("“Hej” æøå 🙂 ”") == ("“", "”", "🙂")
    assert non_gsm_characters("Hej æøå €") == ()


# Without "\r": a Windows line end is the one GSM-7 sequence that normalise tidies.
GSM_TEXT = st.text(alphabet=sorted((GSM7_BASIC | GSM7_EXTENSION) - {"\r"}))
TYPOGRAPHIC = sorted(GSM7_BASIC | GSM7_EXTENSION) + list("‘’“”„«»–—…•\xa0\u202f\u2009\u00ad")


@given(GSM_TEXT)
def test_it_leaves_gsm7_text_alone(text: str) -> None:
    assert normalise(text) == text


@given(st.text(alphabet=TYPOGRAPHIC))
def test_it_makes_typographic_text_gsm7(text: str) -> None:
    assert is_gsm7(normalise(text))
    assert segments(normalise(text)).encoding == "GSM-7"


@pytest.mark.parametrize(
    "apostrophe", ["\u02bc", "\u02bb", "\u02b9", "\u02bd", "\u02c8", "\u02ca", "\uff07", "\u2019"]
)
def test_every_apostrophe_smart_encoding_knows_goes_as_gsm7(apostrophe: str) -> None:
    text = f"Hej, vi ringer i morgen. Det er Barn A{apostrophe}s kontaktperson."
    assert segments(text).encoding == "UCS-2"  # twice the price, were it sent as it is
    assert normalise(text) == "Hej, vi ringer i morgen. Det er Barn A's kontaktperson."
    assert segments(normalise(text)).encoding == "GSM-7"


@pytest.mark.parametrize("quote", ["\u02ba", "\u02ee", "\u301d", "\u301e", "\uff02", "\u275d"])
def test_every_double_quote_smart_encoding_knows_goes_as_gsm7(quote: str) -> None:
    assert normalise(f"{quote}Tak{quote}") == '"Tak"'
