"""A survey's questions: the waves they are asked in, their wording in each language, and how each is
asked and answered by SMS."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from scheduler import i18n, sms
from scheduler.i18n import N_

REQUIRED_LOCALES = ("da", "en")


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
