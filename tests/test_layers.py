"""The structure holds: the clock and the time zone come from the composition root."""

from __future__ import annotations

import re
from pathlib import Path

import grimp

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


def test_no_module_imports_itself_round_a_circle() -> None:
    graph = grimp.build_graph(*BELOW_THE_ROOT, "venskab")
    circles = [sorted(component) for component in _strongly_connected(graph) if len(component) > 1]
    assert circles == []


def _strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm over the package's import graph, lazy imports included."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            found.append(component)

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


# No module over about 400 lines: one that grows past LIMIT is split into cohesive modules.
# PENDING names those still waiting for their split and only shrinks: a module that has come
# under the limit must leave it, and no other may go over.
LIMIT = 420
SIZED = ("store", "scheduler", "followup", "bot", "web", "venskab")
PENDING: set[str] = set()


def _modules_over_the_limit() -> set[str]:
    migrations = ROOT / "store" / "migrations"
    return {
        path.relative_to(ROOT).as_posix()
        for package in SIZED
        for path in (ROOT / package).rglob("*.py")
        if not path.is_relative_to(migrations)
        and len(path.read_text(encoding="utf-8").splitlines()) > LIMIT
    }


def test_no_module_grows_past_the_size_limit() -> None:
    assert sorted(_modules_over_the_limit() - PENDING) == []


def test_a_module_split_below_the_limit_leaves_the_pending_set() -> None:
    assert sorted(PENDING - _modules_over_the_limit()) == []
