"""What is wrong with a YAML file, in one line the operator who edits it can act on: where, and
what (in English, like pydantic's messages the other problems of a programme come from)."""

from __future__ import annotations

import yaml


def yaml_problem(text: str, exc: yaml.YAMLError) -> str:
    """ "line 3, column 5: not valid YAML (...)": the mark of a parse error, or the position of
    a character YAML refuses (NUL, ...), and the first line of what YAML said."""
    at = getattr(exc, "problem_mark", None) or getattr(exc, "position", None)
    line: int | None = getattr(at, "line", None)
    column: int = getattr(at, "column", 0)
    if isinstance(at, int):
        line, column = text.count("\n", 0, at), at - text.rfind("\n", 0, at) - 1
    where = f"line {line + 1}, column {column + 1}: " if line is not None else ""
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [""])[0]
    return f"{where}not valid YAML ({' '.join(problem.split())})"


def not_utf8(exc: UnicodeDecodeError) -> str:
    return f"byte {exc.start + 1}: not UTF-8 text (save the file as UTF-8)"
