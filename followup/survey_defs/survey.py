"""A survey: its pages, its scores, its waves, and whether it runs by SMS or in an external tool."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from urllib.parse import quote, urlsplit

from pydantic import Field, model_validator

from followup.survey_defs.questions import Localised, Question, Strict, sms_question
from scheduler import sms
from store.validation import ascii_digits

WAVES = ("baseline", "end", "followup")
MAX_SMS_QUESTIONS = 5


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
