"""Survey definitions as data: the schema of ``surveys/*.yaml`` and its loader.

A survey is a list of pages, each a list of questions. A question is a scale (one label per
point, 1-5 by default), a single choice, or free text, with its wording in Danish and English
(other locales may be added). ``waves`` limits a question to some waves (e.g. questions about
the experience only at the end); the others are asked in every wave, which is what lets the
export pair baseline and end answers per match.

A survey may also:

- run as an SMS conversation (``sms_conversation: true``): one question per message, answered
  with a digit. At most :data:`MAX_SMS_QUESTIONS` scale or choice questions per wave, at most
  nine answers each, and every question message must fit in :data:`scheduler.sms.MAX_SEGMENTS`
  GSM-7 segments in every locale;
- live in an external survey tool (``external_url`` with a ``{token}`` placeholder): the personal
  link then records the opening and forwards to that URL.

:func:`load_survey` reports every problem with file, question id and field, like the programme
loader, so that whoever edits the YAML can fix it without reading Python.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from scheduler import i18n, sms
from scheduler.i18n import N_
from store.validation import ascii_digits

SURVEYS_DIR = Path(__file__).resolve().parent.parent / "surveys"
REQUIRED_LOCALES = ("da", "en")
WAVES = ("baseline", "end", "followup")
MAX_SMS_QUESTIONS = 5
# Besides the three waves, a survey may be asked at a moment N months into the match ("3mo",
# "9mo"): the child's voice is asked that way. Moments sort between baseline and end.
MOMENT_WAVE = re.compile(r"[1-9]\d?mo")

Wave = Annotated[str, Field(pattern=r"^(baseline|end|followup|[1-9]\d?mo)$")]


def wave_order(wave: str) -> tuple[int, int]:
    """Baseline, the moments in month order, end, follow-up."""
    if MOMENT_WAVE.fullmatch(wave):
        return (1, int(wave[:-2]))
    return ({"baseline": 0, "end": 2, "followup": 3}.get(wave, 4), 0)


def _localised(value: dict[str, str]) -> dict[str, str]:
    missing = [locale for locale in REQUIRED_LOCALES if not (value.get(locale) or "").strip()]
    if missing:
        raise ValueError(f"needs a text in {' and '.join(missing)} (e.g. da: ..., en: ...)")
    for locale in value:
        if not re.fullmatch(r"[a-z]{2}", locale):
            raise ValueError(f"{locale!r} is not a two-letter language code such as da or en")
    return {locale: text.strip() for locale, text in value.items()}


Localised = Annotated[dict[str, str], AfterValidator(_localised)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(Strict):
    value: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    text: Localised


class Question(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    type: Literal["scale", "choice", "text"]
    text: Localised
    hint: Localised | None = None
    sms: Localised | None = None  # a shorter wording for the SMS conversation
    waves: tuple[Wave, ...] = ()  # empty: asked in every wave
    # scale
    min: int = Field(default=1, ge=0, le=10)
    max: int = Field(default=5, ge=1, le=10)
    labels: dict[str, list[str]] | None = None
    # choice
    options: tuple[Option, ...] = ()
    # text
    max_length: int = Field(default=1000, ge=1, le=5000)

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if self.type == "scale":
            self._check_scale()
        elif self.type == "choice":
            if not 2 <= len(self.options) <= 9:
                raise ValueError("a choice question needs 2 to 9 options")
            values = [o.value for o in self.options]
            if len(set(values)) != len(values):
                raise ValueError("option values must be different from each other")
            if self.labels is not None:
                raise ValueError("labels are for scale questions; a choice has options")
        else:
            if self.labels is not None or self.options:
                raise ValueError("a text question has neither labels nor options")
        if len(set(self.waves)) != len(self.waves):
            raise ValueError("waves: each wave once")
        return self

    def _check_scale(self) -> None:
        points = self.max - self.min + 1
        if points < 2:
            raise ValueError("a scale needs max above min (e.g. min: 1, max: 5)")
        if self.labels is None:
            raise ValueError(f"a scale needs labels: one per point, {points} in da and in en")
        missing = [locale for locale in REQUIRED_LOCALES if locale not in self.labels]
        if missing:
            raise ValueError(f"labels: needs labels in {' and '.join(missing)}")
        for locale, labels in self.labels.items():
            if len(labels) != points or not all(isinstance(x, str) and x.strip() for x in labels):
                raise ValueError(
                    f"labels.{locale}: expected {points} labels (one per point from {self.min} "
                    f"to {self.max}), got {len(labels)}"
                )
        if self.options:
            raise ValueError("options are for choice questions; a scale has labels")

    def asked_in(self, wave: str | None) -> bool:
        return wave is None or not self.waves or wave in self.waves

    def label(self, value: int, locale: str) -> str:
        assert self.labels is not None
        labels = self.labels.get(locale) or self.labels["da"]
        return labels[value - self.min]

    def answers(self, locale: str) -> list[tuple[str, str]]:
        """(stored value, label) for every possible answer of a scale or choice question."""
        if self.type == "scale":
            return [(str(v), self.label(v, locale)) for v in range(self.min, self.max + 1)]
        return [(o.value, tr(o.text, locale)) for o in self.options]

    def parse(self, raw: str | None) -> str | None:
        """The value to store for ``raw`` from a form or an SMS, or None if it does not fit."""
        text = (raw or "").strip()
        if not text:
            return None
        if self.type == "scale":
            if not re.fullmatch(r"\d{1,2}", text) or not self.min <= int(text) <= self.max:
                return None
            return str(int(text))
        if self.type == "choice":
            return text if text in {o.value for o in self.options} else None
        return text[: self.max_length]


class Page(Strict):
    title: Localised | None = None
    questions: tuple[Question, ...] = Field(min_length=1)


class Score(Strict):
    """A scale score over several scale questions, as a questionnaire defines it (e.g. a
    SWEMWBS-style sum of seven items), computed per respondent and wave in the paired export."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    text: Localised
    items: tuple[str, ...] = Field(min_length=2)
    method: Literal["sum", "mean"] = "sum"
    reverse: tuple[str, ...] = ()
    """Items scored the other way round (max + min - answer)."""
    min_answered: int | None = Field(default=None, ge=1)
    """Fewest items answered for a score (default: all). A sum over fewer is prorated."""

    @model_validator(mode="after")
    def _consistent(self) -> Score:
        if len(set(self.items)) != len(self.items):
            raise ValueError(f"score {self.id!r}: each item once")
        if not set(self.reverse) <= set(self.items):
            raise ValueError(f"score {self.id!r}: reverse names items that are not in items")
        if self.min_answered is not None and self.min_answered > len(self.items):
            raise ValueError(f"score {self.id!r}: min_answered is more than the items")
        return self

    def value(self, answers: Mapping[str, str], questions: Mapping[str, Question]) -> str:
        """The score as the export writes it ("" when too few items were answered)."""
        points: list[int] = []
        for item in self.items:
            raw = answers.get(item, "")
            question = questions[item]
            if (
                not ascii_digits(raw.removeprefix("-"))
                or not question.min <= int(raw) <= question.max
            ):
                continue
            answer = int(raw)
            points.append(question.max + question.min - answer if item in self.reverse else answer)
        if len(points) < (self.min_answered or len(self.items)):
            return ""
        mean = sum(points) / len(points)
        if self.method == "mean":
            return f"{mean:.2f}"
        if len(points) == len(self.items):
            return str(sum(points))
        return f"{mean * len(self.items):.1f}"  # prorated over the items left unanswered


