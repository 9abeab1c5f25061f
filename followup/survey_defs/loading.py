"""Loading ``surveys/*.yaml``: every problem reported with file, question id and field."""

from __future__ import annotations

from contextlib import suppress
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from followup.survey_defs.survey import Survey

SURVEYS_DIR = Path(__file__).resolve().parents[2] / "surveys"


# -- loading -----------------------------------------------------------------------------------


class SurveyDefinitionError(ValueError):
    """A survey file is malformed. ``problems`` lists one line per problem."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(f"{self.path}: {p}" for p in problems))


def _describe(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic location into "page 2, question 'parent_talk', field 'labels'"."""
    parts: list[str] = []
    items = list(loc)
    if len(items) >= 2 and items[0] == "pages" and isinstance(items[1], int):
        page_index = items[1]
        parts.append(f"page {page_index + 1}")
        items = items[2:]
        if len(items) >= 2 and items[0] == "questions" and isinstance(items[1], int):
            question_id = None
            with suppress(KeyError, IndexError, TypeError, AttributeError):
                question_id = raw["pages"][page_index]["questions"][items[1]].get("id")
            parts.append(
                f"question {question_id!r}" if question_id else f"question #{items[1] + 1}"
            )
            items = items[2:]
    fields = [str(i) for i in items if not (isinstance(i, str) and (i[:1].isupper() or "[" in i))]
    if fields:
        parts.append("field " + repr(".".join(fields)))
    return ", ".join(parts) if parts else "survey"


def parse_survey(raw: Any, path: Path | str = "<survey>") -> Survey:
    """Validate already-parsed YAML. Raises :class:`SurveyDefinitionError`."""
    if not isinstance(raw, dict):
        raise SurveyDefinitionError(
            path, ["expected a mapping with id, title and pages at the top"]
        )
    try:
        return Survey.model_validate(raw)
    except ValidationError as exc:
        problems = []
        errors = exc.errors()
        deeper = [tuple(e["loc"]) for e in errors]
        for error in errors:
            loc = tuple(error["loc"])
            if error["type"] == "too_short" and any(
                d[: len(loc)] == loc and d != loc for d in deeper
            ):
                continue  # a list "too short" only because its broken items were left out
            where = _describe(raw, tuple(error["loc"]))
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field (check the spelling)"
            elif error["type"] == "string_type" and isinstance(error.get("input"), bool):
                message = "expected a text; put quotes around yes, no, on and off"
            problems.append(f"{where}: {message}")
        raise SurveyDefinitionError(path, sorted(set(problems), key=problems.index)) from None


def load_survey(path: Path | str) -> Survey:
    """Read and validate one survey file. Raises :class:`SurveyDefinitionError`."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SurveyDefinitionError(path, [f"cannot read the file ({exc.strerror})"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise SurveyDefinitionError(
            path, [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]
        ) from exc
    survey = parse_survey(raw, path)
    if survey.id != path.stem:
        raise SurveyDefinitionError(
            path, [f"id {survey.id!r} must match the file name {path.stem!r}"]
        )
    return survey


def load_surveys(directory: Path | str | None = None) -> dict[str, Survey]:
    """Every ``*.yaml`` survey in ``directory`` (default :data:`SURVEYS_DIR`), by id."""
    root = Path(directory) if directory is not None else SURVEYS_DIR
    surveys: dict[str, Survey] = {}
    problems: list[str] = []
    for path in sorted(root.glob("*.yaml")):
        try:
            survey = load_survey(path)
        except SurveyDefinitionError as exc:
            problems.extend(str(exc).splitlines())
            continue
        surveys[survey.id] = survey
    if problems:
        raise SurveyDefinitionError(root, problems)
    return surveys


@lru_cache(maxsize=4)
def default_surveys(directory: str | None = None) -> dict[str, Survey]:
    """:func:`load_surveys`, read once per process (the files change only with a deploy)."""
    return load_surveys(directory)
