"""Callback data: compact, versioned, and never trusted.

Every button carries ``v1|<action>|<fields>``, at most 64 bytes (Telegram's limit). The data
only *names* things (a match, a visit day, a session); the handler looks them up again and
re-checks that the chat pressing the button owns them. Anything that does not parse exactly is
treated like a button that has expired.

=======  =====================================  ==========================================
action   fields                                 meaning
=======  =====================================  ==========================================
``v``    match, yyyymmdd, y|c|m                 the visit happened / was cancelled / moved
``vn``   match, yyyymmdd, 0-4                   "2-3 times a month": how many times (4 = 4+)
``cb``   match, yyyymmdd, cf|vf|il|ot           who cancelled
``mv``   match, yyyymmdd, yyyymmdd              the visit moved to that day
``ck``   match, d<yyyymmdd>|t<minutes>, 1-5     check-in mood after a visit / at a time
``wo``   match                                  "I'm worried about something"
``x``    match                                  "No thanks": leave the open question
``rs``   match, session, y|m|n                  sparring RSVP
``st``   match, y|n                             confirm or withdraw /stop
``ph``   match, yyyymmdd                        pause for the school holiday starting that day
``hq``   match, yyyymmdd, y|n                   visits go on in that school holiday / pause
``pk``   match, ci|pl|nx|pa|st|wo|gr            which match a command is about
``mo``   match, moment, y|n                     send or drop a previewed greeting to the parent
``lg``   da|en                                  language
``ack``  escalation                             staff acknowledge an alert
``sn``   escalation                             staff snooze an alert: offer how long
``sd``   escalation, 1|3|7|14                   snooze it that many days
``rv``   escalation                             staff resolve an alert: offer the outcomes
``ro``   escalation, outcome                    resolve it with that outcome
``rn``   escalation                             no note for the resolved case
``bk``   escalation                             back to the case's buttons
``cv``   match, <n>mo, 0-9, 0-5                 the child's voice at a moment: question n
                                                (1-based; 0 with 0 = start) answered 1-5
=======  =====================================  ==========================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from scheduler.channels.base import CALLBACK_DATA_MAX_BYTES

VERSION = "v1"
_ID = r"([1-9][0-9]{0,9})"
# Ids are within the database's integer range (PostgreSQL's): a forged, larger one is
# malformed, never a query that fails.
MAX_ID = 2**31 - 1
_DAY = r"(\d{8})"
_PATTERNS: dict[str, re.Pattern[str]] = {
    "v": re.compile(rf"{_ID}\|{_DAY}\|([ycm])"),
    "vn": re.compile(rf"{_ID}\|{_DAY}\|([0-4])"),
    "cb": re.compile(rf"{_ID}\|{_DAY}\|(cf|vf|il|ot)"),
    "mv": re.compile(rf"{_ID}\|{_DAY}\|{_DAY}"),
    "ck": re.compile(rf"{_ID}\|(d\d{{8}}|t[0-9a-z]{{1,8}})\|([1-5])"),
    "wo": re.compile(_ID),
    "x": re.compile(_ID),
    "rs": re.compile(rf"{_ID}\|{_ID}\|([ymn])"),
    "st": re.compile(rf"{_ID}\|([yn])"),
    "ph": re.compile(rf"{_ID}\|{_DAY}"),
    "hq": re.compile(rf"{_ID}\|{_DAY}\|([yn])"),
    "pk": re.compile(rf"{_ID}\|(ci|pl|nx|pa|st|wo|gr)"),
    "mo": re.compile(rf"{_ID}\|{_ID}\|([yn])"),
    "lg": re.compile(r"(da|en)"),
    "ack": re.compile(_ID),
    "sn": re.compile(_ID),
    "sd": re.compile(rf"{_ID}\|(1|3|7|14)"),
    "rv": re.compile(_ID),
    "ro": re.compile(rf"{_ID}\|(handled|reported|referred|no_action|match_ended)"),
    "rn": re.compile(_ID),
    "bk": re.compile(_ID),
    "cv": re.compile(rf"{_ID}\|([1-9]\d?mo)\|([0-9])\|([0-5])"),
}
# The staff's buttons on a case; their first field is an escalation id.
STAFF_ACTIONS = frozenset({"ack", "sn", "sd", "rv", "ro", "rn", "bk"})
# Actions whose first field is a match id (all but language and the staff's).
_NO_MATCH = {"lg", *STAFF_ACTIONS}


@dataclass(frozen=True)
class Callback:
    action: str
    match_id: int | None
    fields: tuple[str, ...]  # the fields after the match id (or all fields when there is none)


def make(action: str, *fields: object) -> str:
    """Build callback data; raises ValueError if the pattern or the 64-byte limit is broken."""
    data = "|".join([VERSION, action, *(str(f) for f in fields)])
    if len(data.encode()) > CALLBACK_DATA_MAX_BYTES or parse(data) is None:
        raise ValueError(f"not valid callback data: {action!r}")
    return data


def parse(data: object) -> Callback | None:
    """The callback, or None for anything malformed, foreign, or of an unknown version."""
    if not isinstance(data, str) or len(data.encode("utf-8", "replace")) > CALLBACK_DATA_MAX_BYTES:
        return None
    version, _, rest = data.partition("|")
    action, _, body = rest.partition("|")
    pattern = _PATTERNS.get(action)
    if version != VERSION or pattern is None:
        return None
    found = pattern.fullmatch(body)
    if found is None:
        return None
    groups = found.groups()
    if any(g.isascii() and g.isdigit() and int(g) > MAX_ID for g in groups):
        return None
    if action in _NO_MATCH:
        return Callback(action, None, groups)
    return Callback(action, int(groups[0]), groups[1:])


def day_code(day: date) -> str:
    return day.strftime("%Y%m%d")


def parse_day(code: str) -> date | None:
    try:
        return datetime.strptime(code, "%Y%m%d").date()
    except ValueError:
        return None


def moment_code(moment: datetime) -> str:
    """A moment to the minute, in base 36 (8 characters last until the year 7000)."""
    minutes = int(moment.timestamp() // 60)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        minutes, rest = divmod(minutes, 36)
        out = digits[rest] + out
        if minutes == 0:
            return out


def parse_moment(code: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(code, 36) * 60, UTC)
    except (ValueError, OverflowError, OSError):
        return None