class Survey(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    version: int = Field(default=1, ge=1)
    title: Localised
    intro: Localised | None = None
    thanks: Localised | None = None
    sms_conversation: bool = False
    # The child's voice: an adult around the child (the volunteer family or the parent) relays
    # the child's own answers; they are stored as the child's, and never sent to the child.
    child_voice: bool = False
    external_url: str | None = None
    pages: tuple[Page, ...] = Field(min_length=1)
    scores: tuple[Score, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Survey:
        ids = [q.id for q in self.questions]
        for question_id in ids:
            if ids.count(question_id) > 1:
                raise ValueError(f"question id {question_id!r} is used more than once")
        kinds = {q.id: q.type for q in self.questions}
        for score in self.scores:
            for item in score.items:
                if kinds.get(item) != "scale":
                    raise ValueError(f"score {score.id!r}: {item!r} is not a scale question here")
        if self.external_url is not None:
            parts = urlsplit(self.external_url)
            if parts.scheme != "https" or not parts.netloc:
                raise ValueError("external_url: expected an https:// address")
            if self.external_url.count("{token}") != 1:
                raise ValueError("external_url: put {token} once where the personal token goes")
            if self.sms_conversation:
                raise ValueError(
                    "a survey runs either in an external tool or as an SMS conversation"
                )
        if self.sms_conversation:
            self._check_sms()
        return self

    def _check_sms(self) -> None:
        """An SMS conversation: few questions, answered with a digit, each one GSM-7 SMS."""
        for wave in WAVES:
            asked = self.questions_for(wave)
            if len(asked) > MAX_SMS_QUESTIONS:
                raise ValueError(
                    f"an SMS conversation has at most {MAX_SMS_QUESTIONS} questions; the "
                    f"{wave} wave has {len(asked)}"
                )
        for question in self.questions:
            if question.type == "text":
                raise ValueError(
                    f"question {question.id!r}: an SMS conversation is answered with digits, "
                    "so it has no text questions"
                )
            if question.type == "scale" and not (question.min >= 0 and question.max <= 9):
                raise ValueError(f"question {question.id!r}: SMS scales must lie within 0-9")
            for locale in question.text:
                total = max(len(self.questions_for(w)) for w in WAVES)
                body = sms_question(question, locale, total, total)
                info = sms.segments(body)
                if info.encoding != "GSM-7" or info.segments > sms.MAX_SEGMENTS:
                    raise ValueError(
                        f"question {question.id!r}: the {locale} SMS is {info.segments} "
                        f"{info.encoding} segments; shorten the text or give a shorter `sms:`"
                    )

    @property
    def questions(self) -> list[Question]:
        return [q for page in self.pages for q in page.questions]

    def questions_for(self, wave: str | None) -> list[Question]:
        return [q for q in self.questions if q.asked_in(wave)]

    def pages_for(self, wave: str | None) -> list[Page]:
        """The pages as the wave shows them: questions of other waves left out, empty pages too."""
        pages = []
        for page in self.pages:
            asked = tuple(q for q in page.questions if q.asked_in(wave))
            if asked:
                pages.append(
                    page
                    if len(asked) == len(page.questions)
                    else page.model_copy(update={"questions": asked})
                )
        return pages

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    def external_link(self, token: str) -> str | None:
        if self.external_url is None:
            return None
        return self.external_url.replace("{token}", quote(token, safe=""))


def tr(text: dict[str, str] | None, locale: str) -> str:
    """The text in ``locale``, falling back to Danish."""
    if not text:
        return ""
    return text.get(locale) or text["da"]


# -- the SMS conversation's words --------------------------------------------------------------

_SCALE_HINT = N_("Reply with a number from %(low)s (%(low_label)s) to %(high)s (%(high_label)s).")
_CHOICE_HINT = N_("Reply with a number:")


def sms_question(question: Question, locale: str, number: int, total: int) -> str:
    """One question as an SMS: "2/3 How is ...? Reply with a number from 1 (...) to 5 (...)."."""
    try:
        texts = i18n.texts(locale)
    except LookupError:
        texts = i18n.texts("da")
    text = tr(question.sms or question.text, locale)
    if question.type == "scale":
        hint = texts.gettext(
            _SCALE_HINT,
            low=question.min,
            high=question.max,
            low_label=question.label(question.min, locale).lower(),
            high_label=question.label(question.max, locale).lower(),
        )
    else:
        choices = "\n".join(
            f"{i} {label}" for i, (_, label) in enumerate(question.answers(locale), start=1)
        )
        hint = f"{texts.gettext(_CHOICE_HINT)}\n{choices}"
    return sms.normalise(f"{number}/{total} {text}\n{hint}")


def sms_answer(question: Question, digit: str) -> str | None:
    """The stored value for a digit sent by SMS, or None when it does not fit the question."""
    text = digit.strip().rstrip(".")
    if not re.fullmatch(r"\d", text):
        return None
    if question.type == "scale":
        return question.parse(text)
    index = int(text) - 1
    if 0 <= index < len(question.options):
        return question.options[index].value
    return None


def sms_range(question: Question) -> tuple[int, int]:
    if question.type == "scale":
        return question.min, question.max
    return 1, len(question.options)


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
