"""The structure holds: the clock and the time zone come from the composition root."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BELOW_THE_ROOT = ("store", "scheduler", "followup", "bot", "web")

WALL_CLOCK = re.compile(
    r"datetime\.now\(|datetime\.utcnow\(|date\.today\(|time\.time\(|datetime\.today\("
)
ZONE_LITERAL = re.compile(r"[\"']Europe/Copenhagen[\"']")


def _sources() -> list[Path]:
    return sorted(
        path
        for package in BELOW_THE_ROOT
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def test_nothing_below_the_composition_root_reads_the_wall_clock() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if WALL_CLOCK.search(line)
    ]
    assert found == []


def test_the_time_zone_is_configured_once_not_written_into_the_code() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ZONE_LITERAL.search(line)
    ]
    assert found == []
