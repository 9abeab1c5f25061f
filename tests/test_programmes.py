"""Programme files: the shipped ones load, and a malformed one is reported precisely."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from scheduler.programme import PROGRAMMES_DIR, ProgrammeError, load_all, load_programme
from venskab.cli import main

GOOD = """
id: mini
name: Mini
duration: 1y
touchpoints:
  - id: welcome
    kind: message
    audience: volunteer_family
    channels: [telegram]
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_it_loads_the_three_shipped_programmes() -> None:
    programmes = load_all(PROGRAMMES_DIR)
    assert set(programmes) == {"hjem-til-os", "mentorbarn", "familien-i-fokus"}
    assert programmes["mentorbarn"].duration is None  # open-ended
    assert programmes["familien-i-fokus"].cadence.value == "biweekly"


BAD_CASES = [
    (
        "a bad offset names the touchpoint and the field",
        GOOD.replace("    channels: [telegram]", "    channels: [telegram]\n    offset: 4 months"),
        "touchpoint 'welcome', field 'offset': '4 months' is not a duration",
    ),
    (
        "an unknown kind",
        GOOD.replace("kind: message", "kind: letter"),
        "touchpoint 'welcome', field 'kind': Input should be",
    ),
    (
        "a typo in a field name",
        GOOD.replace("audience:", "audiense:"),
        "touchpoint 'welcome', field 'audiense': unknown field",
    ),
    (
        "an anchor on a touchpoint that does not exist",
        GOOD.replace("    kind: message", "    kind: message\n    anchor: touchpoint:nope"),
        "touchpoint 'welcome', field 'anchor': no touchpoint with id 'nope'",
    ),
    (
        "a time of day that is not HH:MM",
        GOOD.replace("    kind: message", '    kind: message\n    at: "25:00"'),
        "touchpoint 'welcome', field 'at': expected a time of day as HH:MM",
    ),
    (
        "a message without channels",
        GOOD.replace("    channels: [telegram]\n", ""),
        "touchpoint 'welcome'",
    ),
    (
        "escalation steps out of order (each is counted from the first push)",
        GOOD
        + "escalation:\n  policy:\n    urgent:\n      - {after: 0h, to: staff}\n"
        + "      - {after: 4h, to: coordinators}\n      - {after: 2h, to: coordinators}\n",
        "urgent: each step is counted from the first push, so they must be in order (2h comes "
        "after 4h)",
    ),
    ("not YAML at all", "id: [unclosed", "not valid YAML"),
    ("a list instead of a mapping", "- 1\n- 2\n", "expected a mapping"),
]


@pytest.mark.parametrize(("label", "text", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_it_reports_a_malformed_programme_precisely(
    tmp_path: Path, label: str, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProgrammeError) as caught:
        load_programme(path)
    assert str(path) in str(caught.value), label
    assert expected in str(caught.value), label


def test_programme_check_exits_2_and_names_the_culprit(tmp_path: Path) -> None:
    good = write(tmp_path, GOOD, "good.yaml")
    bad = write(
        tmp_path, GOOD.replace("audience: volunteer_family", "audience: neighbours"), "bad.yaml"
    )
    result = CliRunner().invoke(main, ["programme", "check", str(good), str(bad)])
    assert result.exit_code == 2
    assert "good.yaml: ok" in result.output
    assert "bad.yaml: touchpoint 'welcome', field 'audience'" in result.output


def test_programme_check_accepts_the_shipped_files() -> None:
    files = sorted(str(p) for p in PROGRAMMES_DIR.glob("*.yaml"))
    result = CliRunner().invoke(main, ["programme", "check", *files])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok") == 3
