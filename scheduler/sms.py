"""SMS text: keep it GSM-7 and count what it costs.

An SMS is billed per segment. A text made only of GSM 03.38 characters is sent as GSM-7: 160
septets in one segment, 153 per segment once it is split (the rest of each segment carries the
concatenation header). One character outside that alphabet, such as a curly quote from a word
processor or a non-breaking space, switches the whole message to UCS-2: 70 UTF-16 code units in
one segment, 67 per segment when split. The same Danish text then costs two or three times as
much. Danish æ, ø and å are part of GSM-7 and are kept as they are.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

# GSM 03.38 basic character set (the escape character 0x1B is left out: it is not text).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each of these is sent as an escape plus one septet, so it counts twice.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
# Both tables: a text made only of these is GSM-7 (a set check runs in C, not a loop per character).
_GSM7 = GSM7_BASIC | GSM7_EXTENSION

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67

_CRLF = re.compile(r"\r+\n")

# The longest body the channels should send: DESIGN.md keeps SMS at or under two segments.
MAX_SEGMENTS = 2

# Characters that commonly arrive from word processors, browsers and translation tools, mapped
# to GSM-7 text that reads the same. Anything not listed here is tried through Unicode
# compatibility decomposition (é stays, ç becomes c, ﬁ becomes fi) before it is left alone.
_REPLACEMENTS: dict[str, str] = {
    # quotes and apostrophes, as Twilio's Smart Encoding maps them (modifier letters included:
    # U+02BC is the apostrophe of Ukrainian and of many keyboards' "smart" layouts)
    "\u02ba": '"',
    "\u02ee": '"',
    "\u275d": '"',
    "\u275e": '"',
    "\u301d": '"',
    "\u301e": '"',
    "\uff02": '"',
    "\u02bb": "'",
    "\u02c8": "'",
    "\u02bc": "'",
    "\u02bd": "'",
    "\u02b9": "'",
    "\uff07": "'",
    "\u02ca": "'",
    "‘": "'",
    "’": "'",
    "‚": "'",
    "‛": "'",
    "′": "'",
    "´": "'",
    "`": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "‟": '"',
    "″": '"',
    "«": '"',
    "»": '"',
    "‹": "'",
    "›": "'",
    # dashes, hyphens and minus signs
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "―": "-",
    "−": "-",
    # punctuation and symbols
    "…": "...",
    "•": "-",
    "·": "-",
    "×": "x",
    "→": "->",
    "←": "<-",
    "⇒": "=>",
    "≤": "<=",
    "≥": ">=",
    "©": "(c)",
    "®": "(R)",
    "™": "TM",
    "½": "1/2",
    "¼": "1/4",
    "¾": "3/4",
    # letters without a useful decomposition
    "ð": "d",
    "Ð": "D",
    "þ": "th",
    "Þ": "Th",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ı": "i",
    "œ": "oe",
    "Œ": "OE",
    # white space: tabs and the unusual spaces become a plain space
    "\t": " ",
    "\xa0": " ",
    "\u2000": " ",
    "\u2001": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2004": " ",
    "\u2005": " ",
    "\u2006": " ",
    "\u2007": " ",
    "\u2008": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u205f": " ",
    "\u3000": " ",
    "\u2028": "\n",
    "\u2029": "\n",
    # invisible characters are dropped (the zero-width joiner is kept: emoji sequences need it)
    "\u00ad": "",
    "\u200b": "",
    "\u2060": "",
    "\ufeff": "",
}


@dataclass(frozen=True)
class SegmentInfo:
    """How a text will be sent: its encoding, billed segments and length in encoding units.

    ``units`` are septets for GSM-7 (extension characters count 2) and UTF-16 code units for
    UCS-2 (an emoji outside the Basic Multilingual Plane counts 2).
    """

    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    units: int


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM-7 basic set or extension table."""
    return _GSM7.issuperset(text)


def non_gsm_characters(text: str) -> tuple[str, ...]:
    """The distinct characters that force ``text`` into UCS-2, in order of appearance."""
    found: dict[str, None] = {}
    for char in text:
        if char not in GSM7_BASIC and char not in GSM7_EXTENSION:
            found.setdefault(char, None)
    return tuple(found)


def _gsm_equivalent(char: str) -> str | None:
    """A GSM-7 spelling of one non-GSM character, or None to keep the character."""
    if char in _REPLACEMENTS:
        return _REPLACEMENTS[char]
    decomposed = unicodedata.normalize("NFKD", char)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    if base and base != char and is_gsm7(base):
        return base
    return None


def normalise(text: str) -> str:
    """Rewrite typographic characters so that ``text`` stays GSM-7 where it reasonably can.

    Curly quotes, dashes, the ellipsis, unusual spaces and accented letters outside GSM-7 are
    replaced; Windows line ends become ``\\n``. Characters with no sensible GSM-7 spelling
    (emoji, non-Latin scripts) are kept: the message is then sent as UCS-2, which is correct,
    only dearer. Danish æøåÆØÅ are GSM-7 and are never touched.
    """
    # Text pasted from macOS or a PDF may spell "å" as "a" plus a combining ring: compose first.
    text = unicodedata.normalize("NFC", text)
    if _GSM7.issuperset(text):  # the usual case: nothing to rewrite
        return _CRLF.sub("\n", text)
    out: list[str] = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENSION:
            out.append(char)
            continue
        replacement = _gsm_equivalent(char)
        out.append(char if replacement is None else replacement)
    # After the mapping, so that a "\r" before a mapped line separator is caught too.
    return _CRLF.sub("\n", "".join(out))


def _count(units: list[int], single: int, multi: int) -> int:
    """Segments needed for characters of the given unit widths.

    A character is never split across two segments: an extension character's escape pair and
    a UTF-16 surrogate pair stay together, as phones and SMS centres require. Near a segment
    boundary this can cost one more segment than a plain ``ceil(total / multi)``; counting this
    way never under-estimates the bill.
    """
    total = sum(units)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for width in units:
        if used + width > multi:
            segments += 1
            used = 0
        used += width
    return segments


def segments(text: str) -> SegmentInfo:
    """Encoding, segment count and length of ``text`` as it would be sent, without normalising.

    An empty text has 0 segments (there is nothing to send).
    """
    if is_gsm7(text):
        if GSM7_EXTENSION.isdisjoint(text):
            # Every character one septet: no character can straddle a segment boundary.
            total = len(text)
            count = 0 if total == 0 else 1 if total <= GSM7_SINGLE else -(-total // GSM7_MULTI)
            return SegmentInfo("GSM-7", count, total)
        widths = [2 if char in GSM7_EXTENSION else 1 for char in text]
        return SegmentInfo("GSM-7", _count(widths, GSM7_SINGLE, GSM7_MULTI), sum(widths))
    widths = [2 if ord(char) > 0xFFFF else 1 for char in text]
    return SegmentInfo("UCS-2", _count(widths, UCS2_SINGLE, UCS2_MULTI), sum(widths))
